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
import org.omnibiote.ingest.DocumentTokenizer;

/**
 * A per-residue task (ProteinGLUE's SS3, SS8, BUR, ASA, PPI, EPI, HPR): a folder with {@code
 * train.csv}, {@code dev.csv} and {@code test.csv}, each a header {@code sequence,labels} and one
 * row per sequence, its labels separated by spaces, one per residue, {@code .} for a residue
 * without a label. Labels that are all 0, 1, 2, ... make a classification task, anything else
 * regression.
 *
 * <p>A sequence is read as {@code <tag>SEQUENCE<EOS>} (the tag {@code <protein>} unless given) and
 * each token gets the label of the residues it covers, as the original's proteinGLUE.py does: the
 * most frequent class (ties to the smallest, as {@code np.bincount(...).argmax()}) or the mean
 * value. Unlike it, residues without a label are left out of both (a token with none is not trained
 * or scored) and the residues a token covers are its piece's own letters, so a run of unknown
 * letters (one {@code <unk>} token) covers all of them where the original counted one. Every bad
 * row is a {@link UserError} naming its file and line.
 */
public final class ResidueTask {
  public static final List<String> FILES = GueTask.FILES;
  public static final List<String> HEADER = List.of("sequence", "labels");

  /** The three splits, in file order, with what the labels are. */
  public record Splits(
      List<Example> train, List<Example> dev, List<Example> test, TaskKind kind, int classes) {}

  private record Row(Path file, int line, String sequence, double[] labels) {
    String where() {
      return file + ":" + line;
    }
  }

  private ResidueTask() {}

