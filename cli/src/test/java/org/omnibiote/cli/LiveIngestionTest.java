package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.data.Adoption;
import org.omnibiote.data.DataSettings;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.data.TrainType;
import org.omnibiote.data.TrainingData;
import org.omnibiote.download.LocalHttpServer;
import org.omnibiote.schedule.Ledger;
import org.omnibiote.shards.NpyReader;

/**
 * Live ingestion end to end: a 2-worker {@code train} runs while GenBank and UniProt publish (a
 * local HTTP server with folders laid out as NCBI's and UniProt's, files from ../shared/data) and
 * {@code follow} commits data generations into the run's base_dir: a release, a UniRef100 release,
 * a daily file repeating records, one updating a record and adding another, a truncated one, and a
 * new UniRef100 release. The run adopts each at a step boundary; the ledger, the samples trained
 * and exactly-once are checked against the shards' tokens read with a plain .npy reader.
 */
class LiveIngestionTest {
  static final Path DATA = CliRun.shared().resolve("data");
  static final Path ORCHIDS =
      DATA.resolve("deb-python-biopython-doc_1.80+dfsg-4/GenBank/ls_orchid.gbk");
  static final Path SARS = DATA.resolve("gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb");
  static final Path VIRUSES = DATA.resolve("deb-emboss-test_6.6.0+dfsg-12/genbank/gbvrl1.seq");
  static final Path ESM = DATA.resolve("gh-facebookresearch-esm/some_proteins.fasta");
  static final Path PAX8 = DATA.resolve("deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN");
  static final int EOS = 3;

  @TempDir Path dir;

  static byte[] gzip(byte[] b) throws IOException {
    var bytes = new ByteArrayOutputStream();
    try (OutputStream o = new GZIPOutputStream(bytes)) {
      o.write(b);
    }
    return bytes.toByteArray();
  }

  static void publishUniRef(Path folder, String release, Path fasta) throws Exception {
    byte[] gz = gzip(Files.readAllBytes(fasta));
    Files.write(folder.resolve("uniref100.fasta.gz"), gz);
    Files.writeString(
        folder.resolve("RELEASE.metalink"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metalink version=\"3.0\""
            + " xmlns=\"http://www.metalinker.org/\">\n<version>"
            + release
            + "</version>\n<files>\n<file name=\"uniref100.fasta.gz\">\n<size>"
            + gz.length
            + "</size>\n<verification><hash type=\"md5\">"
            + HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(gz))
            + "</hash></verification>\n</file>\n</files>\n</metalink>\n");
  }

  /** The token ids of document {@code identity} of a generation, read from its shard. */
  static int[] documentTokens(Path shards, long generation, String identity) throws IOException {
    String line =
        Files.readAllLines(
                shards.resolve(String.format("generations/%06d/records.tsv", generation)))
            .stream()
            .filter(l -> l.endsWith("\t" + identity))
            .findFirst()
            .orElseThrow(() -> new AssertionError(identity + " not in generation " + generation));
    String[] f = line.split("\t");
    int[] ids = NpyReader.read(shards.resolve(f[0])).values();
    int doc = Integer.parseInt(f[1]);
    for (int i = 0, d = 0, start = 0; i < ids.length; i++) {
      if (ids[i] == EOS) {
        if (d++ == doc) {
          return Arrays.copyOfRange(ids, start, i + 1);
        }
        start = i + 1;
      }
    }
    throw new AssertionError("no document " + doc + " in " + f[0]);
  }

