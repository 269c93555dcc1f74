package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.follow.Follower;
import org.omnibiote.follow.SourceFolder;
import org.omnibiote.follow.SourceKind;
import org.omnibiote.ingest.Ingest;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.ingest.Inputs;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.NpyReader;
import org.omnibiote.tokenizer.SentencePieceTokenizer;

/**
 * A run adopting data generations as {@code omnibiote follow} publishes them, on real records: the
 * ingest (generation 0) holds 16 bacterial, plant and viral records, a GenBank release adds the 94
 * orchid records (generation 1), a daily file updates one of them and adds SARS-CoV-2 (generation
 * 2). What the samples hold is checked against the shards' tokens read with a plain .npy reader.
 */
class AdoptionTest {
  static final Path DATA = IngestOutputs.shared().resolve("data");
  static final Path ORCHIDS =
      DATA.resolve("deb-python-biopython-doc_1.80+dfsg-4/GenBank/ls_orchid.gbk");
  static final List<Path> GENERATION_0 =
      List.of(
          DATA.resolve("deb-emboss-test_6.6.0+dfsg-12/genbank/gbbct1.seq"),
          DATA.resolve("deb-python-biopython-doc_1.80+dfsg-4/GenBank/cor6_6.gb"),
          DATA.resolve("deb-emboss-test_6.6.0+dfsg-12/genbank/gbvrl1.seq"));
  static final Path SARS = DATA.resolve("gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb");
  static final Path MODEL = IngestOutputs.shared().resolve("tokenizers/mixed_bpe.model");
  static final int CTX = 64;
  static final DataSettings SETTINGS =
      new DataSettings(TrainType.parse("nucleotide"), false, CTX, null, 7);

  @TempDir static Path out;
  @TempDir static Path web;

  static byte[] gzip(byte[] b) throws IOException {
    var bytes = new ByteArrayOutputStream();
    try (OutputStream o = new GZIPOutputStream(bytes)) {
      o.write(b);
    }
    return bytes.toByteArray();
  }

  @BeforeAll
  static void ingestThenFollow() throws Exception {
    IngestSettings settings =
        IngestSettings.from(ConfigFactory.load()).withValFraction(0.2).withShardTargetBytes(8192);
    new Ingest(
            SentencePieceTokenizer.load(MODEL), MODEL, settings, out, false, ConfigFactory.load())
        .run(
            Inputs.resolve(GENERATION_0, List.of()),
            new PrintStream(new ByteArrayOutputStream(), true));
    Path release = Files.createDirectories(web.resolve("genbank"));
    Path daily = Files.createDirectories(web.resolve("genbank-daily"));
    Files.write(release.resolve("gbpln1.seq.gz"), gzip(Files.readAllBytes(ORCHIDS)));
    Files.writeString(release.resolve("GB_Release_Number"), "260\n");
    try (Follower f =
        new Follower(
            out,
            SentencePieceTokenizer.load(MODEL),
            MODEL,
            settings,
            ConfigFactory.load(),
            List.of(
                SourceFolder.of(SourceKind.GENBANK_RELEASE, release.toString()),
                SourceFolder.of(SourceKind.GENBANK_DAILY, daily.toString())),
            null,
            1)) {
      assertEquals(1, f.pollOnce().size());
      String text = Files.readString(ORCHIDS, StandardCharsets.ISO_8859_1);
      String first = text.substring(0, text.indexOf("\n//") + 3) + "\n";
      // Version 2 of Z78533 with its first 20 bases changed, as an update changes a sequence.
      String updated =
          first
                  .replace("Z78533.1", "Z78533.2")
                  .replace("1 cgtaacaagg tttccgtagg", "1 ttttttttgg aaaaaaaagg")
              + Files.readString(SARS, StandardCharsets.ISO_8859_1);
      Files.write(
          daily.resolve("nc0102.flat.gz"), gzip(updated.getBytes(StandardCharsets.ISO_8859_1)));
      List<Generation> g = f.pollOnce();
      assertEquals(1, g.size());
      assertEquals(1, g.get(0).superseded().size(), "Z78533.1 superseded by Z78533.2");
    }
  }

