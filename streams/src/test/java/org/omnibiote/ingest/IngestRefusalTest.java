package org.omnibiote.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.shards.Manifest;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;

/** Bad input is refused with a message naming it, and the output folder loses nothing. */
class IngestRefusalTest {
  static final Path SARS = TestData.data("gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb");

  @TempDir Path dir;

  private static Manifest ingest(String model, Path out, List<Path> genbank) {
    return ingest(model, out, genbank, false);
  }

  private static Manifest ingest(String model, Path out, List<Path> genbank, boolean strict) {
    Path m = TestData.tokenizer(model);
    Tokenizer t = SentencePieceTokenizer.load(m);
    return new Ingest(
            t, m, IngestSettings.from(ConfigFactory.load()), out, strict, ConfigFactory.load())
        .run(Inputs.resolve(genbank, List.of()), new PrintStream(OutputStream.nullOutputStream()));
  }

  @Test
  void anOutputFolderOfAnotherTokenizerIsRefusedBeforeAnyWork() throws IOException {
    Path out = dir.resolve("out");
    ingest("mixed_bpe", out, List.of(SARS));
    Map<String, String> before = OutputChecks.contentOf(out);
    UserError e =
        assertThrows(
            UserError.class,
            () ->
                ingest(
                    "nucleotide_bpe",
                    out,
                    List.of(TestData.data("deb-emboss-test_6.6.0+dfsg-12/genbank/gbvrl1.seq"))));
    assertTrue(e.getMessage().contains("another tokenizer"), e.getMessage());
    assertTrue(e.getMessage().contains("mixed_bpe.model"), e.getMessage());
    assertTrue(e.getMessage().contains("nucleotide_bpe.model"), e.getMessage());
    assertEquals(before, OutputChecks.contentOf(out));
  }

  @Test
  void aFolderWithShardsButNoManifestIsRefused() throws IOException {
    Path out = dir.resolve("foreign");
    Files.createDirectories(out.resolve("genbank/train"));
    Files.write(out.resolve("genbank/train/x.npy"), new byte[] {1, 2, 3});
    UserError e = assertThrows(UserError.class, () -> ingest("mixed_bpe", out, List.of(SARS)));
    assertTrue(e.getMessage().contains("no manifest.json"), e.getMessage());
    assertTrue(Files.exists(out.resolve("genbank/train/x.npy")));
  }

  @Test
  void aTruncatedGzipIsAnErrorNamingTheFileAndLeavesNoShardOfIt() throws IOException {
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (GZIPOutputStream z = new GZIPOutputStream(gz)) {
      // Large enough that the format is sniffed from the intact start and ingest begins.
      z.write(
          Files.readAllBytes(TestData.data("deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq")));
    }
    byte[] all = gz.toByteArray();
    Path truncated = dir.resolve("gbpri1.seq.gz");
    Files.write(truncated, Arrays.copyOf(all, all.length / 2));
    Path out = dir.resolve("out");
    UserError e = assertThrows(UserError.class, () -> ingest("mixed_bpe", out, List.of(truncated)));
    assertTrue(e.getMessage().contains(truncated.toString()), e.getMessage());
    assertTrue(
        OutputChecks.filesInShardFolders(out).isEmpty(),
        "" + OutputChecks.filesInShardFolders(out));
    assertFalse(
        OutputChecks.manifest(out).sources().stream().anyMatch(s -> s.path().contains("gbpri1")));
  }

  @Test
  void aRefusedRecordIsCountedAndSkippedOrUnderStrictFailsTheRunNamingFileAndLine() {
    Path bad = TestData.data("deb-python-biopython-doc_1.80+dfsg-4/GenBank/no_origin_no_end.gb");
    Manifest m = ingest("mixed_bpe", dir.resolve("lenient"), List.of(bad));
    Manifest.Source s = m.sources().get(0);
    assertTrue(s.problems() > 0, "" + s);
    UserError e =
        assertThrows(
            UserError.class, () -> ingest("mixed_bpe", dir.resolve("strict"), List.of(bad), true));
    assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    assertTrue(e.getMessage().matches("(?s).*:\\d+.*"), "names the line: " + e.getMessage());
  }

  @Test
  void aNamedFileThatIsNeitherGenBankNorFastaIsRefused() {
    Path csv = TestData.data("gh-MAGICS-LAB-DNABERT_2/sample_data/train.csv");
    UserError e = assertThrows(UserError.class, () -> Inputs.resolve(List.of(csv), List.of()));
    assertTrue(e.getMessage().contains(csv.toString()), e.getMessage());
  }

  @Test
  void aMissingInputPathIsRefused() {
    UserError e =
        assertThrows(
            UserError.class, () -> Inputs.resolve(List.of(dir.resolve("nope")), List.of()));
    assertTrue(e.getMessage().contains("no such file or folder"), e.getMessage());
  }

  @Test
  void fileNameSuffixesAreMatchedPlainOrGzipped() {
    assertTrue(Inputs.matches(Path.of("gbbct1.seq.gz"), Inputs.GENBANK_SUFFIXES));
    assertTrue(Inputs.matches(Path.of("uniref100.FASTA.gz"), Inputs.FASTA_SUFFIXES));
    assertFalse(Inputs.matches(Path.of("notes.txt"), Inputs.GENBANK_SUFFIXES));
  }
}
