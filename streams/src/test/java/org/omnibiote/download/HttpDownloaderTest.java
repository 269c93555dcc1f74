package org.omnibiote.download;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HttpDownloaderTest {
  @TempDir static Path www;
  static Path release;
  @TempDir Path out;
  LocalHttpServer server;

  @BeforeAll
  static void makeRelease() throws Exception {
    release = ReleaseFixture.release(www);
  }

  @BeforeEach
  void serveRelease() {
    server = LocalHttpServer.serve(www);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private DownloadResult fetch(int retries, String name) {
    try (HttpDownloader d = new HttpDownloader(ReleaseFixture.fastSettings(retries))) {
      return d.fetch(server.url("genbank/" + name), out, name);
    }
  }

  private byte[] source(String name) {
    return ReleaseFixture.bytes(release.resolve(name));
  }

  private long rangeRequests() {
    return server.requests().stream().filter(r -> r.contains("Range:")).count();
  }

  @Test
  void downloadsTheExactBytesUnderTheFinalNameAndLeavesNoPart() {
    DownloadResult r = fetch(0, "gbpri1.seq.gz");
    assertArrayEquals(source("gbpri1.seq.gz"), ReleaseFixture.bytes(out.resolve("gbpri1.seq.gz")));
    assertEquals(source("gbpri1.seq.gz").length, r.size());
    assertFalse(r.skipped());
    assertFalse(Files.exists(out.resolve("gbpri1.seq.gz.part")));
  }

  /** The offset of the one Range request made, checked to lie inside (0, limit]. */
  private long resumedAt(long limit) {
    List<String> ranged = server.requests().stream().filter(r -> r.contains("Range:")).toList();
    assertEquals(1, ranged.size(), server.requests().toString());
    Matcher m = Pattern.compile(".* Range: bytes=(\\d+)-").matcher(ranged.get(0));
    assertTrue(m.matches(), ranged.get(0));
    long offset = Long.parseLong(m.group(1));
    assertTrue(offset > 0 && offset <= limit, "resumed at " + offset);
    return offset;
  }

  @Test
  void continuesAfterACutConnectionWithARangeRequest() {
    server.cutNext(1, 300_000);
    DownloadResult r = fetch(2, "gbpri1.seq.gz");
    assertArrayEquals(source("gbpri1.seq.gz"), ReleaseFixture.bytes(r.file()));
    resumedAt(300_000);
    assertEquals(r.size(), r.transferred(), "all bytes came in this run");
  }

  @Test
  void aRunStoppedByACutKeepsThePartAndTheNextRunContinuesIt() {
    server.cutNext(1, 250_000);
    DownloadError e = assertThrows(DownloadError.class, () -> fetch(0, "gbpri1.seq.gz"));
    assertTrue(e.getMessage().contains("connection lost after byte"), e.getMessage());
    Path part = out.resolve("gbpri1.seq.gz.part");
    long kept = part.toFile().length();
    assertTrue(kept > 0 && kept <= 250_000, "part of " + kept + " bytes");
    assertFalse(Files.exists(out.resolve("gbpri1.seq.gz")), "no final file for a partial download");

    DownloadResult r = fetch(0, "gbpri1.seq.gz");
    byte[] src = source("gbpri1.seq.gz");
    assertArrayEquals(src, ReleaseFixture.bytes(r.file()));
    assertEquals(kept, resumedAt(250_000), "the next run continues the part");
    assertEquals(src.length - kept, r.transferred(), "only the rest is fetched");
    assertFalse(Files.exists(part));
  }

  @Test
  void startsCleanlyWhenTheServerIgnoresRange() throws Exception {
    byte[] src = source("gbpri1.seq.gz");
    Files.write(out.resolve("gbpri1.seq.gz.part"), Arrays.copyOf(src, 100_000));
    server.ignoreRange(true);
    DownloadResult r = fetch(0, "gbpri1.seq.gz");
    assertEquals(1, rangeRequests(), "a resume was asked for");
    assertArrayEquals(src, ReleaseFixture.bytes(r.file()), "the whole file, not part + whole file");
    assertEquals(src.length, r.transferred());
  }

  @Test
  void retriesAfter503sWithBackOff() {
    server.failNext(3);
    DownloadResult r = fetch(3, "gbvrl1.seq.gz");
    assertArrayEquals(source("gbvrl1.seq.gz"), ReleaseFixture.bytes(r.file()));
    assertEquals(5, server.requests().size(), "3 failed + HEAD + GET: " + server.requests());
  }

  @Test
  void tooManyRequestsIsRetriedButAForbiddenIsNot() {
    server.failNext(2, 429);
    assertFalse(fetch(2, "gbvrl1.seq.gz").skipped());
    // A refused HEAD only means "size unknown" (some servers allow GET only); a refused GET
    // is an error at once.
    server.failNext(2, 403);
    int before = server.requests().size();
    DownloadError e = assertThrows(DownloadError.class, () -> fetch(2, "gbvrl2.seq.gz"));
    assertEquals(
        "the server refused " + server.url("genbank/gbvrl2.seq.gz") + " (HTTP 403)",
        e.getMessage());
    assertEquals(
        List.of("HEAD /genbank/gbvrl2.seq.gz", "GET /genbank/gbvrl2.seq.gz"),
        server.requests().subList(before, server.requests().size()));
  }

  @Test
  void givesUpNamingTheUrlWhenTheServerKeepsFailing() {
    server.failNext(100);
    DownloadError e = assertThrows(DownloadError.class, () -> fetch(2, "gbvrl1.seq.gz"));
    assertTrue(
        e.getMessage().contains(server.url("genbank/gbvrl1.seq.gz").toString()), e.getMessage());
    assertTrue(e.getMessage().contains("3 attempts in a row failed"), e.getMessage());
    assertTrue(e.getMessage().contains("HTTP 503"), e.getMessage());
    assertEquals(3, server.requests().size());
  }

  @Test
  void givesUpWhenNothingListensOnThePort() {
    URI dead = server.url("genbank/gbvrl1.seq.gz");
    server.close();
    try (HttpDownloader d = new HttpDownloader(ReleaseFixture.fastSettings(1))) {
      DownloadError e = assertThrows(DownloadError.class, () -> d.fetch(dead, out, "x.seq.gz"));
      assertTrue(e.getMessage().contains("could not download " + dead), e.getMessage());
      assertTrue(e.getMessage().contains("ConnectException"), e.getMessage());
    }
  }

  @Test
  void aBodyShorterThanAnnouncedIsASizeMismatchNamingFileAndSizes() {
    long full = source("gbpri1.seq.gz").length;
    server.shortNext(1, 1000);
    DownloadError e = assertThrows(DownloadError.class, () -> fetch(3, "gbpri1.seq.gz"));
    assertTrue(e.getMessage().startsWith("size mismatch for gbpri1.seq.gz"), e.getMessage());
    assertTrue(
        e.getMessage().contains("announced " + full + " bytes but 1000 bytes arrived"),
        e.getMessage());
    assertFalse(Files.exists(out.resolve("gbpri1.seq.gz")));
    assertFalse(Files.exists(out.resolve("gbpri1.seq.gz.part")));
  }

  @Test
  void aFinishedFileIsSkippedOnTheNextRun() {
    fetch(0, "gbvrl1.seq.gz");
    int before = server.requests().size();
    DownloadResult again = fetch(0, "gbvrl1.seq.gz");
    assertTrue(again.skipped());
    assertEquals(0, again.transferred());
    assertEquals(
        List.of("HEAD /genbank/gbvrl1.seq.gz"),
        server.requests().subList(before, server.requests().size()));
  }

  @Test
  void aLocalFileOfAnotherSizeIsFetchedAgain() throws Exception {
    Files.writeString(out.resolve("gbvrl1.seq.gz"), "an older, shorter copy");
    DownloadResult r = fetch(0, "gbvrl1.seq.gz");
    assertFalse(r.skipped());
    assertArrayEquals(source("gbvrl1.seq.gz"), ReleaseFixture.bytes(r.file()));
  }

  @Test
  void aCompletePartIsOnlyRenamed() throws Exception {
    Files.write(out.resolve("gbvrl1.seq.gz.part"), source("gbvrl1.seq.gz"));
    DownloadResult r = fetch(0, "gbvrl1.seq.gz");
    assertArrayEquals(source("gbvrl1.seq.gz"), ReleaseFixture.bytes(r.file()));
    assertEquals(List.of("HEAD /genbank/gbvrl1.seq.gz"), server.requests());
  }

  @Test
  void notFoundNamesTheUrl() {
    DownloadError e = assertThrows(DownloadError.class, () -> fetch(3, "gbzzz9.seq.gz"));
    assertEquals("not found (HTTP 404): " + server.url("genbank/gbzzz9.seq.gz"), e.getMessage());
    assertEquals(1, server.requests().size(), "404 is not retried");
  }

  @Test
  void aStalledBodyIsDroppedAfterTheReadTimeoutAndResumed() {
    server.stallNext(1, 200_000);
    DownloadSettings s = ReleaseFixture.fastSettings(2);
    s =
        new DownloadSettings(
            s.retries(),
            s.backoffBase(),
            s.backoffMax(),
            s.connectTimeout(),
            s.responseTimeout(),
            Duration.ofMillis(300),
            s.progressMinBytes(),
            s.progressInterval());
    try (HttpDownloader d = new HttpDownloader(s)) {
      DownloadResult r = d.fetch(server.url("genbank/gbpri1.seq.gz"), out, "gbpri1.seq.gz");
      assertArrayEquals(source("gbpri1.seq.gz"), ReleaseFixture.bytes(r.file()));
    }
    resumedAt(200_000);
  }

  @Test
  void followsRedirects() {
    server.redirect("/moved/gbvrl1.seq.gz", "/genbank/gbvrl1.seq.gz");
    try (HttpDownloader d = new HttpDownloader(ReleaseFixture.fastSettings(0))) {
      DownloadResult r = d.fetch(server.url("moved/gbvrl1.seq.gz"), out, "gbvrl1.seq.gz");
      assertArrayEquals(source("gbvrl1.seq.gz"), ReleaseFixture.bytes(r.file()));
    }
  }

  @Test
  void bigFilesPrintAProgressLineWithRateAndEta() {
    DownloadSettings s = ReleaseFixture.fastSettings(0);
    s =
        new DownloadSettings(
            s.retries(),
            s.backoffBase(),
            s.backoffMax(),
            s.connectTimeout(),
            s.responseTimeout(),
            s.readTimeout(),
            500_000,
            Duration.ofSeconds(5));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (HttpDownloader d =
        new HttpDownloader(s, new PrintStream(err, true, StandardCharsets.UTF_8))) {
      d.fetch(server.url("genbank/gbpri1.seq.gz"), out, "gbpri1.seq.gz");
      d.fetch(server.url("genbank/gbvrl1.seq.gz"), out, "gbvrl1.seq.gz");
    }
    String text = err.toString(StandardCharsets.UTF_8);
    double mb = source("gbpri1.seq.gz").length / 1e6;
    String total = String.format(java.util.Locale.ROOT, "%.1f / %.1f MB (100.0%%)", mb, mb);
    assertTrue(text.startsWith("gbpri1.seq.gz: " + total + ", "), text);
    assertTrue(text.matches("(?s).*[0-9.]+ MB/s, ETA 0:00:00\\n"), text);
    assertFalse(text.contains("gbvrl1"), "small files print no progress: " + text);
  }

  @Test
  void refusesUrlsThatAreNotHttp() {
    try (HttpDownloader d = new HttpDownloader(ReleaseFixture.fastSettings(0))) {
      org.omnibiote.UserError e =
          assertThrows(
              org.omnibiote.UserError.class,
              () -> d.fetch(URI.create("ftp://127.0.0.1/genbank/gbvrl1.seq.gz"), out, "x"));
      assertTrue(e.getMessage().contains("not an http(s) URL"), e.getMessage());
    }
  }
}
