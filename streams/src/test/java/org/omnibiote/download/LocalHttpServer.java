package org.omnibiote.download;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real HTTP/1.1 server on 127.0.0.1 (a free port) for download tests: it serves the files under a
 * root folder the way a static web server does, and can be told to misbehave.
 *
 * <pre>{@code
 * try (LocalHttpServer server = LocalHttpServer.serve(folder)) {
 *   URI url = server.url("sub/file.seq.gz");   // http://127.0.0.1:PORT/sub/file.seq.gz
 *   server.failNext(2);                        // the next 2 requests get 503
 *   ...
 * }
 * }</pre>
 *
 * <p>Served: GET and HEAD of files (Content-Length, {@code Accept-Ranges: bytes}); single {@code
 * Range: bytes=a-b}, {@code a-} and {@code -n} requests (206 with Content-Range, or 416); an
 * Apache-style HTML index for folders ({@code <a href="name">}, sub-folders with a trailing '/');
 * exact request targets mapped to files with {@link #route} (for URLs with a query, like
 * E-utilities'); 302 redirects with {@link #redirect}; 404 for anything else.
 *
 * <p>Faults, each for the next N requests of its kind, counted from the call: {@link #failNext}
 * (503, or a status of your choice, to any request), {@link #cutNext} (a GET body stops after some
 * bytes and the connection is closed, so the client sees a truncated transfer), {@link #shortNext}
 * (a GET body ends cleanly after some bytes, sent chunked without a length, while HEAD keeps
 * telling the full size), {@link #stallNext} (a GET body stops after some bytes and the connection
 * stays silent), and {@link #ignoreRange} (answer Range requests with the whole file, 200).
 *
 * <p>{@link #requests()} records every request as {@code "GET /path"} (plus {@code " Range:
 * bytes=.."} when asked), for tests that check how the client behaved.
 */
public final class LocalHttpServer implements AutoCloseable {
  private static final long CUT_PAUSE_MILLIS = 200;
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");

  private final Path root;
  private final HttpServer server;
  private final ExecutorService executor;
  private final Map<String, Path> routes = new ConcurrentHashMap<>();
  private final Map<String, String> redirects = new ConcurrentHashMap<>();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final AtomicInteger failures = new AtomicInteger();
  private final AtomicInteger cuts = new AtomicInteger();
  private final AtomicLong cutAfter = new AtomicLong();
  private final AtomicInteger shorts = new AtomicInteger();
  private final AtomicLong shortAfter = new AtomicLong();
  private final AtomicInteger stalls = new AtomicInteger();
  private final AtomicLong stallAfter = new AtomicLong();
  private volatile boolean ignoreRange;
  private volatile int failStatus = 503;

  private LocalHttpServer(Path root) throws IOException {
    this.root = root.toAbsolutePath().normalize();
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    this.executor =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "local-http-server");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  /** Starts a server on 127.0.0.1 and a free port, serving the files under {@code root}. */
  public static LocalHttpServer serve(Path root) {
    try {
      return new LocalHttpServer(root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start a local HTTP server", e);
    }
  }

  /** {@code http://127.0.0.1:PORT/} */
  public URI url() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
  }

  /** The URL of {@code path} (relative to the root, may hold a query) on this server. */
  public URI url(String path) {
    return url().resolve(path.startsWith("/") ? path.substring(1) : path);
  }

  /**
   * Answers requests for exactly {@code target} (raw path plus {@code ?query} if any, as sent, e.g.
   * {@code /eutils/efetch.fcgi?db=nuccore&id=X}) with {@code file}, which may lie anywhere.
   */
  public LocalHttpServer route(String target, Path file) {
    routes.put(target.startsWith("/") ? target : "/" + target, file);
    return this;
  }

  /** Answers requests for path {@code from} with a 302 to {@code location}. */
  public LocalHttpServer redirect(String from, String location) {
    redirects.put(from.startsWith("/") ? from : "/" + from, location);
    return this;
  }

  /** The next {@code n} requests (any method) get 503 Service Unavailable. */
  public LocalHttpServer failNext(int n) {
    return failNext(n, 503);
  }

  /** The next {@code n} requests (any method) get {@code status} (e.g. 429, 500, 403). */
  public LocalHttpServer failNext(int n, int status) {
    failStatus = status;
    failures.set(n);
    return this;
  }

  /** The next {@code n} GET bodies stop after {@code bytes} bytes and the connection closes. */
  public LocalHttpServer cutNext(int n, long bytes) {
    cutAfter.set(bytes);
    cuts.set(n);
    return this;
  }

  /**
   * The next {@code n} GET bodies end cleanly after {@code bytes} bytes (chunked, no
   * Content-Length), like a proxy that lost the rest; HEAD still reports the full size.
   */
  public LocalHttpServer shortNext(int n, long bytes) {
    shortAfter.set(bytes);
    shorts.set(n);
    return this;
  }

  /**
   * The next {@code n} GET bodies go silent after {@code bytes} bytes (until the server closes).
   */
  public LocalHttpServer stallNext(int n, long bytes) {
    stallAfter.set(bytes);
    stalls.set(n);
    return this;
  }

  /** While on, Range headers are ignored and the whole file is sent with 200. */
  public LocalHttpServer ignoreRange(boolean on) {
    ignoreRange = on;
    return this;
  }

  /** Every request so far, in order, as {@code "METHOD /target"} plus {@code " Range: ..."}. */
  public List<String> requests() {
    return new ArrayList<>(requests);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  // ---------------------------------------------------------------------------------------

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      String target =
          ex.getRequestURI().getRawPath()
              + (ex.getRequestURI().getRawQuery() == null
                  ? ""
                  : "?" + ex.getRequestURI().getRawQuery());
      String range = ex.getRequestHeaders().getFirst("Range");
      requests.add(
          ex.getRequestMethod() + " " + target + (range == null ? "" : " Range: " + range));
      boolean head = ex.getRequestMethod().equals("HEAD");
      if (!head && !ex.getRequestMethod().equals("GET")) {
        sendText(ex, 405, "method not allowed\n");
        return;
      }
      if (takeOne(failures)) {
        sendText(ex, failStatus, "injected failure " + failStatus + "\n");
        return;
      }
      String location = redirects.get(ex.getRequestURI().getRawPath());
      if (location != null) {
        ex.getResponseHeaders().set("Location", location);
        ex.sendResponseHeaders(302, -1);
        return;
      }
      Path file = routes.get(target);
      if (file == null) {
        file = resolve(ex.getRequestURI().getPath());
      }
      if (file != null && Files.isDirectory(file)) {
        if (!ex.getRequestURI().getPath().endsWith("/")) {
          ex.getResponseHeaders().set("Location", ex.getRequestURI().getPath() + "/");
          ex.sendResponseHeaders(301, -1);
        } else {
          sendIndex(ex, file, head);
        }
      } else if (file != null && Files.isRegularFile(file)) {
        sendFile(ex, file, head, range);
      } else {
        sendText(ex, 404, "not found: " + target + "\n");
      }
    }
  }

  private Path resolve(String path) {
    Path p = root.resolve(path.startsWith("/") ? path.substring(1) : path).normalize();
    return p.startsWith(root) ? p : null;
  }

  private void sendFile(HttpExchange ex, Path file, boolean head, String range) throws IOException {
    long size = Files.size(file);
    Headers h = ex.getResponseHeaders();
    h.set("Content-Type", "application/octet-stream");
    h.set("Accept-Ranges", "bytes");
    long start = 0;
    long end = size - 1;
    int status = 200;
    if (range != null && !ignoreRange) {
      Matcher m = RANGE.matcher(range.trim());
      if (m.matches() && !(m.group(1).isEmpty() && m.group(2).isEmpty())) {
        if (m.group(1).isEmpty()) {
          start = Math.max(0, size - Long.parseLong(m.group(2)));
        } else {
          start = Long.parseLong(m.group(1));
          end = m.group(2).isEmpty() ? size - 1 : Math.min(Long.parseLong(m.group(2)), size - 1);
        }
        if (start >= size || start > end) {
          h.set("Content-Range", "bytes */" + size);
          sendText(ex, 416, "range not satisfiable\n");
          return;
        }
        status = 206;
        h.set("Content-Range", "bytes " + start + "-" + end + "/" + size);
      }
    }
    long length = end - start + 1;
    if (head) {
      // HEAD: the server may not be given a length, but the header may be set directly.
      h.set("Content-Length", Long.toString(length));
      ex.sendResponseHeaders(status, -1);
      return;
    }
    long limit = length;
    Fault fault = Fault.NONE;
    if (takeOne(cuts)) {
      fault = Fault.CUT;
      limit = Math.min(length, cutAfter.get());
    } else if (takeOne(shorts)) {
      fault = Fault.SHORT;
      limit = Math.min(length, shortAfter.get());
    } else if (takeOne(stalls)) {
      fault = Fault.STALL;
      limit = Math.min(length, stallAfter.get());
    }
    // Chunked (length 0) for the clean short body; the true length otherwise.
    ex.sendResponseHeaders(status, fault == Fault.SHORT ? 0 : length);
    OutputStream out = ex.getResponseBody();
    try (InputStream in = Files.newInputStream(file)) {
      in.skipNBytes(start);
      copy(in, out, limit);
      out.flush();
      if (fault == Fault.STALL) {
        Thread.sleep(Long.MAX_VALUE);
      }
      if (fault == Fault.CUT) {
        // A client drops bytes it has received but not yet read when the connection fails;
        // a pause before the cut lets it read what was sent, so the cut point is predictable.
        Thread.sleep(CUT_PAUSE_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (fault == Fault.CUT) {
      // A handler that fails makes the JDK server close the connection; the client then
      // sees fewer bytes than Content-Length promised, as when a network link drops.
      throw new IOException("response cut after " + limit + " bytes (injected fault)");
    }
  }

  private enum Fault {
    NONE,
    CUT,
    SHORT,
    STALL
  }

  private static void copy(InputStream in, OutputStream out, long limit) throws IOException {
    byte[] buf = new byte[8192];
    long left = limit;
    while (left > 0) {
      int n = in.read(buf, 0, (int) Math.min(buf.length, left));
      if (n < 0) {
        break;
      }
      out.write(buf, 0, n);
      left -= n;
    }
  }

  private static void sendIndex(HttpExchange ex, Path dir, boolean head) throws IOException {
    String path = ex.getRequestURI().getPath();
    StringBuilder html = new StringBuilder();
    html.append("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n<html>\n<head>\n")
        .append("<title>Index of ")
        .append(path)
        .append("</title>\n</head>\n<body>\n")
        .append("<h1>Index of ")
        .append(path)
        .append("</h1>\n<pre>")
        .append("<a href=\"?C=N;O=D\">Name</a>  <a href=\"?C=M;O=A\">Last modified</a>")
        .append("  <a href=\"?C=S;O=A\">Size</a>\n<hr><a href=\"../\">Parent Directory</a>\n");
    try (Stream<Path> entries = Files.list(dir)) {
      for (Path p : entries.sorted().toList()) {
        String name = p.getFileName().toString() + (Files.isDirectory(p) ? "/" : "");
        long size = Files.isDirectory(p) ? 0 : Files.size(p);
        html.append("<a href=\"")
            .append(name)
            .append("\">")
            .append(name)
            .append("</a>  ")
            .append(Files.getLastModifiedTime(p))
            .append("  ")
            .append(size)
            .append('\n');
      }
    }
    html.append("<hr></pre>\n</body>\n</html>\n");
    byte[] body = html.toString().getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "text/html;charset=UTF-8");
    if (head) {
      ex.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
      ex.sendResponseHeaders(200, -1);
      return;
    }
    ex.sendResponseHeaders(200, body.length);
    ex.getResponseBody().write(body);
  }

  private static void sendText(HttpExchange ex, int status, String text) throws IOException {
    byte[] body = text.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "text/plain;charset=UTF-8");
    if (ex.getRequestMethod().equals("HEAD")) {
      ex.sendResponseHeaders(status, -1);
      return;
    }
    ex.sendResponseHeaders(status, body.length);
    ex.getResponseBody().write(body);
  }

  private static boolean takeOne(AtomicInteger counter) {
    return counter.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0;
  }
}
