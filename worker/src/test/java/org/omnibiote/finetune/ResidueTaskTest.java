package org.omnibiote.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.ingest.DocumentTokenizer;
import org.omnibiote.tokenizer.SentencePieceTokenizer;

/**
 * How a per-residue task's labels reach the tokens of the original's tokenizer (mixed_bpe): each
 * token covers the residues of its piece as spm_encode prints it, a run of unknown letters (one
 * {@code <unk>}) included; a token's label is its residues' most frequent class (a tie to the
 * smallest) or mean value, residues without a label left out; a cut input leaves its last residues
 * unscored.
 */
class ResidueTaskTest {
  private static final Path MODEL =
      Path.of(System.getProperty("omnibiote.shared"), "tokenizers", "mixed_bpe.model");
  // spm_encode: ▁ <protein> MKT JJO A YIA KQR <EOS>; JJO is one <unk> (id 0).
  private static final String SEQUENCE = "MKTJJOAYIAKQR";

  @TempDir static Path dir;
  private static DocumentTokenizer tokens;

  @BeforeAll
  static void tokenizer() {
    tokens = new DocumentTokenizer(SentencePieceTokenizer.load(MODEL));
  }

  @Test
  void tokensCoverTheResiduesOfTheirPiecesAndTakeTheirMostFrequentClass() throws Exception {
    Path task = write("classes", "2 0 0 . 1 2 1 0 0 1 . 2 2");
    ResidueTask.Splits s = ResidueTask.read(task, tokens, "<protein>", 1024, null);
    assertEquals(TaskKind.CLASSIFICATION, s.kind());
    assertEquals(3, s.classes());
    Example e = s.test().get(0);
    assertEquals(0, e.tokens()[2], "JJO is the unknown piece");
    assertArrayEquals(spmTokenOf(SEQUENCE), e.residues().tokenOf());
    assertArrayEquals(new int[] {1, 1, 1, 2, 2, 2, 3, 4, 4, 4, 5, 5, 5}, e.residues().tokenOf());
    // MKT [2 0 0] -> 0; JJO [. 1 2] -> tie, 1; A [1]; YIA [0 0 1] -> 0; KQR [. 2 2] -> 2.
    assertArrayEquals(
        new double[] {Double.NaN, 0, 1, 1, 0, 2, Double.NaN}, e.residues().tokenLabels());
    assertEquals(5, e.residues().labelledTokens());
  }

  @Test
  void valuesAreAveragedOverTheLabelledResiduesOfEachToken() throws Exception {
    Path task = write("values", "0.5 1.5 1 . . . 2.25 -1 . 3 . . .");
    ResidueTask.Splits s = ResidueTask.read(task, tokens, "<protein>", 1024, null);
    assertEquals(TaskKind.REGRESSION, s.kind());
    assertArrayEquals(
        new double[] {Double.NaN, 1.0, Double.NaN, 2.25, 1.0, Double.NaN, Double.NaN},
        s.test().get(0).residues().tokenLabels());
  }

  @Test
  void aCutInputLeavesTheResiduesOfItsLostTokensUnscored() throws Exception {
    Path task = write("cut", "2 0 0 . 1 2 1 0 0 1 . 2 2");
    Example e = ResidueTask.read(task, tokens, "<protein>", 4, null).test().get(0);
    assertEquals(4, e.tokens().length);
    assertArrayEquals(
        new int[] {1, 1, 1, 2, 2, 2, 3, -1, -1, -1, -1, -1, -1}, e.residues().tokenOf());
    assertArrayEquals(new double[] {Double.NaN, 0, 1, 1}, e.residues().tokenLabels());
  }

  /** A task folder whose test.csv holds SEQUENCE with {@code labels}; train and dev real rows. */
  private static Path write(String name, String labels) throws Exception {
    Path task = Files.createDirectories(dir.resolve(name));
    boolean classes = !labels.contains(".5");
    // The first 20 residues of two of ESM's example proteins, labelled 0 1 2 0 1 2 ...
    List<String> real = new ArrayList<>();
    List<String> lines =
        Files.readAllLines(
            Path.of(System.getProperty("omnibiote.shared"))
                .resolve("data/gh-facebookresearch-esm/some_proteins.fasta"));
    for (String l : lines) {
      if (!l.startsWith(">") && real.size() < 2) {
        real.add(l.strip().substring(0, 20));
      }
    }
    for (String f : List.of("train.csv", "dev.csv")) {
      StringBuilder csv = new StringBuilder("sequence,labels\n");
      for (String r : real) {
        csv.append(r).append(',');
        for (int i = 0; i < r.length(); i++) {
          csv.append(i == 0 ? "" : " ").append(classes ? i % 3 : i * 0.25);
        }
        csv.append('\n');
      }
      Files.writeString(task.resolve(f), csv);
    }
    Files.writeString(task.resolve("test.csv"), "sequence,labels\n" + SEQUENCE + "," + labels);
    return task;
  }

  /** Per residue, its token's position in the input as spm_encode's pieces give it. */
  private static int[] spmTokenOf(String sequence) throws Exception {
    Process p =
        new ProcessBuilder("spm_encode", "--model", MODEL.toString(), "--output_format=piece")
            .start();
    p.getOutputStream()
        .write(("<protein>" + sequence + "<EOS>\n").getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    p.getInputStream().transferTo(out);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "spm_encode failed");
    List<String> pieces = new ArrayList<>();
    for (String piece : out.toString(StandardCharsets.UTF_8).strip().split(" ")) {
      if (!piece.equals("\u2581")) {
        pieces.add(piece);
      }
    }
    int[] tokenOf = new int[sequence.length()];
    int at = 0;
    for (int t = 1; t < pieces.size() - 1; t++) {
      for (int k = 0; k < pieces.get(t).length(); k++) {
        tokenOf[at++] = t;
      }
    }
    assertEquals(sequence.length(), at);
    return tokenOf;
  }
}
