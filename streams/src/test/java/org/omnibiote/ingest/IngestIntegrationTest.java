package org.omnibiote.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.NpyReader;
import org.omnibiote.sources.RecordSources;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;

/** Ingest over real GenBank and UniProt files with the original mixed tokenizer. */
class IngestIntegrationTest {
  static final Path MODEL = TestData.tokenizer("mixed_bpe");
  static Tokenizer tokenizer;

  @TempDir static Path out;
  static Manifest manifest;
  static String progressOutput;

  static final Path PROTEINS = TestData.data("gh-facebookresearch-esm/P62593.fasta");

  static List<InputFile> inputs() {
    return Inputs.resolve(
        List.of(
            TestData.data("deb-emboss-test_6.6.0+dfsg-12/genbank"),
            // no extension: taken because it is named, format sniffed from content; ss-rRNA
            TestData.data("deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank"),
            TestData.data("gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb")),
        List.of(
            TestData.data("gh-facebookresearch-esm"),
            TestData.data("deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN")));
  }

  static IngestSettings settings() {
    // Small shards, so files are cut into several and the cut is exercised.
    return IngestSettings.from(ConfigFactory.load()).withShardTargetBytes(256 * 1024);
  }

  @BeforeAll
  static void ingestOnce() throws IOException {
    tokenizer = SentencePieceTokenizer.load(MODEL);
    ByteArrayOutputStream progress = new ByteArrayOutputStream();
    Config config = ConfigFactory.load();
    manifest =
        new Ingest(tokenizer, MODEL, settings(), out, false, config)
            .run(inputs(), new PrintStream(progress, true, StandardCharsets.UTF_8));
    progressOutput = progress.toString(StandardCharsets.UTF_8);
  }

  @Test
  void everyShardMatchesItsManifestEntryWhenReadBackIndependently() throws IOException {
    OutputChecks.verify(out, tokenizer);
    assertEquals(15, manifest.sources().size(), "10 emboss .seq, 2 esm fasta, 3 named files");
    assertEquals(65533, manifest.tokenizer().bannedIds().get(0));
    assertEquals(OutputChecks.sha256(MODEL), manifest.tokenizer().sha256());
    assertEquals(65536, manifest.tokenizer().vocabSize());
  }

  @Test
  void bothDatasetsHaveTrainAndValShardsInTheTrainersLayout() {
    for (String ds : List.of("genbank", "uniref100")) {
      for (String split : List.of("train", "val")) {
        assertTrue(
            manifest.shards().stream()
                .anyMatch(s -> s.dataset().equals(ds) && s.split().equals(split)),
            ds + "/" + split);
      }
    }
    long big = manifest.shards().stream().filter(s -> s.path().contains("gbpri1")).count();
    assertTrue(big >= 2, "the 2.2 Mbp file is cut into several shards: " + big);
  }

  @Test
  void aFilesTrainShardsHoldItsRecordsInOrderAsTheTokenizerEncodesThem() throws IOException {
    List<Integer> expected = new ArrayList<>();
    int records = 0;
    try (RecordSource src = RecordSources.open(PROTEINS, SeqFormat.FASTA, p -> {}, true)) {
      SplitRule rule = new SplitRule("omnibiote", settings().valFraction());
      for (SeqRecord r = src.next(); r != null; r = src.next()) {
        records++;
        if (rule.splitOf(rule.hash(r.id())) == org.omnibiote.shards.Split.TRAIN) {
          for (int id : tokenizer.encode("<protein>" + r.sequence() + "<EOS>")) {
            if (id != 65533) {
              expected.add(id);
            }
          }
        }
      }
    }
    Manifest.Source source =
        manifest.sources().stream()
            .filter(s -> s.path().equals(PROTEINS.toString()))
            .findFirst()
            .orElseThrow();
    assertEquals(records, source.records());
    List<Integer> actual = new ArrayList<>();
    for (String shard : source.shards()) {
      if (shard.contains("/train/")) {
        for (int id : NpyReader.read(out.resolve(shard)).values()) {
          actual.add(id);
        }
      }
    }
    assertEquals(expected, actual);
  }

