package org.omnibiote.finetune;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.omnibiote.UserError;
import org.omnibiote.encode.SequenceTag;
import org.omnibiote.ingest.DocumentTokenizer;

/**
 * A task in the GUE layout (DNABERT-2's benchmark, also used for protein tasks): a folder with
 * {@code train.csv}, {@code dev.csv} and {@code test.csv}, each a header {@code sequence,label} and
 * one row per example. A sequence becomes {@code <tag>SEQUENCE<EOS>} as {@code encode} makes it
 * (upper case, the banned {@code ▁} removed; the tag given, else {@code <DNA>}/{@code <RNA>} for
 * nucleotide letters and {@code <protein>} otherwise). Any bad row is a {@link UserError} naming
 * its file and line.
 */
public final class GueTask {
  public static final List<String> FILES = List.of("train.csv", "dev.csv", "test.csv");

  /** The three splits, in file order. */
  public record Splits(List<Example> train, List<Example> dev, List<Example> test) {}

  private GueTask() {}

  /**
   * Reads the folder {@code dir}: {@code fixedTag} for every sequence (null: chosen per sequence),
   * inputs longer than {@code maxLength} tokens keep their first ones.
   */
  public static Splits read(Path dir, DocumentTokenizer tokens, String fixedTag, int maxLength)
      throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new UserError(
          "--task " + dir + ": no such folder (a GUE task folder holds " + FILES + ")");
    }
    List<List<Example>> out = new ArrayList<>();
    boolean[] checked = new boolean[3];
    for (String name : FILES) {
      Path f = dir.resolve(name);
      if (!Files.isRegularFile(f)) {
        throw new UserError(
            "--task " + dir + ": no " + name + " (a GUE task folder holds " + FILES + ")");
      }
      out.add(readCsv(f, tokens, fixedTag, maxLength, checked));
    }
    return new Splits(out.get(0), out.get(1), out.get(2));
  }

  /** Classification when every label of every split is a whole number >= 0. */
  public static TaskKind inferKind(Splits s) {
    for (List<Example> l : List.of(s.train(), s.dev(), s.test())) {
      for (Example e : l) {
        if (e.label() < 0 || e.label() != Math.rint(e.label()) || e.label() > 1_000_000) {
          return TaskKind.REGRESSION;
        }
      }
    }
    return TaskKind.CLASSIFICATION;
  }

  static List<Example> readCsv(
      Path f, DocumentTokenizer tokens, String fixedTag, int maxLength, boolean[] checked)
      throws IOException {
    List<Example> out = new ArrayList<>();
    String name = f.getFileName().toString();
    try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
      String header = r.readLine();
      if (header == null) {
        throw new UserError(f + ": empty file; expected a header 'sequence,label' and rows");
      }
      List<String> columns =
          Arrays.stream(stripBom(header).split(",", -1))
              .map(c -> c.strip().toLowerCase(Locale.ROOT))
              .toList();
      if (!columns.equals(List.of("sequence", "label"))) {
        throw new UserError(f + ":1: the header is '" + header + "'; expected 'sequence,label'");
      }
      int line = 1;
      for (String row; (row = r.readLine()) != null; ) {
        line++;
        if (row.isBlank()) {
          continue;
        }
        String[] cells = row.split(",", -1);
        if (cells.length != 2) {
          throw new UserError(
              f + ":" + line + ": " + cells.length + " fields; expected 2 (sequence,label)");
        }
        String sequence = cells[0].strip().toUpperCase(Locale.ROOT);
        if (sequence.isEmpty()) {
          throw new UserError(f + ":" + line + ": empty sequence");
        }
        for (int i = 0; i < sequence.length(); i++) {
          char c = sequence.charAt(i);
          if (c < 'A' || c > 'Z') {
            if (c != '-' && c != '.' && c != '*') {
              throw new UserError(
                  f
                      + ":"
                      + line
                      + ": the sequence has '"
                      + c
                      + "' at position "
                      + (i + 1)
                      + "; expected letters");
            }
          }
        }
        double label;
        try {
          label = Double.parseDouble(cells[1].strip());
        } catch (NumberFormatException e) {
          throw new UserError(
              f + ":" + line + ": label '" + cells[1].strip() + "' is not a number");
        }
        if (!Double.isFinite(label)) {
          throw new UserError(f + ":" + line + ": label '" + cells[1].strip() + "' is not finite");
        }
        String tag = fixedTag != null ? fixedTag : SequenceTag.of(sequence);
        checkTag(tokens, tag, checked);
        int[] ids = TaskTokens.document(tokens, tag, sequence, f + ":" + line);
        if (ids.length > maxLength) {
          ids = Arrays.copyOf(ids, maxLength);
        }
        out.add(new Example(name + ":" + line, name + ":" + line, ids, label));
      }
    }
    if (out.isEmpty()) {
      throw new UserError(f + ": no rows");
    }
    return out;
  }

  private static String stripBom(String s) {
    return s.startsWith("\uFEFF") ? s.substring(1) : s;
  }

  private static void checkTag(DocumentTokenizer tokens, String tag, boolean[] checked) {
    int slot = tag.equals(SequenceTag.DNA) ? 0 : tag.equals(SequenceTag.RNA) ? 1 : 2;
    if (!checked[slot]) {
      TaskTokens.checkTag(tokens, tag);
      checked[slot] = true;
    }
  }
}