  /** Whether {@code dir} holds a train.csv whose header is {@code sequence,labels}. */
  public static boolean isLayout(Path dir) throws IOException {
    Path f = dir.resolve(FILES.get(0));
    if (!Files.isRegularFile(f)) {
      return false;
    }
    try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
      String header = r.readLine();
      return header != null && columns(header).equals(HEADER);
    }
  }

  /**
   * Reads the folder {@code dir}: each sequence tagged {@code tag}; {@code forced} the task type
   * (null: from the labels); inputs longer than {@code maxLength} tokens keep their first ones (the
   * residues under the rest are neither trained nor scored).
   */
  public static Splits read(
      Path dir, DocumentTokenizer tokens, String tag, int maxLength, TaskKind forced)
      throws IOException {
    List<List<Row>> raw = new ArrayList<>();
    for (String name : FILES) {
      Path f = dir.resolve(name);
      if (!Files.isRegularFile(f)) {
        throw new UserError(
            "--task " + dir + ": no " + name + " (a per-residue task folder holds " + FILES + ")");
      }
      raw.add(readCsv(f));
    }
    TaskKind kind = forced != null ? forced : inferKind(raw);
    int classes = kind == TaskKind.CLASSIFICATION ? checkClasses(raw) : 1;
    TaskTokens.checkTag(tokens, tag);
    List<List<Example>> out = new ArrayList<>();
    for (List<Row> rows : raw) {
      List<Example> examples = new ArrayList<>(rows.size());
      for (Row row : rows) {
        examples.add(example(row, tokens, tag, maxLength, kind, classes));
      }
      out.add(examples);
    }
    if (out.get(0).stream().allMatch(e -> e.residues().labelledTokens() == 0)) {
      throw new UserError(dir.resolve(FILES.get(0)) + ": no residue has a label; nothing to learn");
    }
    return new Splits(out.get(0), out.get(1), out.get(2), kind, classes);
  }

  private static List<Row> readCsv(Path f) throws IOException {
    List<Row> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
      String header = r.readLine();
      if (header == null) {
        throw new UserError(f + ": empty file; expected a header 'sequence,labels' and rows");
      }
      if (!columns(header).equals(HEADER)) {
        throw new UserError(f + ":1: the header is '" + header + "'; expected 'sequence,labels'");
      }
      int line = 1;
      for (String text; (text = r.readLine()) != null; ) {
        line++;
        if (text.isBlank()) {
          continue;
        }
        out.add(parse(f, line, text));
      }
    }
    if (out.isEmpty()) {
      throw new UserError(f + ": no rows");
    }
    return out;
  }

  private static Row parse(Path f, int line, String text) {
    String where = f + ":" + line;
    String[] cells = text.split(",", -1);
    if (cells.length != 2) {
      throw new UserError(where + ": " + cells.length + " fields; expected 2 (sequence,labels)");
    }
    String sequence = cells[0].strip().toUpperCase(Locale.ROOT);
    if (sequence.isEmpty()) {
      throw new UserError(where + ": empty sequence");
    }
    for (int i = 0; i < sequence.length(); i++) {
      char c = sequence.charAt(i);
      if (c < 'A' || c > 'Z') {
        throw new UserError(
            where
                + ": the sequence has '"
                + c
                + "' at residue "
                + (i + 1)
                + "; expected one letter per residue");
      }
    }
    String labelText = cells[1].strip();
    String[] items = labelText.isEmpty() ? new String[0] : labelText.split("\\s+");
    if (items.length != sequence.length()) {
      throw new UserError(
          where
              + ": "
              + items.length
              + " labels for a sequence of "
              + sequence.length()
              + " residues; expected one label per residue ('.' for none)");
    }
    double[] labels = new double[items.length];
    for (int i = 0; i < items.length; i++) {
      if (items[i].equals(".")) {
        labels[i] = Double.NaN;
        continue;
      }
      double v;
      try {
        v = Double.parseDouble(items[i]);
      } catch (NumberFormatException e) {
        v = Double.NaN;
      }
      if (!Double.isFinite(v)) {
        throw new UserError(
            where
                + ": label '"
                + items[i]
                + "' (residue "
                + (i + 1)
                + ") is not a number; expected a number, or '.' for a residue without a label");
      }
      labels[i] = v;
    }
    return new Row(f, line, sequence, labels);
  }

  /** Classification when every label of every split is a whole number >= 0. */
  private static TaskKind inferKind(List<List<Row>> raw) {
    for (List<Row> rows : raw) {
      for (Row row : rows) {
        for (double v : row.labels()) {
          if (!Double.isNaN(v) && !isClass(v)) {
            return TaskKind.REGRESSION;
          }
        }
      }
    }
    return TaskKind.CLASSIFICATION;
  }

  private static boolean isClass(double v) {
    return v >= 0 && v == Math.rint(v) && v <= 1_000_000;
  }

  /** Classes 0..max of train; every label must be one of them. Returns their count. */
  private static int checkClasses(List<List<Row>> raw) {
    int max = -1;
    for (int s = 0; s < raw.size(); s++) {
      for (Row row : raw.get(s)) {
        double[] labels = row.labels();
        for (int i = 0; i < labels.length; i++) {
          double v = labels[i];
          if (Double.isNaN(v)) {
            continue;
          }
          if (!isClass(v)) {
            throw new UserError(
                row.where()
                    + ": label '"
                    + number(v)
                    + "' (residue "
                    + (i + 1)
                    + ") is not a class (0, 1, 2, ...)");
          }
          if (s == 0) {
            max = Math.max(max, (int) v);
          } else if (v > max) {
            throw new UserError(
                row.where()
                    + ": label "
                    + number(v)
                    + " (residue "
                    + (i + 1)
                    + ") never occurs in train.csv (classes 0-"
                    + max
                    + ")");
          }
        }
      }
    }
    if (max < 1) {
      throw new UserError(
          raw.get(0).get(0).file() + ": the residues have one class only; nothing to learn");
    }
    return max + 1;
  }

  /** The row's tokens, and the label of each token from the residues its piece covers. */
  private static Example example(
      Row row, DocumentTokenizer tokens, String tag, int maxLength, TaskKind kind, int classes) {
    String document = tag + row.sequence() + DocumentTokenizer.EOS_PIECE;
    int[] ids = TaskTokens.document(tokens, tag, row.sequence(), row.where());
    List<String> pieces = new ArrayList<>();
    for (String p : tokens.tokenizer().encodeAsPieces(document)) {
      if (tokens.bannedId() < 0 || !p.equals(DocumentTokenizer.BANNED_PIECE)) {
        pieces.add(p);
      }
    }
    int n = row.sequence().length();
    if (pieces.size() != ids.length) {
      throw new IllegalStateException(
          row.where() + ": " + pieces.size() + " pieces but " + ids.length + " ids");
    }
    int[] tokenOf = new int[n];
    int at = 0;
    for (int t = 1; t < ids.length - 1; t++) {
      int span = pieces.get(t).replace(DocumentTokenizer.BANNED_PIECE, "").length();
      for (int k = 0; k < span && at < n; k++) {
        tokenOf[at++] = t;
      }
    }
    if (at != n) {
      throw new UserError(
          row.where()
              + ": the tokenizer's pieces cover "
              + at
              + " of the "
              + n
              + " residues; is this the right tokenizer?");
    }
    int length = Math.min(ids.length, maxLength);
    double[] tokenLabels = new double[length];
    Arrays.fill(tokenLabels, Double.NaN);
    for (int i = 0; i < n; i++) {
      if (tokenOf[i] >= length) {
        tokenOf[i] = -1;
      }
    }
    int from = 0;
    while (from < n) {
      int t = tokenOf[from];
      int to = from;
      while (to < n && tokenOf[to] == t) {
        to++;
      }
      if (t >= 0) {
        tokenLabels[t] = aggregate(row.labels(), from, to, kind, classes);
      }
      from = to;
    }
    return new Example(
        row.file().getFileName() + ":" + row.line(),
        row.file().getFileName() + ":" + row.line(),
        ids.length > length ? Arrays.copyOf(ids, length) : ids,
        Double.NaN,
        new Example.Residues(row.sequence(), row.labels(), tokenOf, tokenLabels));
  }

  /**
   * The label of residues [from, to): the most frequent class, the smallest on a tie (the
   * original's {@code np.bincount(chunk).argmax()}), or the mean value; NaN when none has a label.
   */
  static double aggregate(double[] labels, int from, int to, TaskKind kind, int classes) {
    if (kind == TaskKind.CLASSIFICATION) {
      int[] count = new int[classes];
      int best = -1;
      for (int i = from; i < to; i++) {
        if (!Double.isNaN(labels[i])) {
          count[(int) labels[i]]++;
        }
      }
      for (int c = 0; c < classes; c++) {
        if (count[c] > 0 && (best < 0 || count[c] > count[best])) {
          best = c;
        }
      }
      return best < 0 ? Double.NaN : best;
    }
    double sum = 0;
    int k = 0;
    for (int i = from; i < to; i++) {
      if (!Double.isNaN(labels[i])) {
        sum += labels[i];
        k++;
      }
    }
    return k == 0 ? Double.NaN : sum / k;
  }

  private static List<String> columns(String header) {
    String h = header.startsWith("\uFEFF") ? header.substring(1) : header;
    return Arrays.stream(h.split(",", -1)).map(c -> c.strip().toLowerCase(Locale.ROOT)).toList();
  }

  private static String number(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