  @Test
  void documentCountsAddUpToTheRecordsWithASequence() {
    for (Manifest.Source s : manifest.sources()) {
      long docs =
          manifest.shards().stream()
              .filter(sh -> sh.copiedFrom() == null && s.shards().contains(sh.path()))
              .mapToLong(Manifest.Shard::documents)
              .sum();
      assertEquals(s.records() - s.skippedRecords(), docs, s.path());
    }
  }

  @Test
  void aTagThatIsNotOnePieceIsCountedAndNamed() {
    // <ss-rRNA> is not a piece of the original vocabulary.
    assertTrue(tokenizer.pieceToId("<ss-rRNA>") < 0);
    assertNotNull(
        manifest.tagsNotSinglePiece().get("<ss-rRNA>"), "" + manifest.tagsNotSinglePiece());
    assertFalse(manifest.tagsNotSinglePiece().containsKey("<DNA>"));
  }

  @Test
  void theSplitIsDecidedByRecordIdentity() {
    SplitRule a = new SplitRule("omnibiote", 0.5);
    long val =
        IntStream.range(0, 10_000)
            .filter(i -> a.splitOf(a.hash("ID" + i)) == org.omnibiote.shards.Split.VAL)
            .count();
    assertTrue(val > 4_700 && val < 5_300, "" + val);
    assertEquals(
        a.splitOf(a.hash("NC_045512.2")),
        new SplitRule("omnibiote", 0.5).splitOf(a.hash("NC_045512.2")));
    Manifest.Source proteins =
        manifest.sources().stream()
            .filter(s -> s.path().equals(PROTEINS.toString()))
            .findFirst()
            .orElseThrow();
    long valDocs =
        manifest.shards().stream()
            .filter(s -> proteins.shards().contains(s.path()) && s.split().equals("val"))
            .mapToLong(Manifest.Shard::documents)
            .sum();
    // 1% of 5,397 records: about 54.
    assertTrue(valDocs > 25 && valDocs < 90, "" + valDocs);
  }

  @Test
  void progressLineReportsRatesAndEta() {
    assertTrue(
        progressOutput.matches(
            "(?s).*ingest: [\\d,]+ records \\([\\d,]+/s\\), [\\d.]+/[\\d.]+ MB of input \\([\\d.]+ MB/s\\), ETA .*"),
        progressOutput);
  }

  @Test
  void npyShardsLoadInNumpyWithTheSameContent() throws Exception {
    Manifest.Shard shard = manifest.shards().get(0);
    Path file = out.resolve(shard.path());
    Process p =
        new ProcessBuilder(
                "/usr/bin/python3",
                "-c",
                "import sys, numpy; a = numpy.load(sys.argv[1]); print(a.dtype, a.shape[0], int(a.astype('int64').sum()))",
                file.toString())
            .redirectErrorStream(true)
            .start();
    String printed = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(
        0,
        p.exitValue(),
        "numpy could not load the shard (apt-get install python3-numpy): " + printed);
    long sum = Arrays.stream(NpyReader.read(file).values()).asLongStream().sum();
    assertEquals("uint16 " + shard.tokens() + " " + sum, printed);
  }

  @Test
  void aReRunSkipsFinishedSourcesAndChangesNothing() throws IOException {
    Map<String, String> before = OutputChecks.contentOf(out);
    Map<String, FileTime> mtimes = new HashMap<>();
    for (String f : OutputChecks.filesInShardFolders(out)) {
      mtimes.put(f, Files.getLastModifiedTime(out.resolve(f)));
    }
    ByteArrayOutputStream progress = new ByteArrayOutputStream();
    Manifest again =
        new Ingest(tokenizer, MODEL, settings(), out, false, ConfigFactory.load())
            .run(inputs(), new PrintStream(progress, true, StandardCharsets.UTF_8));
    assertEquals(manifest, again);
    assertEquals(before, OutputChecks.contentOf(out));
    for (String f : OutputChecks.filesInShardFolders(out)) {
      assertEquals(mtimes.get(f), Files.getLastModifiedTime(out.resolve(f)), f + " rewritten");
    }
    assertEquals("", progress.toString(StandardCharsets.UTF_8), "no work, so no progress line");
  }
}
