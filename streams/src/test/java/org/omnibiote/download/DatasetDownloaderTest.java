package org.omnibiote.download;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetDownloaderTest {
  @TempDir static Path www;
  static Path release;
  @TempDir Path out;
  LocalHttpServer server;
  HttpDownloader http;
  DatasetDownloader datasets;

  @BeforeAll
  static void makeRelease() throws Exception {
    release = ReleaseFixture.release(www);
    Path uniref = Files.createDirectories(www.resolve("uniref100"));
    ReleaseFixture.gzip(
        ReleaseFixture.DATA.resolve("gh-ahl27-GRarr/UP000000625_83333.fasta"),
        uniref.resolve("uniref100.fasta.gz"));
  }

  @BeforeEach
  void serveRelease() {
    server = LocalHttpServer.serve(www);
    http = new HttpDownloader(ReleaseFixture.fastSettings(2));
    datasets = new DatasetDownloader(http);
  }

  @AfterEach
  void stop() {
    http.close();
    server.close();
  }

  private List<String> downloaded() throws IOException {
    try (Stream<Path> files = Files.list(out.resolve("genbank"))) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void fetchesTheListedFilesOfTheAskedDivisions() throws Exception {
    List<DownloadResult> results =
        datasets.genBank(server.url("genbank"), List.of("vrl", "phg"), 0, out);
    assertEquals(3, results.size());
    assertEquals(List.of("gbphg1.seq.gz", "gbvrl1.seq.gz", "gbvrl2.seq.gz"), downloaded());
    for (String name : downloaded()) {
      assertArrayEquals(
          ReleaseFixture.bytes(release.resolve(name)),
          ReleaseFixture.bytes(out.resolve("genbank").resolve(name)),
          name);
    }
    assertTrue(server.requests().contains("GET /genbank/"), server.requests().toString());
  }

  @Test
  void maxFilesLimitsTheDownload() throws Exception {
    datasets.genBank(server.url("genbank/"), List.of("pln", "vrl"), 3, out);
    assertEquals(List.of("gbpln1.seq.gz", "gbpln2.seq.gz", "gbvrl1.seq.gz"), downloaded());
  }

  @Test
  void aSecondRunSkipsFinishedFilesAndFetchesOnlyNewOnes() throws Exception {
    datasets.genBank(server.url("genbank"), List.of("vrl"), 1, out);
    List<DownloadResult> again = datasets.genBank(server.url("genbank"), List.of("vrl"), 2, out);
    assertEquals(List.of(true, false), again.stream().map(DownloadResult::skipped).toList());
    assertEquals(List.of("gbvrl1.seq.gz", "gbvrl2.seq.gz"), downloaded());
  }

  @Test
  void divisionsWithoutFilesAreAnErrorNamingTheListing() {
    DownloadError e =
        assertThrows(
            DownloadError.class,
            () -> datasets.genBank(server.url("genbank"), List.of("xyz"), 0, out));
    assertTrue(
        e.getMessage()
            .startsWith(
                "no GenBank release files (gbxyz*.seq.gz) are listed at " + server.url("genbank/")),
        e.getMessage());
  }

  @Test
  void aMissingReleaseFolderIsA404NamingIt() {
    DownloadError e =
        assertThrows(
            DownloadError.class,
            () -> datasets.genBank(server.url("no-such-release"), List.of(), 0, out));
    assertEquals("not found (HTTP 404): " + server.url("no-such-release/"), e.getMessage());
  }

  @Test
  void uniRefGoesToItsOwnFolderUnderItsFileName() throws Exception {
    Path fasta = www.resolve("uniref100");
    DownloadResult r = datasets.uniRef100(server.url("uniref100/uniref100.fasta.gz"), out);
    assertEquals(out.resolve("uniref100/uniref100.fasta.gz"), r.file());
    assertArrayEquals(
        ReleaseFixture.bytes(fasta.resolve("uniref100.fasta.gz")), ReleaseFixture.bytes(r.file()));
  }
}
