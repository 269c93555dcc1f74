package org.omnibiote.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.download.DownloadSettings;
import org.omnibiote.download.HttpDownloader;
import org.omnibiote.download.LocalHttpServer;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.GenerationStore;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * A local HTTP server plays NCBI (a GenBank release folder and daily-nc, files published one by
 * one) and UniProt (a UniRef100 folder named by RELEASE.metalink) with real records of
 * ../shared/data: what the follower publishes, generation by generation.
 */
class FollowerTest {
  @TempDir Path web;
  @TempDir Path out;

  static Path shared(String rel) {
    return Path.of(System.getProperty("omnibiote.shared")).resolve(rel).toAbsolutePath();
  }

  static final Path ORCHIDS =
      shared("data/deb-python-biopython-doc_1.80+dfsg-4/GenBank/ls_orchid.gbk");
  static final Path SARS = shared("data/gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb");
  static final Path VIRUSES = shared("data/deb-emboss-test_6.6.0+dfsg-12/genbank/gbvrl1.seq");
  static final Path QUERY = shared("data/deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta");
  static final Path ESM = shared("data/gh-facebookresearch-esm/some_proteins.fasta");
  static final Path MODEL = shared("tokenizers/mixed_bpe.model");

  static byte[] gzip(byte[] b) throws IOException {
    var bytes = new java.io.ByteArrayOutputStream();
    try (OutputStream o = new GZIPOutputStream(bytes)) {
      o.write(b);
    }
    return bytes.toByteArray();
  }

  static String md5(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
  }

  /** The first {@code n} records (LOCUS to //) of a GenBank file. */
  static String firstRecords(Path file, int n) throws IOException {
    String text = Files.readString(file, StandardCharsets.ISO_8859_1);
    int at = 0;
    for (int i = 0; i < n; i++) {
      at = text.indexOf("\n//", at) + 3;
    }
    return text.substring(0, at) + "\n";
  }

  void publishUniRef(String release, Path fasta) throws Exception {
    publishUniRef(Files.createDirectories(web.resolve("uniref100")), release, fasta);
  }

