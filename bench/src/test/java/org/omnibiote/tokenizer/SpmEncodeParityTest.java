package org.omnibiote.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.omnibiote.bench.ReferenceTools;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;

/**
 * Our ids and pieces against Debian's spm_encode for all three OmniBioTE tokenizers: every document
 * Biopython makes of ../shared/data, awkward lines (spaces, tabs, lower case, full-width and
 * accented characters, bare tags) and one 5 Mbp line of real sequence.
 */
class SpmEncodeParityTest {
  static final List<String> MODELS = List.of("mixed_bpe", "nucleotide_bpe", "peptide_bpe");
  static final int LONG_LINE_BASES = 5_000_000;

  static Path shared;
  static List<String> lines;
  static int documents;
  static final Map<String, CompletableFuture<Path>> spmIds = new HashMap<>();
  static final Map<String, CompletableFuture<Path>> spmPieces = new HashMap<>();
  static Path pieceInput;
  static List<String> pieceLines;

  @BeforeAll
  static void encodeWithSpm(@TempDir Path tmp) throws IOException {
    shared = Path.of(System.getProperty("omnibiote.shared"));
    Path docs = tmp.resolve("documents.txt");
    ReferenceTools.biopythonDocuments(shared.resolve("data"), docs);
    List<String> docLines = Files.readAllLines(docs, StandardCharsets.UTF_8);
    documents = docLines.size();
    if (documents < 1000) {
      fail("Biopython made only " + documents + " documents of " + shared.resolve("data"));
    }
    lines = new ArrayList<>(docLines);
    lines.addAll(EdgeLines.LINES);
    lines.add(longLine(docLines));
    Path input = tmp.resolve("lines.txt");
    Files.write(input, lines, StandardCharsets.UTF_8);

    // Pieces on everything but the long documents (the ids cover those), to keep spm quick.
    pieceLines = new ArrayList<>(EdgeLines.LINES);
    docLines.stream().filter(d -> d.length() < 20_000).forEach(pieceLines::add);
    pieceInput = tmp.resolve("piece-lines.txt");
    Files.write(pieceInput, pieceLines, StandardCharsets.UTF_8);

    for (String m : MODELS) {
      Path model = model(m);
      spmIds.put(
          m, CompletableFuture.supplyAsync(() -> spm(model, "id", input, tmp.resolve(m + ".ids"))));
      spmPieces.put(
          m,
          CompletableFuture.supplyAsync(
              () -> spm(model, "piece", pieceInput, tmp.resolve(m + ".pieces"))));
    }
  }

  static Path model(String name) {
    return shared.resolve("tokenizers").resolve(name + ".model");
  }

