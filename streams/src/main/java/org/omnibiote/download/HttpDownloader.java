package org.omnibiote.download;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.io.Daemons;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches files over HTTP(S) so that a big download survives a flaky network and never leaves a
 * half-written file under its final name.
 *
 * <ul>
 *   <li>Bytes go to {@code NAME.part} beside the target; after an interruption the next attempt (or
 *       the next run) continues it with a {@code Range} request. A server that ignores Range
 *       (answers 200) makes the part start over cleanly.
 *   <li>The finished size must equal what the server announced (Content-Length, the total of
 *       Content-Range, or HEAD); otherwise the part is removed and a {@link DownloadError} names
 *       the file and both sizes.
 *   <li>Connection errors, timeouts, 5xx and 429 are retried with exponential back-off; the count
 *       of failures restarts whenever an attempt brought new bytes.
 *   <li>The part is fsynced and renamed atomically to the final name.
 *   <li>A file already present under its final name is skipped when HEAD reports the same size, or
 *       no size at all (only complete, size-checked files ever get that name).
 * </ul>
 */
public final class HttpDownloader implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpDownloader.class);

  /** Suffix of the file being filled, beside the final one. */
  public static final String PART_SUFFIX = ".part";

  private static final Pattern CONTENT_RANGE =
      Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)", Pattern.CASE_INSENSITIVE);

  private static final String USER_AGENT =
      "omnibiote-jvm/"
          + Objects.requireNonNullElse(
              HttpDownloader.class.getPackage().getImplementationVersion(), "dev");

  private final DownloadSettings settings;
  private final PrintStream progressOut;
  private final HttpClient client;
  private final ScheduledExecutorService timer;

  public HttpDownloader(DownloadSettings settings) {
    this(settings, System.err);
  }

  /**
   * @param progressOut where progress lines of big files go (stderr on the command line)
   */
  public HttpDownloader(DownloadSettings settings, PrintStream progressOut) {
    this.settings = settings;
    this.progressOut = progressOut;
    this.client =
        HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NORMAL)
            .connectTimeout(settings.connectTimeout())
            .build();
    this.timer = Executors.newSingleThreadScheduledExecutor(Daemons.named("download-idle-watch"));
  }

  /**
   * Makes {@code dir/name} a complete copy of {@code url}: skips it when already complete,
   * continues a {@code name.part} left by an earlier attempt, or downloads it.
   *
   * @throws DownloadError for 404 and other refusals, a size mismatch, or exhausted retries
   */
  public DownloadResult fetch(URI url, Path dir, String name) {
    requireHttp(url);
    Path target = dir.resolve(name);
    Path part = dir.resolve(name + PART_SUFFIX);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UserError("cannot create folder " + dir + ": " + e.getMessage(), e);
    }
    long announced = retrying(url, () -> headSize(url), () -> 0L);
    if (Files.isRegularFile(target)) {
      long local = sizeOf(target);
      if (announced < 0 || announced == local) {
        log.info("{}: already complete ({} bytes), skipped", target, local);
        return new DownloadResult(target, local, 0, true);
      }
      log.warn(
          "{}: {} bytes here but the server now has {} bytes; downloading it again",
          target,
          local,
          announced);
    }
    long before = sizeOf(part);
    AtomicLong received = new AtomicLong();
    long size =
        retrying(url, () -> attempt(url, part, name, announced, received), () -> sizeOf(part));
    finish(part, target);
    log.info(
        "{}: {} bytes, {} of them fetched now{}",
        target,
        size,
        received.get(),
        before > 0 ? " (a partial download of " + before + " bytes was there)" : "");
    return new DownloadResult(target, size, received.get(), false);
  }

  /** The body of {@code url} as text (UTF-8), retried like a file; for directory indexes. */
  public String fetchText(URI url) {
    requireHttp(url);
    return retrying(url, () -> getText(url), () -> 0L);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }

  // ---------------------------------------------------------------------------------------

  /** A failure worth another try: a dropped or refused connection, a timeout, 5xx or 429. */
  private static final class Transient extends Exception {
    Transient(String message, Throwable cause) {
      super(message, cause);
    }
  }

  @FunctionalInterface
  private interface Attempt<T> {
    T run() throws Transient, IOException;
  }

  @FunctionalInterface
  private interface Progress {
    long bytes();
  }

  /**
   * Runs {@code attempt} until it succeeds, backing off between failures. An attempt that moved
   * {@code progress} forward resets the count, so a long file over a connection that keeps dropping
   * still completes, while a dead server fails after {@code retries}.
   */
  private <T> T retrying(URI url, Attempt<T> attempt, Progress progress) {
    int failures = 0;
    while (true) {
      long before = progress.bytes();
      try {
        return attempt.run();
      } catch (Transient | IOException e) {
        if (progress.bytes() > before) {
          failures = 0;
        }
        failures++;
        String why = describe(e);
        if (failures > settings.retries()) {
          throw new DownloadError(
              "could not download " + url + " (" + failures + " attempts in a row failed): " + why,
              e);
        }
        Duration wait = settings.backoff(failures);
        log.warn(
            "{}: {}; retry {} of {} in {} ms",
            url,
            why,
            failures,
            settings.retries(),
            wait.toMillis());
        sleep(wait);
      }
    }
  }

  private static String describe(Exception e) {
    if (e instanceof Transient) {
      return e.getMessage();
    }
    String msg = e.getMessage();
    return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
  }

  /** The innermost cause: the response stream wraps the real failure in "closed". */
  private static Exception root(Exception e) {
    Throwable t = e;
    while (t.getCause() instanceof Exception && t.getCause() != t) {
      t = t.getCause();
    }
    return (Exception) t;
  }

  /** The size HEAD reports, or -1 when the server does not say (or does not do HEAD). */
  private long headSize(URI url) throws Transient {
    HttpRequest req = request(url).method("HEAD", HttpRequest.BodyPublishers.noBody()).build();
    HttpResponse<Void> resp = send(req, HttpResponse.BodyHandlers.discarding());
    int status = resp.statusCode();
    failOnStatus(url, status, true);
    return status == 200 ? contentLength(resp).orElse(-1) : -1;
  }

  private String getText(URI url) throws Transient, IOException {
    HttpRequest req = request(url).GET().build();
    HttpResponse<InputStream> resp = send(req, HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream body = resp.body()) {
      failOnStatus(url, resp.statusCode(), false);
      ByteArrayOutputStream text = new ByteArrayOutputStream();
      IdleWatch watch = new IdleWatch(settings.readTimeout(), timer, body);
      try (watch) {
        byte[] buf = new byte[1 << 14];
        int n;
        while ((n = body.read(buf)) >= 0) {
          watch.beat();
          text.write(buf, 0, n);
        }
      } catch (IOException e) {
        String what =
            watch.fired()
                ? "no data for " + settings.readTimeout().toMillis() + " ms"
                : "connection lost";
        throw new Transient(what + " while reading " + url + ": " + describe(root(e)), e);
      }
      return text.toString(StandardCharsets.UTF_8);
    }
  }

  /** One GET of the rest of the file into {@code part}; returns the complete size. */
  private long attempt(URI url, Path part, String name, long announced, AtomicLong received)
      throws Transient, IOException {
    long offset = sizeOf(part);
    if (announced >= 0 && offset > announced) {
      log.info("{}: partial download is bigger than the file on the server; starting again", name);
      discard(part);
      offset = 0;
    }
    if (offset > 0 && offset == announced) {
      return offset; // complete, only the rename was missing (an earlier run stopped there)
    }
    HttpRequest.Builder req = request(url).GET();
    if (offset > 0) {
      req.header("Range", "bytes=" + offset + "-");
    }
    HttpResponse<InputStream> resp = send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream body = resp.body()) {
      int status = resp.statusCode();
      long expected;
      if (status == 206 && offset > 0) {
        String header = resp.headers().firstValue("Content-Range").orElse("");
        Matcher m = CONTENT_RANGE.matcher(header);
        if (!m.matches() || Long.parseLong(m.group(1)) != offset) {
          discard(part);
          throw new Transient(
              "asked for bytes from "
                  + offset
                  + " but got Content-Range '"
                  + header
                  + "'; starting again from the beginning",
              null);
        }
        expected = m.group(3).equals("*") ? announced : Long.parseLong(m.group(3));
      } else if (status == 200) {
        if (offset > 0) {
          log.info("{}: server ignored the Range request; downloading from the beginning", name);
          offset = 0;
        }
        expected = contentLength(resp).orElse(announced);
      } else if (status == 416 && offset > 0) {
        discard(part);
        throw new Transient(
            "server cannot continue at byte " + offset + " (HTTP 416); starting again", null);
      } else {
        failOnStatus(url, status, false);
        throw new DownloadError("unexpected HTTP " + status + " for " + url);
      }
      long size = copy(body, part, offset, name, expected, received);
      if (expected >= 0 && size != expected) {
        Files.deleteIfExists(part);
        throw new DownloadError(
            "size mismatch for "
                + name
                + ": the server announced "
                + expected
                + " bytes but "
                + size
                + " bytes arrived ("
                + url
                + "); the partial file was removed");
      }
      return size;
    }
  }

  /**
   * Appends the body to the part (or rewrites it when {@code offset} is 0), counting the bytes in
   * {@code received}; returns the part's size.
   */
  private long copy(
      InputStream body, Path part, long offset, String name, long expected, AtomicLong received)
      throws Transient {
    TransferProgress progress = new TransferProgress(progressOut, name, offset, expected, settings);
    long position = offset;
    IdleWatch watch = new IdleWatch(settings.readTimeout(), timer, body);
    try (watch;
        FileChannel out =
            FileChannel.open(
                part,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                offset > 0 ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = body.read(buf)) >= 0) {
        watch.beat();
        ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
        while (bb.hasRemaining()) {
          out.write(bb);
        }
        position += n;
        received.addAndGet(n);
        progress.update(position);
      }
    } catch (IOException e) {
      if (watch.fired()) {
        throw new Transient(
            "no data for " + settings.readTimeout().toMillis() + " ms after byte " + position, e);
      }
      throw new Transient("connection lost after byte " + position + ": " + describe(root(e)), e);
    }
    progress.finish(position);
    return position;
  }

  /** NCBI and UniProt ask automated clients to say who they are. */
  private HttpRequest.Builder request(URI url) {
    return HttpRequest.newBuilder(url)
        .timeout(settings.responseTimeout())
        .header("User-Agent", USER_AGENT);
  }

  private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler)
      throws Transient {
    try {
      return client.send(req, handler);
    } catch (IOException e) {
      throw new Transient(describe(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DownloadError("interrupted while downloading " + req.uri(), e);
    }
  }

  /** Sorts a status: fine (2xx, or any other HEAD answer), worth a retry, or a hard error. */
  private static void failOnStatus(URI url, int status, boolean head) throws Transient {
    if (status == 404 || status == 410) {
      throw new DownloadError("not found (HTTP " + status + "): " + url);
    }
    if (status == 429 || status >= 500) {
      throw new Transient("HTTP " + status + " from the server", null);
    }
    if (!head && (status < 200 || status >= 300)) {
      throw new DownloadError("the server refused " + url + " (HTTP " + status + ")");
    }
  }

  private static OptionalLong contentLength(HttpResponse<?> resp) {
    return resp.headers().firstValueAsLong("Content-Length");
  }

  /** fsync, then rename into place and fsync the folder so the new name survives a crash. */
  private static void finish(Path part, Path target) {
    try {
      AtomicFiles.forceFile(part);
      AtomicFiles.moveIntoPlace(part, target);
    } catch (IOException e) {
      throw new UserError("cannot move " + part + " to " + target + ": " + e.getMessage(), e);
    }
  }

  private static long sizeOf(Path file) {
    try {
      return Files.isRegularFile(file) ? Files.size(file) : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  private static void discard(Path part) throws IOException {
    Files.deleteIfExists(part);
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DownloadError("interrupted while waiting to retry", e);
    }
  }

  static void requireHttp(URI url) {
    if (!isHttp(url)) {
      throw new UserError("not an http(s) URL: '" + url + "'");
    }
  }

  private static boolean isHttp(URI url) {
    String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
    return (scheme.equals("https") || scheme.equals("http")) && url.getHost() != null;
  }

  /** Parses a URL given by the user (a flag or a config value), naming where it came from. */
  public static URI parseUrl(String text, String where) {
    URI url;
    try {
      url = new URI(text.trim());
    } catch (java.net.URISyntaxException e) {
      throw new UserError(where + ": not a valid URL: '" + text + "' (" + e.getReason() + ")");
    }
    if (!isHttp(url)) {
      throw new UserError(where + ": not an http(s) URL: '" + text + "'");
    }
    return url;
  }
}
