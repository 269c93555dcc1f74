package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.download.LocalHttpServer;

/** The command line end to end against a local server (streams' test-jar fixture). */
class DownloadCommandTest {
  private static final Path GENBANK =
      Path.of(System.getProperty("omnibiote.shared"), "data/deb-emboss-test_6.6.0+dfsg-12/genbank");

  @TempDir Path tmp;

  private static void gzip(Path source, Path target) throws IOException {
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(target))) {
      Files.copy(source, o);
    }
  }

  @Test
  void downloadsTheAskedDivisionsIntoOutputGenbank() throws Exception {
    Path rel = Files.createDirectories(tmp.resolve("www/genbank"));
    gzip(GENBANK.resolve("gbvrl1.seq"), rel.resolve("gbvrl1.seq.gz"));
    gzip(GENBANK.resolve("gbpln1.seq"), rel.resolve("gbpln1.seq.gz"));
    gzip(GENBANK.resolve("gbbct1.seq"), rel.resolve("gbbct1.seq.gz"));
    Path out = tmp.resolve("data");
    try (LocalHttpServer server = LocalHttpServer.serve(tmp.resolve("www"))) {
      CliRun r =
          run(
              "download",
              "--genbank-base-url",
              server.url("genbank").toString(),
              "--divisions",
              "vrl,pln",
              "--output",
              out.toString());
      assertEquals(0, r.exitCode(), r.err());
      assertTrue(r.out().startsWith("genbank: 2 files"), r.out());
      CliRun again =
          run(
              "download",
              "--genbank-base-url",
              server.url("genbank").toString(),
              "--divisions",
              "vrl,pln",
              "--output",
              out.toString());
      assertEquals(0, again.exitCode(), again.err());
      assertTrue(again.out().contains("(2 already complete; 0.0 MB fetched now)"), again.out());
    }
    assertArrayEquals(
        Files.readAllBytes(rel.resolve("gbvrl1.seq.gz")),
        Files.readAllBytes(out.resolve("genbank/gbvrl1.seq.gz")));
    assertTrue(Files.exists(out.resolve("genbank/gbpln1.seq.gz")));
    assertFalse(Files.exists(out.resolve("genbank/gbbct1.seq.gz")));
  }

  @Test
  void aMissingFileIsOneErrorLineNamingTheUrl() throws Exception {
    try (LocalHttpServer server =
        LocalHttpServer.serve(Files.createDirectories(tmp.resolve("www")))) {
      String url = server.url("uniref/uniref100.fasta.gz").toString();
      CliRun r = run("download", "--uniref", "--uniref-url", url, "--output", tmp.toString());
      assertEquals(2, r.exitCode());
      assertEquals("error: not found (HTTP 404): " + url, r.err().strip());
    }
  }

  @Test
  void badFlagsAreRefusedWithoutTouchingTheNetwork() {
    CliRun none = run("download", "--output", tmp.toString());
    assertEquals(2, none.exitCode());
    assertTrue(none.err().startsWith("error: nothing to download"), none.err());

    CliRun div = run("download", "--divisions", "vrl,v1", "--output", tmp.toString());
    assertEquals(2, div.exitCode());
    assertTrue(
        div.err().startsWith("error: --divisions: 'v1' is not a GenBank division"), div.err());

    CliRun url =
        run(
            "download",
            "--genbank",
            "--genbank-base-url",
            "ftp.ncbi.nlm.nih.gov/genbank",
            "--output",
            tmp.toString());
    assertEquals(2, url.exitCode());
    assertTrue(url.err().startsWith("error: --genbank-base-url: not an http(s) URL"), url.err());

    CliRun max = run("download", "--max-files", "0", "--output", tmp.toString());
    assertEquals(2, max.exitCode());
    assertTrue(max.err().startsWith("error: --max-files must be at least 1"), max.err());

    CliRun missing = run("download", "--genbank");
    assertEquals(2, missing.exitCode());
    assertTrue(missing.err().contains("Missing required option: '--output=DIR'"), missing.err());
  }
}