  private static Path spm(Path model, String format, Path in, Path out) {
    try {
      ReferenceTools.spmEncode(model, format, in, out);
      return out;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code <DNA>} + real DNA sequences of the data, concatenated to 5 Mbp + {@code <EOS>}. */
  static String longLine(List<String> docs) {
    StringBuilder sb = new StringBuilder(LONG_LINE_BASES + 10).append("<DNA>");
    while (sb.length() < LONG_LINE_BASES + 5) {
      for (String d : docs) {
        if (!d.startsWith("<protein>") && sb.length() < LONG_LINE_BASES + 5) {
          sb.append(d, d.indexOf('>') + 1, d.length() - "<EOS>".length());
        }
      }
    }
    sb.setLength(LONG_LINE_BASES + 5);
    return sb.append("<EOS>").toString();
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixed_bpe", "nucleotide_bpe", "peptide_bpe"})
  void idsEqualSpmEncodeOnEveryDocumentEdgeLineAndTheLongLine(String name) throws Exception {
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(model(name));
    List<String> expected = Files.readAllLines(spmIds.get(name).get(), StandardCharsets.UTF_8);
    assertEquals(lines.size(), expected.size(), "spm_encode printed one line per input line");
    for (int i = 0; i < lines.size(); i++) {
      int[] ours = tokenizer.encode(lines.get(i));
      int[] theirs = parse(expected.get(i));
      if (!Arrays.equals(theirs, ours)) {
        fail(name + ": " + describe(i, lines.get(i)) + "\n" + firstDifference(theirs, ours));
      }
    }
    assertEquals(documents + EdgeLines.LINES.size() + 1, lines.size());
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixed_bpe", "nucleotide_bpe", "peptide_bpe"})
  void piecesEqualSpmEncodePieceOutput(String name) throws Exception {
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(model(name));
    List<String> expected = Files.readAllLines(spmPieces.get(name).get(), StandardCharsets.UTF_8);
    assertEquals(pieceLines.size(), expected.size());
    for (int i = 0; i < pieceLines.size(); i++) {
      String ours = String.join(" ", tokenizer.encodeAsPieces(pieceLines.get(i)));
      if (!ours.equals(expected.get(i))) {
        fail(
            name
                + ": pieces differ on "
                + describe(i, pieceLines.get(i))
                + "\n  spm_encode: "
                + clip(expected.get(i))
                + "\n  ours:       "
                + clip(ours));
      }
    }
  }

  static int[] parse(String line) {
    return line.isEmpty()
        ? new int[0]
        : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
  }

  static String describe(int index, String line) {
    return "line " + (index + 1) + " (" + line.length() + " chars: '" + clip(line) + "')";
  }

  static String clip(String s) {
    return s.length() <= 120 ? s : s.substring(0, 60) + " ... " + s.substring(s.length() - 40);
  }

  static String firstDifference(int[] expected, int[] actual) {
    int i = 0;
    while (i < expected.length && i < actual.length && expected[i] == actual[i]) {
      i++;
    }
    int from = Math.max(0, i - 3);
    return "  first difference at token "
        + i
        + " (spm "
        + expected.length
        + " tokens, ours "
        + actual.length
        + ")\n  spm_encode: ..."
        + window(expected, from)
        + "\n  ours:       ..."
        + window(actual, from);
  }

  private static String window(int[] a, int from) {
    return Arrays.toString(
        Arrays.copyOfRange(a, Math.min(from, a.length), Math.min(a.length, from + 8)));
  }

  /**
   * The released models have unique scores and no UNUSED pieces; SentencePiece also defines what
   * happens with ties (leftmost pair first) and with UNUSED pieces (split back into the pair they
   * came from). Variants of a real model exercise both, against spm_encode.
   */
  @ParameterizedTest
  @ValueSource(strings = {"ties", "unused"})
  void variantsWithTiedScoresOrUnusedPiecesMatchSpmEncode(String variant, @TempDir Path tmp)
      throws Exception {
    ModelProto real = ModelProto.parseFrom(Files.readAllBytes(model("nucleotide_bpe")));
    ModelProto.Builder b = real.toBuilder();
    for (int i = 0; i < b.getPiecesCount(); i++) {
      ModelProto.SentencePiece p = b.getPieces(i);
      if (p.getType() != ModelProto.SentencePiece.Type.NORMAL) {
        continue;
      }
      if (variant.equals("ties")) {
        b.setPieces(i, p.toBuilder().setScore((float) Math.floor(p.getScore() / 500) * 500));
      } else if (i % 7 == 0 && p.getPiece().length() > 1) {
        b.setPieces(i, p.toBuilder().setType(ModelProto.SentencePiece.Type.UNUSED));
      }
    }
    Path modelFile = Files.write(tmp.resolve(variant + ".model"), b.build().toByteArray());
    List<String> input = new ArrayList<>(EdgeLines.LINES);
    lines.stream().filter(l -> l.length() < 20_000).limit(400).forEach(input::add);
    Path in = Files.write(tmp.resolve("in.txt"), input, StandardCharsets.UTF_8);
    Path ids = tmp.resolve("ids.txt");
    ReferenceTools.spmEncode(modelFile, "id", in, ids);
    List<String> expected = Files.readAllLines(ids, StandardCharsets.UTF_8);
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(modelFile);
    for (int i = 0; i < input.size(); i++) {
      int[] ours = tokenizer.encode(input.get(i));
      int[] theirs = parse(expected.get(i));
      if (!Arrays.equals(theirs, ours)) {
        fail(variant + ": " + describe(i, input.get(i)) + "\n" + firstDifference(theirs, ours));
      }
    }
  }
}
