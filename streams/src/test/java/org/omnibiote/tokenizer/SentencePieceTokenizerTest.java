package org.omnibiote.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import org.omnibiote.tokenizer.proto.SentencepieceModel.TrainerSpec;

class SentencePieceTokenizerTest {
  static Path shared;
  static SentencePieceTokenizer mixed;

  @BeforeAll
  static void load() {
    shared = Path.of(System.getProperty("omnibiote.shared"));
    mixed = SentencePieceTokenizer.load(model("mixed_bpe"));
  }

  static Path model(String name) {
    return shared.resolve("tokenizers").resolve(name + ".model");
  }

  // ---- refusing what is not a SentencePiece BPE model -------------------------------------

  private static void assertRefused(Path file, String problem) {
    UserError e = assertThrows(UserError.class, () -> SentencePieceTokenizer.load(file));
    assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
    assertTrue(e.getMessage().contains(problem), "says '" + problem + "': " + e.getMessage());
  }

  @Test
  void randomBytesAreRefusedAsNotAModel(@TempDir Path tmp) throws IOException {
    byte[] junk = new byte[4096];
    new Random(42).nextBytes(junk);
    Path f = Files.write(tmp.resolve("random.model"), junk);
    assertRefused(f, "not a SentencePiece model");
  }

  @Test
  void aTextFileIsRefusedAsNotAModel() {
    assertRefused(shared.resolve("data/MANIFEST.tsv"), "not a SentencePiece model");
  }

  @Test
  void theVocabFileIsRefusedAsNotAModel() {
    assertRefused(shared.resolve("tokenizers/mixed_bpe.vocab"), "not a SentencePiece model");
  }

  @Test
  void anEmptyFileIsRefused(@TempDir Path tmp) throws IOException {
    assertRefused(Files.write(tmp.resolve("empty.model"), new byte[0]), "empty");
  }

  @Test
  void aMissingFileIsRefused(@TempDir Path tmp) {
    assertRefused(tmp.resolve("no-such.model"), "cannot read");
  }

  @Test
  void aModelWithoutPiecesIsRefused(@TempDir Path tmp) throws IOException {
    ModelProto real = ModelProto.parseFrom(Files.readAllBytes(model("mixed_bpe")));
    Path f = tmp.resolve("nopieces.model");
    Files.write(f, real.toBuilder().clearPieces().build().toByteArray());
    assertRefused(f, "no pieces");
  }

  @Test
  void aUnigramModelIsRefused(@TempDir Path tmp) throws IOException {
    ModelProto real = ModelProto.parseFrom(Files.readAllBytes(model("mixed_bpe")));
    ModelProto unigram =
        real.toBuilder()
            .setTrainerSpec(
                real.getTrainerSpec().toBuilder().setModelType(TrainerSpec.ModelType.UNIGRAM))
            .build();
    Path f = Files.write(tmp.resolve("unigram.model"), unigram.toByteArray());
    assertRefused(f, "UNIGRAM");
  }

  // ---- vocabulary --------------------------------------------------------------------------

  @Test
  void vocabularyFactsMatchTheOriginalRecipe() {
    int[] banned = {65533, 65525, 65530};
    String[] names = {"mixed_bpe", "nucleotide_bpe", "peptide_bpe"};
    for (int i = 0; i < names.length; i++) {
      SentencePieceTokenizer t = SentencePieceTokenizer.load(model(names[i]));
      assertEquals(65_536, t.vocabSize());
      assertEquals(0, t.unkId());
      assertEquals(banned[i], t.whitespaceId(), names[i] + " banned ▁ id");
      assertEquals("\u2581", t.idToPiece(t.whitespaceId()));
      assertArrayEquals(IntStream.rangeClosed(3, 19).toArray(), t.userDefinedIds());
      assertEquals(4, t.pieceToId("<DNA>"));
      assertEquals(18, t.pieceToId("<protein>"));
      assertEquals(-1, t.pieceToId("no such piece"));
    }
  }

