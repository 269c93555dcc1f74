package org.omnibiote.finetune;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.encode.SequenceTag;
import org.omnibiote.ingest.DocumentTokenizer;

/**
 * The ProNAB protein-nucleic acid binding measurements as the original repository ships them
 * ({@code pronab_no_mutations.json}: per protein accession its {@code Sequence} and {@code binding
 * data}, rows {@code [nucleic acid, "DNA"|"RNA"|..., Kd (M), dG (kcal/mol), ...]}), as paired
 * inputs {@code <protein>P<EOS><DNA|RNA>N<EOS>}. As the original: rows with Kd or dG equal to 0 are
 * dropped, the target is dG or log10(Kd). Unlike it, rows whose type is neither DNA nor RNA are
 * dropped (the original tagged them {@code <DNA>}), and so are rows without a nucleic acid
 * sequence; an input longer than the maximum length loses the end of its protein, never the nucleic
 * acid (the original cut the row's end, which for a long protein removed the nucleic acid
 * altogether). The group of a row is its protein sequence (two accessions with one sequence are one
 * protein).
 */
public final class ProNabTask {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The value predicted. */
  public enum Target {
    /** The binding free energy dG (kcal/mol), the original's default. */
    DG,
    /** log10 of the dissociation constant Kd (M). */
    KD;

    public static Target parse(String flag) {
      return switch (flag.toLowerCase(Locale.ROOT)) {
        case "dg", "deltag", "g0" -> DG;
        case "kd", "log10kd" -> KD;
        default -> throw new UserError("--target: '" + flag + "' is neither dG nor Kd");
      };
    }
  }

  /** The measurements kept, and how many rows were dropped for each reason. */
  public record Data(
      List<Example> examples, int droppedZero, int droppedType, int droppedEmpty, int truncated) {}

  private ProNabTask() {}

  public static Data read(Path file, DocumentTokenizer tokens, Target target, int maxLength)
      throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new UserError("--task " + file + ": no such file");
    }
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      throw new UserError(
          file + ":" + e.getLocation().getLineNr() + ": not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new UserError(file + ": expected a JSON object of proteins by accession");
    }
    TaskTokens.checkTag(tokens, SequenceTag.PROTEIN);
    TaskTokens.checkTag(tokens, SequenceTag.DNA);
    TaskTokens.checkTag(tokens, SequenceTag.RNA);
    List<Example> out = new ArrayList<>();
    int zero = 0;
    int type = 0;
    int empty = 0;
    int truncated = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = e.getKey();
      String where = file + ": protein " + key;
      JsonNode p = e.getValue();
      String protein = p.path("Sequence").asText("").strip().toUpperCase(Locale.ROOT);
      if (protein.isEmpty()) {
        throw new UserError(where + ": no \"Sequence\"");
      }
      JsonNode rows = p.path("binding data");
      if (!rows.isArray()) {
        throw new UserError(where + ": no \"binding data\" list");
      }
      int[] proteinIds = null;
      for (int i = 0; i < rows.size(); i++) {
        JsonNode row = rows.get(i);
        String at = where + ", binding data row " + (i + 1);
        if (!row.isArray() || row.size() < 4) {
          throw new UserError(at + ": expected [nucleic acid, type, Kd, dG, ...]");
        }
        String na = row.get(0).asText("").strip().toUpperCase(Locale.ROOT);
        String kind = row.get(1).asText("");
        if (!row.get(2).isNumber() || !row.get(3).isNumber()) {
          throw new UserError(
              at + ": Kd and dG must be numbers, got " + row.get(2) + ", " + row.get(3));
        }
        double kd = row.get(2).asDouble();
        double dg = row.get(3).asDouble();
        if (kd == 0 || dg == 0) {
          zero++;
          continue;
        }
        if (!kind.equals("DNA") && !kind.equals("RNA")) {
          type++;
          continue;
        }
        if (na.isEmpty()) {
          empty++; // a few rows of the real file have no sequence
          continue;
        }
        if (target == Target.KD && kd < 0) {
          throw new UserError(at + ": negative Kd " + kd);
        }
        if (proteinIds == null) {
          proteinIds = TaskTokens.document(tokens, SequenceTag.PROTEIN, protein, where);
        }
        int[] naIds = TaskTokens.document(tokens, "<" + kind + ">", na, at);
        int[] ids = pair(proteinIds, naIds, maxLength);
        if (ids.length < proteinIds.length + naIds.length) {
          truncated++;
        }
        double label = target == Target.DG ? dg : Math.log10(kd);
        out.add(new Example(key + "#" + (i + 1), protein, ids, label));
      }
    }
    if (out.isEmpty()) {
      throw new UserError(file + ": no usable measurements (DNA or RNA, Kd and dG not 0)");
    }
    return new Data(out, zero, type, empty, truncated);
  }

  /**
   * The protein's ids then the nucleic acid's; when longer than {@code maxLength}, the protein is
   * cut (its tag and EOS kept) so that the nucleic acid stays whole, as far as it can.
   */
  static int[] pair(int[] protein, int[] na, int maxLength) {
    if (protein.length + na.length <= maxLength) {
      int[] ids = Arrays.copyOf(protein, protein.length + na.length);
      System.arraycopy(na, 0, ids, protein.length, na.length);
      return ids;
    }
    int naKeep = Math.min(na.length, maxLength - 3);
    int proteinKeep = Math.max(3, maxLength - naKeep);
    naKeep = maxLength - proteinKeep;
    int[] ids = new int[maxLength];
    System.arraycopy(protein, 0, ids, 0, proteinKeep - 1);
    ids[proteinKeep - 1] = protein[protein.length - 1]; // its EOS
    System.arraycopy(na, 0, ids, proteinKeep, naKeep);
    return ids;
  }
}
