package org.omnibiote.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto.SentencePiece;
import org.omnibiote.tokenizer.proto.SentencepieceModel.TrainerSpec;

class BpeTrainerTest {
  private static List<String> training;
  private static List<String> heldOut;
  private static ModelProto model;

  @TempDir static Path dir;

  @BeforeAll
  static void trainOnRealSequences() {
    List<String> docs = RealTrainingDocuments.mixed();
    training = new ArrayList<>();
    heldOut = new ArrayList<>();
    for (int i = 0; i < docs.size(); i++) {
      (i % 10 == 9 ? heldOut : training).add(docs.get(i));
    }
    model =
        new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(4096))
            .train(training, List.of("real-sequences"));
  }

  @Test
  void specialPiecesHaveTheOriginalIds() {
    assertEquals(4096, model.getPiecesCount());
    assertPiece(0, "<unk>", SentencePiece.Type.UNKNOWN);
    assertPiece(1, "<s>", SentencePiece.Type.CONTROL);
    assertPiece(2, "</s>", SentencePiece.Type.CONTROL);
    assertPiece(3, "<EOS>", SentencePiece.Type.USER_DEFINED);
    assertPiece(4, "<DNA>", SentencePiece.Type.USER_DEFINED);
    assertPiece(18, "<protein>", SentencePiece.Type.USER_DEFINED);
    assertPiece(19, "<antibody>", SentencePiece.Type.USER_DEFINED);
    for (int i = 20; i < model.getPiecesCount(); i++) {
      assertEquals(SentencePiece.Type.NORMAL, model.getPieces(i).getType());
      assertEquals(-(i - 20), model.getPieces(i).getScore(), 0.0, "score of piece " + i);
    }
  }

  @Test
  void specIsFilledLikeTheOriginals() {
    TrainerSpec spec = model.getTrainerSpec();
    assertEquals(TrainerSpec.ModelType.BPE, spec.getModelType());
    assertEquals(4096, spec.getVocabSize());
    assertEquals(BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS, spec.getUserDefinedSymbolsList());
    assertEquals(32, spec.getMaxSentencepieceLength());
    assertEquals(1.0f, spec.getCharacterCoverage());
    assertEquals(-1, spec.getPadId());
    assertEquals("identity", model.getNormalizerSpec().getName());
    assertTrue(model.getNormalizerSpec().getAddDummyPrefix());
    assertTrue(model.getNormalizerSpec().getPrecompiledCharsmap().isEmpty());
  }

  @Test
  void singleCharactersComeLastMostFrequentFirstAndIncludeTheWhitespaceMark() {
    // Count the characters independently: text outside the special pieces, plus one
    // whitespace mark per document (the dummy prefix; the documents hold no spaces).
    java.util.Map<String, Long> counts = new java.util.HashMap<>();
    for (String d : training) {
      assertFalse(d.contains(" "));
      String text = d;
      for (String m : BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS) {
        text = text.replace(m, "");
      }
      counts.merge("\u2581", 1L, Long::sum);
      text.codePoints().forEach(c -> counts.merge(new String(Character.toChars(c)), 1L, Long::sum));
    }
    List<String> expected =
        counts.keySet().stream()
            .sorted(
                java.util.Comparator.<String>comparingLong(c -> -counts.get(c))
                    .thenComparingInt(c -> c.codePointAt(0)))
            .toList();
    List<String> pieces = pieces();
    assertEquals(expected, pieces.subList(pieces.size() - expected.size(), pieces.size()));
    assertTrue(expected.contains("\u2581"), "the dummy prefix mark is a piece");
  }

  @Test
  void mergesAreExactlyThoseOfAFullRecountBpe() {
    // Short real windows (DNA runs like AAAA exercise the overlap rule) and proteins.
    List<String> docs = new ArrayList<>();
    for (String d : training) {
      if (docs.size() == 160) {
        break;
      }
      String body = d.substring(d.indexOf('>') + 1, d.length() - "<EOS>".length());
      String tag = d.substring(0, d.indexOf('>') + 1);
      if (tag.equals("<DNA>") || tag.equals("<protein>")) {
        docs.add(tag + body.substring(0, Math.min(250, body.length())) + "<EOS>");
        docs.add(
            body.substring(body.length() / 2, Math.min(body.length(), body.length() / 2 + 120)));
      }
    }
    docs.add("<DNA>AAAAAAAAAAAAAAAAA<EOS> <DNA>AAAAAAAACCCCCCC<EOS>");
    docs.addAll(List.copyOf(docs.subList(0, 50))); // repeated words weigh more
    List<String> meta = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
    meta.addAll(BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS);
    List<String> expected = NaiveBpe.merges(docs, meta, 16, 400);
    ModelProto m = train(docs, 16, 20 + 400 + alphabetSize(docs));
    assertEquals(expected, pieces(m).subList(20, 420));
  }

  @Test
  void spmEncodeLoadsTheModelAndHeldOutDocumentsRoundTrip() throws Exception {
    Path modelFile = ModelWriter.write(model, dir.resolve("roundtrip.model"));
    Path input = dir.resolve("held-out.txt");
    Files.write(input, heldOut, StandardCharsets.UTF_8);
    List<String> ids =
        SpmTools.run(input, "spm_encode", "--model", modelFile.toString(), "--output_format=id");
    assertEquals(heldOut.size(), ids.size());
    for (int i = 0; i < ids.size(); i++) {
      String[] tokens = ids.get(i).split(" ");
      assertEquals("3", tokens[tokens.length - 1], "document " + i + " ends with <EOS>=3");
      String tag = heldOut.get(i).substring(0, heldOut.get(i).indexOf('>') + 1);
      int tagId = model.getPiecesList().stream().map(SentencePiece::getPiece).toList().indexOf(tag);
      assertEquals(
          String.valueOf(tagId), tokens[1], "document " + i + ": dummy prefix, then the tag");
      assertFalse(List.of(tokens).contains("0"), "no <unk> in document " + i);
    }
    Path idFile = dir.resolve("held-out.ids");
    Files.write(idFile, ids, StandardCharsets.UTF_8);
    List<String> decoded =
        SpmTools.run(idFile, "spm_decode", "--model", modelFile.toString(), "--input_format=id");
    assertEquals(heldOut, decoded);
  }

  @Test
  void ourEncoderGivesSpmEncodesIdsOnTheTrainedModelAndDecodesBack() throws Exception {
    Path modelFile = ModelWriter.write(model, dir.resolve("ours.model"));
    Path input = dir.resolve("held-out-ours.txt");
    Files.write(input, heldOut, StandardCharsets.UTF_8);
    List<String> spmIds =
        SpmTools.run(input, "spm_encode", "--model", modelFile.toString(), "--output_format=id");
    SentencePieceTokenizer ours = SentencePieceTokenizer.load(modelFile);
    assertEquals(4096, ours.vocabSize());
    for (int i = 0; i < heldOut.size(); i++) {
      int[] ids = ours.encode(heldOut.get(i));
      String joined =
          java.util.Arrays.stream(ids).mapToObj(String::valueOf).collect(Collectors.joining(" "));
      assertEquals(spmIds.get(i), joined, "ids of held-out document " + i);
      assertEquals(heldOut.get(i), ours.decode(ids), "decoded held-out document " + i);
    }
  }

  @Test
  void vocabularyIsCloseToSpmTrainsOnTheSameDocuments() throws Exception {
    // spm_train crashes on lines of more than about 16 kB, so long records become chunks.
    List<String> corpus = new ArrayList<>();
    long size = 0;
    for (int i = 0; size < 600_000; i += 7) {
      String d = training.get(i % training.size());
      int tagEnd = d.indexOf('>') + 1;
      String body = d.substring(tagEnd, d.length() - "<EOS>".length());
      for (int k = 0; k < body.length() && size < 600_000; k += 4000) {
        String chunk =
            d.substring(0, tagEnd) + body.substring(k, Math.min(body.length(), k + 4000)) + "<EOS>";
        corpus.add(chunk);
        size += chunk.length() + 1;
      }
    }
    Path input = dir.resolve("spm-train-corpus.txt");
    Files.write(input, corpus, StandardCharsets.UTF_8);
    SpmTools.run(
        input,
        "spm_train",
        "--input=" + input,
        "--model_prefix=" + dir.resolve("reference"),
        "--model_type=bpe",
        "--vocab_size=1000",
        "--user_defined_symbols=" + String.join(",", BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS),
        "--character_coverage=1.0",
        "--max_sentencepiece_length=32",
        "--normalization_rule_name=identity",
        "--max_sentence_length=16384",
        "--num_threads=1");
    Path ours =
        ModelWriter.write(
            new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(1000))
                .train(corpus, List.of()),
            dir.resolve("close.model"));
    List<String> reference =
        Files.readAllLines(dir.resolve("reference.vocab")).stream()
            .map(l -> l.substring(0, l.indexOf('\t')))
            .toList();
    List<String> ourPieces =
        Files.readAllLines(dir.resolve("close.vocab")).stream()
            .map(l -> l.substring(0, l.indexOf('\t')))
            .toList();
    assertEquals(reference.subList(0, 20), ourPieces.subList(0, 20));
    Set<String> common = new HashSet<>(reference);
    common.retainAll(new HashSet<>(ourPieces));
    // spm 0.1.97 picks merges from a sampled "active" set, so the two differ in detail;
    // measured here: about 90% of pieces in common.
    assertTrue(common.size() >= 800, "pieces in common with spm_train: " + common.size());

    Path held = dir.resolve("close-held-out.txt");
    Files.write(held, heldOut.subList(0, 150), StandardCharsets.UTF_8);
    long referenceTokens =
        tokenCount(
            SpmTools.run(held, "spm_encode", "--model", dir.resolve("reference.model").toString()));
    long ourTokens = tokenCount(SpmTools.run(held, "spm_encode", "--model", ours.toString()));
    assertTrue(
        Math.abs(ourTokens - referenceTokens) <= 0.03 * referenceTokens,
        "held-out tokens: ours " + ourTokens + ", spm_train's " + referenceTokens);
  }

  private static long tokenCount(List<String> encoded) {
    return encoded.stream().mapToLong(l -> l.split(" ").length).sum();
  }

  @Test
  void spmSeesTheSpecialPiecesWithTheExpectedIds() throws Exception {
    Path modelFile = ModelWriter.write(model, dir.resolve("special.model"));
    Path input = dir.resolve("special.txt");
    Files.writeString(input, "<DNA>ACGT<EOS>\n<protein>MKV<EOS>\n");
    List<String> pieces =
        SpmTools.run(input, "spm_encode", "--model", modelFile.toString(), "--output_format=piece");
    List<String> ids =
        SpmTools.run(input, "spm_encode", "--model", modelFile.toString(), "--output_format=id");
    assertTrue(pieces.get(0).startsWith("\u2581 <DNA> "), pieces.get(0));
    assertTrue(ids.get(0).matches("\\d+ 4 .* 3"), ids.get(0));
    assertTrue(ids.get(1).matches("\\d+ 18 .* 3"), ids.get(1));
  }

  @Test
  void writesModelAndVocabAtomicallyLikeSpmTrain() throws Exception {
    Path out = dir.resolve("atomic");
    Files.createDirectories(out);
    Path modelFile = ModelWriter.write(model, out.resolve("m"));
    assertEquals(out.resolve("m.model"), modelFile);
    try (Stream<Path> files = Files.list(out)) {
      assertEquals(
          Set.of("m.model", "m.vocab"),
          files.map(p -> p.getFileName().toString()).collect(Collectors.toSet()));
    }
    ModelProto reread = ModelProto.parseFrom(Files.readAllBytes(modelFile));
    assertEquals(pieces(), pieces(reread));
    assertEquals("m", reread.getTrainerSpec().getModelPrefix());
    List<String> vocab = Files.readAllLines(out.resolve("m.vocab"));
    assertEquals(4096, vocab.size());
    assertEquals("<unk>\t0", vocab.get(0));
    assertEquals(pieces().get(20) + "\t-0", vocab.get(20));
    assertEquals(pieces().get(21) + "\t-1", vocab.get(21));
    assertEquals(pieces().get(4095) + "\t-4075", vocab.get(4095));
  }

  @Test
  void scoresArePrintedAsSpmPrintsThem() {
    assertEquals("-0", ModelWriter.formatScore(-0.0f));
    assertEquals("0", ModelWriter.formatScore(0f));
    assertEquals("-65535", ModelWriter.formatScore(-65535f));
    assertEquals("-999999", ModelWriter.formatScore(-999999f));
    assertEquals("-1e+06", ModelWriter.formatScore(-1000000f));
    assertEquals("-1.23457e+06", ModelWriter.formatScore(-1234567f));
    assertEquals("-2.5", ModelWriter.formatScore(-2.5f));
  }

  @Test
  void charactersBelowTheCoverageAreLeftOutAndNeverMerged() {
    List<String> docs = new ArrayList<>(training.subList(0, 300));
    docs.add("<protein>MKJJJJJJJJJJJJV<EOS>"); // J (ambiguous Leu/Ile) is rare here
    ModelProto m =
        new BpeTrainer(
                BpeTrainer.Options.defaults().withVocabSize(600).withCharacterCoverage(0.9995))
            .train(docs, List.of());
    assertTrue(pieces(m).stream().noneMatch(p -> p.contains("J")), "J is not in the vocabulary");
    ModelProto all =
        new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(600)).train(docs, List.of());
    assertTrue(pieces(all).contains("J"), "with full coverage J is a piece");
  }

  @Test
  void trainingIsDeterministic() {
    List<String> docs = training.subList(0, 400);
    BpeTrainer t = new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(800));
    assertArrayEquals(
        t.train(docs, List.of()).toByteArray(), t.train(docs, List.of()).toByteArray());
  }

  @Test
  void aVocabularyTooSmallForTheAlphabetIsAUserError() {
    UserError e =
        assertThrows(
            UserError.class,
            () ->
                new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(30))
                    .train(training.subList(0, 50), List.of()));
    assertTrue(e.getMessage().contains("vocabulary size 30 is too small"), e.getMessage());
    assertTrue(e.getMessage().contains("at least"), e.getMessage());
  }

  @Test
  void tooFewDocumentsForTheVocabularyIsAUserError() {
    UserError e =
        assertThrows(
            UserError.class,
            () ->
                new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(5000))
                    .train(List.of("<DNA>ACGTACGGT<EOS>"), List.of()));
    assertTrue(e.getMessage().contains("allow only"), e.getMessage());
    // "ACGTACGGT" with its dummy prefix and tags: 20 special pieces, 5 characters, and
    // the merges of the word until it is one piece.
    assertTrue(e.getMessage().contains("at most"), e.getMessage());
  }

  @Test
  void sampleSizeLimitsTheDocumentsUsed() {
    BpeTrainer t =
        new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(300).withInputSentenceSize(100));
    BpeTrainer.Session s = t.session();
    training.subList(0, 1000).forEach(s::add);
    ModelProto m = s.train(List.of());
    assertEquals(1000, s.documentsRead());
    assertEquals(100, s.documentsUsed());
    assertEquals(100, m.getTrainerSpec().getInputSentenceSize());
  }

  @Test
  void readsGzipAndReportsTruncatedOrMissingFiles() throws IOException {
    Path gz = dir.resolve("docs.txt.gz");
    byte[] text = String.join("\n", training.subList(0, 200)).getBytes(StandardCharsets.UTF_8);
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
      o.write(text);
    }
    List<String> read = new ArrayList<>();
    TrainingDocuments.forEachLine(gz, read::add);
    assertEquals(training.subList(0, 200), read);

    byte[] whole = Files.readAllBytes(gz);
    Path truncated = dir.resolve("truncated.txt.gz");
    Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length / 2));
    UserError e =
        assertThrows(UserError.class, () -> TrainingDocuments.forEachLine(truncated, s -> {}));
    assertTrue(e.getMessage().contains("truncated.txt.gz"), e.getMessage());

    UserError missing =
        assertThrows(
            UserError.class,
            () -> TrainingDocuments.checkReadable(List.of(dir.resolve("nope.txt"))));
    assertTrue(missing.getMessage().contains("nope.txt does not exist"), missing.getMessage());
  }

  private static ModelProto train(List<String> docs, int maxLength, int vocab) {
    return new BpeTrainer(
            BpeTrainer.Options.defaults().withMaxPieceLength(maxLength).withVocabSize(vocab))
        .train(docs, List.of());
  }

  private static int alphabetSize(List<String> docs) {
    Set<Integer> chars = new HashSet<>();
    chars.add(0x2581);
    for (String d : docs) {
      String body = d;
      for (String m : BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS) {
        body = body.replace(m, "");
      }
      body.replace(" ", "").codePoints().forEach(chars::add);
    }
    return chars.size();
  }

  private static void assertPiece(int id, String piece, SentencePiece.Type type) {
    assertEquals(piece, model.getPieces(id).getPiece());
    assertEquals(type, model.getPieces(id).getType());
    assertEquals(0f, model.getPieces(id).getScore());
  }

  private static List<String> pieces() {
    return pieces(model);
  }

  private static List<String> pieces(ModelProto m) {
    return m.getPiecesList().stream().map(SentencePiece::getPiece).toList();
  }
}