  @Test
  void sha256IsTheModelFilesDigestAsSha256sumPrintsIt() throws Exception {
    Process p = new ProcessBuilder("sha256sum", model("mixed_bpe").toString()).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(out.split(" ", -1)[0], mixed.sha256());
  }

  // ---- decoding ----------------------------------------------------------------------------

  @Test
  void decodeRoundTripsDocumentsAndTagsExactly() {
    List<String> docs =
        List.of(
            "<DNA>ACGTACGTTTGACCANNNNNNNNACGT<EOS>",
            "<protein>MKVLAAGIVGLLLAWQKRSTY<EOS>",
            "<ss-RNA>ACGTTTAGGCATCG<EOS><mRNA>ACGT<EOS>",
            "ACGT TTGA  NNNN   CAT");
    for (String d : docs) {
      assertEquals(d.replaceAll(" +", " "), mixed.decode(mixed.encode(d)), d);
    }
  }

  @Test
  void decodeEqualsSpmDecodeIncludingUnknownAndControlIds(@TempDir Path tmp) throws Exception {
    List<int[]> cases = new ArrayList<>();
    for (String line : EdgeLines.LINES) {
      cases.add(mixed.encode(line));
    }
    cases.add(new int[] {0, 4, 3, 1226, 65535});
    cases.add(new int[] {65533, 4, 65533, 1, 2, 0, 0});
    cases.add(new int[] {1, 65533, 1226});
    Random r = new Random(7);
    for (int i = 0; i < 20; i++) {
      cases.add(r.ints(1 + r.nextInt(30), 0, mixed.vocabSize()).toArray());
    }
    Path in = tmp.resolve("ids.txt");
    Files.write(
        in,
        cases.stream()
            .map(
                ids ->
                    IntStream.of(ids).mapToObj(Integer::toString).collect(Collectors.joining(" ")))
            .toList(),
        StandardCharsets.UTF_8);
    Path out = tmp.resolve("decoded.txt");
    Process p =
        new ProcessBuilder("spm_decode", "--model=" + model("mixed_bpe"), "--input_format=id")
            .redirectInput(in.toFile())
            .redirectOutput(out.toFile())
            .start();
    assertTrue(
        p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0,
        "spm_decode (Debian sentencepiece) ran");
    List<String> expected = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertEquals(cases.size(), expected.size());
    for (int i = 0; i < cases.size(); i++) {
      String ours = mixed.decode(cases.get(i));
      // spm_decode prints one line per input line; a decoded newline cannot occur here.
      assertEquals(expected.get(i), ours, "ids " + java.util.Arrays.toString(cases.get(i)));
    }
  }

  @Test
  void anIdOutsideTheVocabularyIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> mixed.decode(new int[] {65_536}));
  }

  // ---- threads -----------------------------------------------------------------------------

  @Test
  void concurrentEncodingGivesTheSameIdsAsSequential() throws Exception {
    Random r = new Random(3);
    String[] docs = new String[200];
    for (int i = 0; i < docs.length; i++) {
      StringBuilder sb = new StringBuilder("<DNA>");
      int len = 100 + r.nextInt(5000);
      for (int k = 0; k < len; k++) {
        sb.append("ACGTN".charAt(r.nextInt(i % 2 == 0 ? 4 : 5)));
      }
      docs[i] = sb.append("<EOS>").toString();
    }
    int[][] sequential = new int[docs.length][];
    for (int i = 0; i < docs.length; i++) {
      sequential[i] = mixed.encode(docs[i]);
    }
    int[][] parallel = new int[docs.length][];
    IntStream.range(0, docs.length).parallel().forEach(i -> parallel[i] = mixed.encode(docs[i]));
    for (int i = 0; i < docs.length; i++) {
      assertArrayEquals(sequential[i], parallel[i], "document " + i);
    }
  }
}