  static boolean holds(long[] row, int[] doc, int n) {
    outer:
    for (int i = 0; i + n <= row.length; i++) {
      for (int j = 0; j < n; j++) {
        if (row[i + j] != doc[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  static List<Ledger.Adopted> adopted(Path runDir) throws IOException {
    Path ledger = runDir.resolve(Ledger.FILE);
    List<Ledger.Adopted> out = new ArrayList<>();
    if (Files.exists(ledger)) {
      for (Ledger.Entry e : Ledger.read(ledger)) {
        if (e.adopted() != null) {
          out.add(e.adopted());
        }
      }
    }
    return out;
  }

  static void awaitAdopted(Path runDir, int n, Process train) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (adopted(runDir).size() < n) {
      assertTrue(train.isAlive(), "the run ended early");
      assertTrue(System.nanoTime() < deadline, "generation " + n + " not adopted within 60 s");
      Thread.sleep(200);
    }
  }

  /** {@code follow --once} against the local server's NCBI and UniProt folders. */
  CliRun follow(Path model, Path shards, LocalHttpServer server) {
    return CliRun.run(
        "follow",
        "--tokenizer",
        model.toString(),
        "--output",
        shards.toString(),
        "--genbank-release",
        server.url("ncbi/genbank/").toString(),
        "--genbank-daily",
        server.url("ncbi/genbank/daily-nc/").toString(),
        "--uniref",
        server.url("uniprot/uniref100/").toString(),
        "--once");
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void aRunningRunAdoptsEachPublishedGenerationAndTrainsTheNewRecordsAndNotTheSupersededOnes()
      throws Exception {
    // Generation 0: an ingest of viruses and SARS-CoV-2 and 500 proteins, with the small
    // vocabulary the cluster tests use (learnt from these records and the orchids).
    Path vocab = dir.resolve("vocab");
    IngestOutputs.smallVocabularyIngest(vocab, 512);
    Path model = vocab.resolve("small-vocabulary.model");
    Path shards = dir.resolve("shards");
    CliRun ingest =
        CliRun.run(
            "ingest",
            "--tokenizer",
            model.toString(),
            "--genbank",
            VIRUSES.toString(),
            "--uniref",
            DATA.resolve("deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta").toString(),
            "--output",
            shards.toString());
    assertEquals(0, ingest.exitCode(), ingest.err());
    // A local HTTP server plays NCBI and UniProt: their folders, filled as the test goes.
    Path web = dir.resolve("web");
    Path release = Files.createDirectories(web.resolve("ncbi/genbank"));
    Path daily = Files.createDirectories(web.resolve("ncbi/genbank/daily-nc"));
    Path uniref = Files.createDirectories(web.resolve("uniprot/uniref100"));
    LocalHttpServer server = LocalHttpServer.serve(web);

    Path runDir = dir.resolve("run");
    Process train =
        AdminCommandTest.startTrain(
            dir, shards, runDir, List.of("-Domnibiote.distributed.adopt-poll=500ms"));
    try {
      AdminCommandTest.awaitTraining(runDir.toString(), 2);
      // 1. The GenBank release (94 orchids) and UniRef100 2024_01 (15 proteins).
      Files.write(release.resolve("gbpln1.seq.gz"), gzip(Files.readAllBytes(ORCHIDS)));
      Files.writeString(release.resolve("GB_Release_Number"), "260\n");
      publishUniRef(uniref, "2024_01", ESM);
      CliRun f1 = follow(model, shards, server);
      assertEquals(0, f1.exitCode(), f1.err());
      awaitAdopted(runDir, 2, train);
      // 2. A daily file repeating release records publishes nothing.
      String orchids = Files.readString(ORCHIDS, StandardCharsets.ISO_8859_1);
      String first = orchids.substring(0, orchids.indexOf("\n//") + 3) + "\n";
      Files.write(
          daily.resolve("nc0101.flat.gz"), gzip(first.getBytes(StandardCharsets.ISO_8859_1)));
      assertEquals(0, follow(model, shards, server).exitCode());
      // 3. Z78533 version 2, its first bases changed, and SARS-CoV-2 (new to the follower).
      String updated =
          first
                  .replace("Z78533.1", "Z78533.2")
                  .replace("1 cgtaacaagg tttccgtagg", "1 ttttttttgg aaaaaaaagg")
              + Files.readString(SARS, StandardCharsets.ISO_8859_1);
      Files.write(
          daily.resolve("nc0102.flat.gz"), gzip(updated.getBytes(StandardCharsets.ISO_8859_1)));
      assertEquals(0, follow(model, shards, server).exitCode());
      awaitAdopted(runDir, 3, train);
      // 4. A truncated daily file: reported, nothing published, nothing adopted.
      byte[] whole = gzip(Files.readAllBytes(ORCHIDS));
      Files.write(daily.resolve("nc0103.flat.gz"), Arrays.copyOf(whole, whole.length / 2));
      CliRun truncated = follow(model, shards, server);
      assertTrue(truncated.err().contains("nc0103.flat.gz"), truncated.err());
      // 5. UniRef100 2024_02 supersedes 2024_01's clusters.
      publishUniRef(uniref, "2024_02", PAX8);
      assertEquals(0, follow(model, shards, server).exitCode());
      awaitAdopted(runDir, 4, train);
      // Two more epochs of genbank after the last adoption, then stop.
      long stepAtLast = AdminCommandTest.stepOf(runStatus(runDir));
      AdminCommandTest.await(
          () -> CliRun.run("admin", "status", "--run", runDir.toString()),
          r -> AdminCommandTest.stepOf(r.out()) > stepAtLast + 40,
          "40 steps after the last adoption");
      // The console shows the generations: committed by follow, adopted, the last one's counts.
      String url = Files.readString(runDir.resolve("console-url")).trim();
      String generations =
          java.net.http.HttpClient.newHttpClient()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create(url + "api/v1/data/generations"))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString())
              .body();
      assertTrue(generations.contains("\"committed\":4,\"adopted\":4"), generations);
      assertTrue(generations.contains("\"documents_superseded\":1"), generations);
      CliRun stop = CliRun.run("admin", "stop", "--run", runDir.toString());
      assertEquals(0, stop.exitCode(), stop.err());
      assertTrue(train.waitFor(90, TimeUnit.SECONDS), "the run ends after stop");
      assertEquals(0, train.exitValue(), Files.readString(dir.resolve("train.log")));
    } finally {
      train.destroyForcibly();
      train.waitFor(30, TimeUnit.SECONDS);
      server.close();
    }

    // The ledger: four adoptions, in order, each before a step that then ran.
    List<Ledger.Adopted> adopted = adopted(runDir);
    assertEquals(
        List.of(1L, 2L, 3L, 4L), adopted.stream().map(Ledger.Adopted::dataGeneration).toList());
    for (int i = 1; i < adopted.size(); i++) {
      assertTrue(
          adopted.get(i).firstSample() >= adopted.get(i - 1).firstSample(), adopted.toString());
    }
    assertTrue(adopted.get(0).documentsAdded() > 50, "orchids: " + adopted.get(0));
    assertEquals(1, adopted.get(2).documentsSuperseded(), "Z78533.1: " + adopted.get(2));
    assertTrue(adopted.get(3).documentsSuperseded() > 0, "2024_01's clusters: " + adopted.get(3));
    String log = Files.readString(dir.resolve("train.log"));
    for (int g = 1; g <= 4; g++) {
      assertTrue(log.contains("adopted data generation " + g), "generation " + g + " in " + log);
    }

    // Exactly once over the committed steps, and what they trained.
    List<Ledger.Entry> ledger = Ledger.read(runDir.resolve(Ledger.FILE));
    long samples =
        ledger.stream()
            .filter(e -> Ledger.Entry.COMMITTED.equals(e.status()))
            .flatMap(e -> e.parts().stream())
            .mapToLong(p -> p.firstSample() + p.rows())
            .max()
            .orElseThrow();
    Ledger.checkExactlyOnce(ledger, samples);
    List<Adoption> list =
        adopted.stream().map(a -> new Adoption(a.dataGeneration(), a.firstSample())).toList();
    int[] old = documentTokens(shards, 1, "Z78533.1");
    int[] update = documentTokens(shards, 3, "Z78533.2");
    // Rows of 64 tokens hold one orchid record each (its first 64 tokens): compare whole rows.
    int n = Math.min(64, Math.min(old.length, update.length));
    long oldAfter = 0;
    long updateAfter = 0;
    long updateBefore = 0;
    try (TrainingData data =
        TrainingData.open(
            shards, new DataSettings(TrainType.parse("mixed"), false, 64, null, 1337), list)) {
      long at = adopted.get(2).firstSample();
      for (long i = 0; i < samples; i++) {
        long[] row = data.row(i);
        if (i < at) {
          updateBefore += holds(row, update, n) ? 1 : 0;
        } else {
          oldAfter += holds(row, old, n) ? 1 : 0;
          updateAfter += holds(row, update, n) ? 1 : 0;
        }
      }
    }
    System.out.printf(
        "adoptions %s; over %d committed samples: Z78533.2 trained %d times after its adoption,"
            + " Z78533.1 %d times%n",
        adopted, samples, updateAfter, oldAfter);
    assertEquals(0, updateBefore, "Z78533.2 trained before it was published");
    assertEquals(0, oldAfter, "Z78533.1 trained after it was superseded");
    assertTrue(updateAfter >= 2, "Z78533.2 trained in each epoch after its adoption");
    assertFalse(Files.exists(shards.resolve("generations/000005.json")), "the truncated file");
  }

  static String runStatus(Path runDir) {
    return CliRun.run("admin", "status", "--run", runDir.toString()).out();
  }
}