  /** The token ids of a generation's document {@code identity}, read from its shard. */
  static int[] documentTokens(long generation, String identity, String[] shardOut)
      throws IOException {
    String line =
        Files.readAllLines(out.resolve(String.format("generations/%06d/records.tsv", generation)))
            .stream()
            .filter(l -> l.endsWith("\t" + identity))
            .findFirst()
            .orElseThrow();
    String shard = line.split("\t")[0];
    int doc = Integer.parseInt(line.split("\t")[1]);
    if (shardOut != null) {
      shardOut[0] = shard;
    }
    int[] ids = NpyReader.read(out.resolve(shard)).values();
    int d = 0;
    int start = 0;
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] == IngestOutputs.EOS) {
        if (d == doc) {
          return Arrays.copyOfRange(ids, start, i + 1);
        }
        d++;
        start = i + 1;
      }
    }
    throw new IllegalStateException("no document " + doc + " in " + shard);
  }

  /** Whether {@code row} holds the first {@code n} tokens of {@code doc} in a run. */
  static boolean holds(long[] row, int[] doc, int n) {
    int m = Math.min(n, doc.length);
    outer:
    for (int i = 0; i + m <= row.length; i++) {
      for (int j = 0; j < m; j++) {
        if (row[i + j] != doc[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  @Test
  void samplesBeforeAnAdoptionAreUnchangedAndAfterItTheNewRecordsAreTrainedAndTheSupersededNot()
      throws Exception {
    try (TrainingData plain = TrainingData.open(out, SETTINGS);
        TrainingData data = TrainingData.open(out, SETTINGS)) {
      long s1 = 50;
      TrainingData.AdoptionSummary a1 = data.adopt(new Adoption(1, s1));
      // Two epochs of the grown corpus before the update.
      long s2 = s1 + 2L * data.trainRowCount("genbank");
      TrainingData.AdoptionSummary a2 = data.adopt(new Adoption(2, s2));
      assertTrue(a1.documentsAdded() > 50, "most of the 94 orchids go to train: " + a1);
      assertEquals(0, a1.documentsSuperseded());
      assertEquals(1, a2.documentsSuperseded(), a2.toString());
      assertTrue(a2.tokensSuperseded() > 0 && a2.tokensSuperseded() <= CTX, a2.toString());
      for (long i = 0; i < s1; i++) {
        assertArrayEquals(plain.row(i), data.row(i), "sample " + i + " before the adoption");
      }
      int[] old = documentTokens(1, "Z78533.1", null);
      int[] updated = documentTokens(2, "Z78533.2", null);
      int n = Math.min(CTX, Math.min(old.length, updated.length));
      DatasetCorpus c = data.corpusOf("genbank");
      long oldBefore = 0;
      long newAfter = 0;
      java.util.Map<Long, Set<String>> rowsByEpoch = new java.util.HashMap<>();
      long end = s2 + 3L * data.trainRowCount("genbank");
      for (long i = s1; i < end; i++) {
        long[] row = data.row(i);
        if (i < s2) {
          oldBefore += holds(row, old, n) ? 1 : 0;
          assertFalse(holds(row, updated, n), "sample " + i + ": Z78533.2 before its adoption");
        } else {
          assertFalse(holds(row, old, n), "sample " + i + " trains the superseded Z78533.1");
          newAfter += holds(row, updated, n) ? 1 : 0;
        }
        // Within an epoch no row is trained twice (nucleotide: sample i is genbank's sample i).
        assertTrue(
            rowsByEpoch.computeIfAbsent(c.epochOf(i), e -> new HashSet<>()).add(data.trainRowOf(i)),
            "a row trained twice in one epoch, at sample " + i);
      }
      assertTrue(oldBefore >= 2, "Z78533.1 trained in each epoch before the update: " + oldBefore);
      assertTrue(newAfter >= 3, "Z78533.2 trained in each epoch after its adoption: " + newAfter);
      // The same list of adoptions given at open draws the same rows (a resumed run).
      try (TrainingData resumed =
          TrainingData.open(out, SETTINGS, List.of(new Adoption(1, s1), new Adoption(2, s2)))) {
        for (long i = 0; i < end; i++) {
          assertArrayEquals(data.row(i), resumed.row(i), "sample " + i);
        }
        assertEquals(data.adoptions(), resumed.adoptions());
      }
    }
  }

  @Test
  void everyLiveDocumentIsTrainedInTheEpochOfTheAdoptionOrTheNext() throws Exception {
    try (TrainingData data = TrainingData.open(out, SETTINGS)) {
      long s1 = 10;
      data.adopt(new Adoption(1, s1));
      data.adopt(new Adoption(2, s1 + 5));
      DatasetCorpus c = data.corpusOf("genbank");
      long epoch = c.epochOf(s1 + 5);
      Set<Long> seen = new HashSet<>();
      for (long k = s1 + 5; c.epochOf(k) <= epoch + 1; k++) {
        seen.add(c.row(k));
      }
      List<Long> missing = new ArrayList<>();
      for (long r = 0; r < c.universe(); r++) {
        if (!c.isDeadRow(r) && !seen.contains(r)) {
          missing.add(r);
        }
      }
      assertEquals(List.of(), missing, "live rows never visited");
      assertEquals(c.universe() - 1, c.liveRows(), "one row died: the one Z78533.1 filled alone");
    }
  }

  @Test
  void aGenerationOfAnotherTokenizerOrOneNotCommittedIsRefused() throws Exception {
    try (TrainingData data = TrainingData.open(out, SETTINGS)) {
      var e =
          org.junit.jupiter.api.Assertions.assertThrows(
              org.omnibiote.UserError.class, () -> data.adopt(new Adoption(9, 0)));
      assertTrue(e.getMessage().contains("no committed data generation 9"), e.getMessage());
      data.adopt(new Adoption(1, 0));
      assertThrowsIllegal(() -> data.adopt(new Adoption(1, 5)));
    }
  }

  @Test
  void anAdoptedGenerationsDamagedShardStopsTrainingWithItsName(@TempDir Path copy)
      throws Exception {
    try (var files = Files.walk(out)) {
      for (Path p : files.toList()) {
        Path to = copy.resolve(out.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(to);
        } else {
          Files.copy(p, to);
        }
      }
    }
    Path shard;
    try (var files = Files.walk(copy.resolve("generations/000001"))) {
      shard =
          files
              .filter(p -> p.toString().contains("train") && p.toString().endsWith(".npy"))
              .findFirst()
              .orElseThrow();
    }
    byte[] bytes = Files.readAllBytes(shard);
    for (int i = 0; i < 4; i++) {
      bytes[bytes.length - 1 - 2 * i] ^= 0x5a;
    }
    Files.write(shard, bytes);
    try (TrainingData data = TrainingData.open(copy, SETTINGS)) {
      data.adopt(new Adoption(1, 0));
      var e =
          org.junit.jupiter.api.Assertions.assertThrows(
              org.omnibiote.UserError.class, data::awaitVerified);
      assertTrue(e.getMessage().contains(shard.getFileName().toString()), e.getMessage());
      // Not an ingest (it would add the daily file to generation 0): a copy of the generation.
      assertTrue(e.getMessage().contains("restore it from a backup"), e.getMessage());
      assertTrue(e.getMessage().contains("data generation 1"), e.getMessage());
      assertFalse(e.getMessage().contains("ingest"), e.getMessage());
    }
  }

  static void assertThrowsIllegal(org.junit.jupiter.api.function.Executable e) {
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, e);
  }
}