  /** A UniRef100 folder: the release's FASTA gzipped, named with its MD5 by RELEASE.metalink. */
  static void publishUniRef(Path folder, String release, Path fasta) throws Exception {
    byte[] gz = gzip(Files.readAllBytes(fasta));
    Files.write(folder.resolve("uniref100.fasta.gz"), gz);
    Files.writeString(
        folder.resolve("RELEASE.metalink"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metalink version=\"3.0\""
            + " xmlns=\"http://www.metalinker.org/\">\n<publisher><name>UniProt</name></publisher>\n"
            + "<version>"
            + release
            + "</version>\n<files>\n<file name=\"uniref100.fasta.gz\">\n<size>"
            + gz.length
            + "</size>\n<verification><hash type=\"md5\">"
            + md5(gz)
            + "</hash></verification>\n</file>\n<file name=\"uniref100.xml.gz\"><size>1</size></file>\n</files>\n</metalink>\n");
  }

  Follower follower(LocalHttpServer server, HttpDownloader http) throws IOException {
    Config config = ConfigFactory.load();
    IngestSettings settings = IngestSettings.from(config).withValFraction(0.2);
    Tokenizer tokenizer = SentencePieceTokenizer.load(MODEL);
    return new Follower(
        out,
        tokenizer,
        MODEL,
        settings,
        config,
        List.of(
            SourceFolder.of(SourceKind.GENBANK_RELEASE, server.url("genbank/").toString()),
            SourceFolder.of(SourceKind.GENBANK_DAILY, server.url("genbank/daily-nc/").toString()),
            SourceFolder.of(SourceKind.UNIREF100, server.url("uniref100/").toString())),
        http,
        1);
  }

  static long lines(Path root, Generation g) throws IOException {
    try (Stream<String> s = Files.lines(root.resolve(g.records()))) {
      return s.count();
    }
  }

  @Test
  void aReleaseThenDailyFilesThenANewUniRefReleaseArePublishedGenerationByGeneration()
      throws Exception {
    Path daily = Files.createDirectories(web.resolve("genbank/daily-nc"));
    Files.write(web.resolve("genbank/gbpln1.seq.gz"), gzip(Files.readAllBytes(ORCHIDS)));
    Files.writeString(web.resolve("genbank/GB_Release_Number"), "260\n");
    publishUniRef("2024_01", QUERY);
    try (LocalHttpServer server = LocalHttpServer.serve(web);
        HttpDownloader http =
            new HttpDownloader(DownloadSettings.fromConfig(ConfigFactory.load()), System.err)) {
      try (Follower f = follower(server, http)) {
        // 1. The release and UniRef100 2024_01.
        List<Generation> first = f.pollOnce();
        assertEquals(2, first.size());
        Generation release = first.get(0);
        assertEquals(1, release.generation());
        assertEquals("genbank-release", release.source().kind());
        assertEquals(94, release.added().documents(), "the 94 LOCUS records of ls_orchid.gbk");
        assertEquals(94, lines(out, release));
        Generation uniref1 = first.get(1);
        assertEquals("2024_01", uniref1.source().release());
        assertEquals(500, uniref1.added().documents());
        assertTrue(uniref1.source().md5() != null, "the MD5 the metalink publishes was checked");

        // 2. A daily file repeating release records adds nothing.
        Files.write(
            daily.resolve("nc0101.flat.gz"),
            gzip(firstRecords(ORCHIDS, 3).getBytes(StandardCharsets.ISO_8859_1)));
        assertTrue(f.pollOnce().isEmpty());

        // 3. An updated version and a new record: one added each, the old version superseded.
        String updated =
            firstRecords(ORCHIDS, 1).replace("Z78533.1", "Z78533.2")
                + Files.readString(SARS, StandardCharsets.ISO_8859_1);
        byte[] nc0102 = gzip(updated.getBytes(StandardCharsets.ISO_8859_1));
        Files.write(daily.resolve("nc0102.flat.gz"), nc0102);
        List<Generation> third = f.pollOnce();
        assertEquals(1, third.size());
        Generation g3 = third.get(0);
        assertEquals(3, g3.generation());
        assertEquals(2, g3.added().documents());
        assertEquals(1, g3.superseded().size());
        Generation.Superseded s = g3.superseded().get(0);
        assertEquals("Z78533.1", s.identity());
        assertEquals("Z78533.2", s.by());
        assertEquals(1, s.generation());
        assertEquals("nc0102.flat.gz", g3.source().name());

        // 4. A truncated daily file: reported, nothing published, the follower goes on.
        byte[] whole = gzip(Files.readAllBytes(VIRUSES));
        Files.write(
            daily.resolve("nc0103.flat.gz"), java.util.Arrays.copyOf(whole, whole.length / 2));
        assertTrue(f.pollOnce().isEmpty());
        assertFalse(Files.exists(new GenerationStore(new ShardLayout(out)).dataFolder(4)));

        // 5. The same content under another name publishes nothing.
        Files.write(daily.resolve("nc0104.flat.gz"), nc0102);
        assertTrue(f.pollOnce().isEmpty());

        // 6. UniRef100 2024_02 supersedes the clusters of 2024_01.
        publishUniRef("2024_02", ESM);
        List<Generation> sixth = f.pollOnce();
        assertEquals(1, sixth.size());
        Generation g4 = sixth.get(0);
        assertEquals(4, g4.generation());
        assertEquals(15, g4.added().documents());
        assertEquals(List.of(2L), g4.supersededGenerations());
      }
      // 7. A new follower on the folder knows all of it: nothing to publish.
      try (Follower again = follower(server, http)) {
        assertTrue(again.pollOnce().isEmpty());
      }
    }
    // What a reader sees: generation by generation, the superseded documents leave the live set.
    var gens = org.omnibiote.data.DataGenerations.list(out);
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L), gens.stream().map(g -> g.generation()).toList());
    String z78533 =
        Files.readAllLines(out.resolve("generations/000001/records.tsv")).stream()
            .filter(l -> l.endsWith("\tZ78533.1"))
            .findFirst()
            .orElseThrow();
    String shard = z78533.split("\t")[0];
    int doc = Integer.parseInt(z78533.split("\t")[1]);
    assertTrue(org.omnibiote.data.DataGenerations.liveDocuments(gens, 2).get(shard).get(doc));
    var afterUpdate = org.omnibiote.data.DataGenerations.liveDocuments(gens, 3);
    assertFalse(afterUpdate.get(shard).get(doc), "Z78533.1 is not sampled from generation 3 on");
    assertEquals(
        94 - 1,
        gens.get(1).shards().stream()
            .mapToInt(sh -> afterUpdate.get(sh.path()).cardinality())
            .sum());
    var afterRelease = org.omnibiote.data.DataGenerations.liveDocuments(gens, 4);
    assertEquals(
        0,
        gens.get(2).shards().stream()
            .mapToInt(sh -> afterRelease.get(sh.path()).cardinality())
            .sum(),
        "UniRef100 2024_01 is superseded by 2024_02");
    List<Generation> committed = new GenerationStore(new ShardLayout(out)).committed();
    assertEquals(4, committed.size());
    // Every shard a generation lists is in place and matches its SHA-256.
    for (Generation g : committed) {
      for (var sh : g.shards()) {
        assertEquals(sh.sha256(), org.omnibiote.shards.ShardWriter.sha256(out.resolve(sh.path())));
      }
      assertNull(g.problems().count() > 0 ? "problems in " + g.source().name() : null);
    }
  }
}
