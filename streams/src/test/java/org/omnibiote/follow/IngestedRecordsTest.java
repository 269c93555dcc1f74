package org.omnibiote.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.data.DataGenerations;
import org.omnibiote.download.DownloadSettings;
import org.omnibiote.download.HttpDownloader;
import org.omnibiote.ingest.Ingest;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.ingest.Inputs;
import org.omnibiote.records.Biopython;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyReader;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * A folder made by a plain {@code ingest} (generation 0), then followed: ingest writes where each
 * record went (its record-id files), the follower learns generation 0's records from them, and an
 * updated version of an ingested record, or an ingested UniRef100 cluster in a followed release,
 * supersedes exactly that document.
 */
class IngestedRecordsTest {
  @TempDir static Path out;
  @TempDir static Path sources;
  static Tokenizer tokenizer;
  static Manifest ingested;
  static IngestSettings settings;

  @BeforeAll
  static void ingest() throws IOException {
    tokenizer = SentencePieceTokenizer.load(FollowerTest.MODEL);
    settings = IngestSettings.from(ConfigFactory.load()).withValFraction(0.2);
    ingested =
        new Ingest(tokenizer, FollowerTest.MODEL, settings, out, false, ConfigFactory.load())
            .run(
                Inputs.resolve(List.of(FollowerTest.ORCHIDS), List.of(FollowerTest.ESM)),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }

  static Manifest.Source source(Path file) {
    return ingested.sources().stream()
        .filter(s -> Path.of(s.path()).getFileName().equals(file.getFileName()))
        .findFirst()
        .orElseThrow();
  }

  /** The documents of a shard, split after each EOS. */
  static List<List<Integer>> documents(Path shard, int eos) throws IOException {
    List<List<Integer>> docs = new ArrayList<>();
    List<Integer> doc = new ArrayList<>();
    for (int id : NpyReader.read(shard).values()) {
      doc.add(id);
      if (id == eos) {
        docs.add(doc);
        doc = new ArrayList<>();
      }
    }
    return docs;
  }

  /** Per record identity, where ingest says its document is: shard TAB document. */
  static Map<String, String> whereIngestPut(Manifest.Source s) throws IOException {
    Map<String, String> at = new HashMap<>();
    for (String line : Files.readAllLines(out.resolve(s.recordIds()))) {
      String[] f = line.split("\t", -1);
      assertEquals(3, f.length, line);
      assertNull(at.put(f[2], f[0] + "\t" + f[1]), "one line per record: " + f[2]);
    }
    return at;
  }

  @Test
  void ingestWritesWhereEachRecordWentAndBiopythonsRecordIsThere() throws Exception {
    Manifest.Source gb = source(FollowerTest.ORCHIDS);
    assertNotNull(gb.recordIds(), "the source names its record-id file");
    assertEquals(
        gb.recordIdsSha256(), org.omnibiote.shards.ShardWriter.sha256(out.resolve(gb.recordIds())));
    Map<String, String> at = whereIngestPut(gb);
    Biopython.Outcome bio =
        Biopython.parse("genbank", List.of(FollowerTest.ORCHIDS)).get(FollowerTest.ORCHIDS);
    assertEquals(94, bio.documentIds().size());
    assertEquals(new java.util.TreeSet<>(bio.documentIds()), new java.util.TreeSet<>(at.keySet()));
    int eos = tokenizer.pieceToId("<EOS>");
    int banned = tokenizer.pieceToId("\u2581");
    Map<String, List<List<Integer>>> shards = new HashMap<>();
    for (int i = 0; i < bio.documentIds().size(); i++) {
      String[] place = at.get(bio.documentIds().get(i)).split("\t");
      List<List<Integer>> docs =
          shards.computeIfAbsent(
              place[0],
              p -> {
                try {
                  return documents(out.resolve(p), eos);
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      List<Integer> expected = new ArrayList<>();
      for (int id : tokenizer.encode(bio.documents().get(i))) {
        if (id != banned) {
          expected.add(id);
        }
      }
      assertEquals(
          expected,
          docs.get(Integer.parseInt(place[1])),
          bio.documentIds().get(i) + " at " + at.get(bio.documentIds().get(i)));
    }
  }

  @Test
  void aFollowerSupersedesExactlyTheIngestedDocumentOfAnUpdatedRecord() throws Exception {
    Path daily = Files.createDirectories(sources.resolve("daily-nc"));
    Path uniref = Files.createDirectories(sources.resolve("uniref100"));
    // Z78533.1 updated to .2; Z78532.1 repeated as it was.
    String nc0102 =
        FollowerTest.firstRecords(FollowerTest.ORCHIDS, 2).replace("Z78533.1", "Z78533.2");
    Files.write(
        daily.resolve("nc0102.flat.gz"),
        FollowerTest.gzip(nc0102.getBytes(StandardCharsets.ISO_8859_1)));
    String z78533 = whereIngestPut(source(FollowerTest.ORCHIDS)).get("Z78533.1");
    Config config =
        ConfigFactory.parseString(
                "omnibiote.ingest.progress-interval = 100ms\n"
                    + "omnibiote.ingest.test-delay-per-record = 100ms")
            .withFallback(ConfigFactory.load());
    ByteArrayOutputStream progress = new ByteArrayOutputStream();
    try (HttpDownloader http = new HttpDownloader(DownloadSettings.fromConfig(config));
        Follower f =
            new Follower(
                out,
                tokenizer,
                FollowerTest.MODEL,
                IngestSettings.from(config),
                config,
                List.of(
                    SourceFolder.of(SourceKind.GENBANK_DAILY, daily.toString()),
                    SourceFolder.of(SourceKind.UNIREF100, uniref.toString())),
                http,
                1,
                new PrintStream(progress, true, StandardCharsets.UTF_8))) {
      List<Generation> made = f.pollOnce();
      assertEquals(1, made.size());
      Generation g1 = made.get(0);
      assertEquals(1, g1.generation());
      assertEquals(1, g1.added().documents(), "Z78533.2");
      assertEquals(1, g1.duplicates(), "Z78532.1 was ingested with that version");
      assertEquals(1, g1.superseded().size());
      Generation.Superseded s = g1.superseded().get(0);
      assertEquals("Z78533.1", s.identity());
      assertEquals("Z78533.2", s.by());
      assertEquals(0, s.generation(), "the ingest's generation");
      assertEquals(z78533, s.shard() + "\t" + s.document(), "where ingest put Z78533.1");
      assertTrue(
          progress
              .toString(StandardCharsets.UTF_8)
              .lines()
              .anyMatch(
                  l ->
                      l.matches(
                          "follow nc0102\\.flat\\.gz: \\d+ records \\([\\d,.]+/s\\), .* MB/s\\), ETA .*")),
          "a progress line with rate and ETA while the file is published:\n" + progress);

      // UniRef100 2024_01 holds the clusters the ingest read: they replace the ingested ones.
      FollowerTest.publishUniRef(uniref, "2024_01", FollowerTest.ESM);
      List<Generation> second = f.pollOnce();
      assertEquals(1, second.size());
      Generation g2 = second.get(0);
      assertEquals(15, g2.added().documents());
      assertEquals(15, g2.superseded().size());
      assertTrue(g2.superseded().stream().allMatch(x -> x.generation() == 0));
      assertNull(g2.supersededGenerations(), "generation 0 (GenBank too) is never dropped whole");
      assertTrue(
          f.waitingLine(made, java.time.Duration.ofHours(1), java.time.LocalTime.of(10, 0))
              .contains("next poll at 11:00 (every 1h)"));
    }

    List<DataGenerations.Info> gens = DataGenerations.list(out);
    Map<String, BitSet> before = DataGenerations.liveDocuments(gens, 0);
    Map<String, BitSet> after1 = DataGenerations.liveDocuments(gens, 1);
    Map<String, BitSet> after2 = DataGenerations.liveDocuments(gens, 2);
    // Generation 1 takes exactly one document of generation 0: Z78533.1.
    for (Manifest.Shard sh : ingested.shards()) {
      BitSet gone = (BitSet) before.get(sh.path()).clone();
      gone.andNot(after1.get(sh.path()));
      String[] place = z78533.split("\t");
      if (sh.path().equals(place[0])) {
        assertEquals(1, gone.cardinality(), sh.path());
        assertTrue(gone.get(Integer.parseInt(place[1])));
      } else {
        assertTrue(gone.isEmpty(), sh.path());
      }
      // Generation 2 takes every ingested UniRef100 document and no GenBank one.
      if (sh.dataset().equals("uniref100")) {
        assertEquals(0, after2.get(sh.path()).cardinality(), sh.path());
      } else {
        assertEquals(after1.get(sh.path()), after2.get(sh.path()), sh.path());
      }
    }
    // A restarted follower knows all of it (generation 0 included): nothing to publish.
    Files.write(
        sources.resolve("daily-nc/nc0103.flat.gz"),
        FollowerTest.gzip(
            FollowerTest.firstRecords(FollowerTest.ORCHIDS, 3)
                .getBytes(StandardCharsets.ISO_8859_1)));
    try (HttpDownloader http =
            new HttpDownloader(DownloadSettings.fromConfig(ConfigFactory.load()));
        Follower again =
            new Follower(
                out,
                tokenizer,
                FollowerTest.MODEL,
                settings,
                ConfigFactory.load(),
                List.of(SourceFolder.of(SourceKind.GENBANK_DAILY, daily.toString())),
                http,
                1)) {
      assertTrue(again.pollOnce().isEmpty(), "Z78533.1 (superseded), Z78532.1, Z78531.1: known");
    }
    assertFalse(new ManifestStore(new ShardLayout(out)).read().orElseThrow().sources().isEmpty());
  }

  @Test
  void aFolderIngestedBeforeRecordIdFilesGetsThemFromTheSameIngestAgain(@TempDir Path old)
      throws Exception {
    var inputs = Inputs.resolve(List.of(), List.of(FollowerTest.ESM));
    var quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    Manifest first =
        new Ingest(tokenizer, FollowerTest.MODEL, settings, old, false, ConfigFactory.load())
            .run(inputs, quiet);
    // As an ingest before record-id files left it: no file, and the manifest names none.
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    var tree = json.readTree(old.resolve("manifest.json").toFile());
    for (var src : tree.get("sources")) {
      ((com.fasterxml.jackson.databind.node.ObjectNode) src).remove("recordIds");
      ((com.fasterxml.jackson.databind.node.ObjectNode) src).remove("recordIdsSha256");
    }
    json.writeValue(old.resolve("manifest.json").toFile(), tree);
    org.omnibiote.io.Folders.deleteTree(old.resolve("records"));
    Manifest again =
        new Ingest(tokenizer, FollowerTest.MODEL, settings, old, false, ConfigFactory.load())
            .run(inputs, quiet);
    assertEquals(first, again, "the same shards, and the record-id file written again");
    assertTrue(Files.isRegularFile(old.resolve(again.sources().get(0).recordIds())));
    assertEquals(15, Files.readAllLines(old.resolve(again.sources().get(0).recordIds())).size());
  }
}
