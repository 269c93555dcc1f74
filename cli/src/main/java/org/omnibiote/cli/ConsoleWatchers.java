package org.omnibiote.cli;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The watchers of {@code bench console}, in a process of their own (started at the lowest CPU
 * priority, as a browser elsewhere would take nothing from the training host): {@code N} clients
 * that each do what the page does (read the event stream; fetch /api/v1/checkpoints when an event
 * says a checkpoint was written) plus a Prometheus scrape of /metrics every 15 s (a common
 * scrape_interval; Prometheus' default is 1 m). Writes the number of SSE events read to {@code
 * FILE} every second. Arguments: BASE_URL N FILE [WINDOW_MS T0_MS]: with a window, the clients are
 * connected only in the odd windows {@code [T0 + k WINDOW, T0 + (k+1) WINDOW)} (epoch ms) and gone
 * in the even ones, so one run holds steps watched and steps not watched, close in time.
 */
final class ConsoleWatchers {
  private ConsoleWatchers() {}

  public static void main(String[] args) throws Exception {
    String base = args[0];
    int n = Integer.parseInt(args[1]);
    Path file = Path.of(args[2]);
    Windows windows =
        args.length > 4
            ? new Windows(Long.parseLong(args[3]), Long.parseLong(args[4]))
            : new Windows(0, 0);
    AtomicLong events = new AtomicLong();
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(() -> watch(base, windows, events), "watcher-" + i);
      t.setDaemon(true);
      t.start();
    }
    while (true) {
      Thread.sleep(1000);
      Files.writeString(file, Long.toString(events.get()));
    }
  }

  /** When the clients are connected: always (window 0), or in the odd windows from t0. */
  record Windows(long windowMs, long t0Ms) {
    /** The end of the watched window now in, or -1 when now is not in one. */
    long watchedUntil(long nowMs) {
      if (windowMs == 0) {
        return Long.MAX_VALUE;
      }
      long k = Math.floorDiv(nowMs - t0Ms, windowMs);
      return k >= 0 && k % 2 == 1 ? t0Ms + (k + 1) * windowMs : -1;
    }
  }

  private static void watch(String base, Windows windows, AtomicLong events) {
    HttpClient http = HttpClient.newHttpClient();
    while (true) {
      try {
        long until = windows.watchedUntil(System.currentTimeMillis());
        if (until < 0) {
          Thread.sleep(50); // not watched now
          continue;
        }
        HttpResponse<InputStream> r =
            http.send(
                HttpRequest.newBuilder(URI.create(base + "api/v1/stream")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in =
            new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
          long lastScrape = 0;
          for (String line; (line = in.readLine()) != null; ) {
            if (System.currentTimeMillis() >= until) {
              break; // the window ends: the page is closed (an event arrives every second)
            }
            if (line.startsWith("event:")) {
              events.incrementAndGet();
            }
            if (line.startsWith("data:") && line.contains("\"kind\":\"checkpoint\"")) {
              http.send(
                  HttpRequest.newBuilder(URI.create(base + "api/v1/checkpoints")).build(),
                  HttpResponse.BodyHandlers.discarding());
            }
            if (System.currentTimeMillis() - lastScrape > 15_000) {
              lastScrape = System.currentTimeMillis();
              http.send(
                  HttpRequest.newBuilder(URI.create(base + "metrics")).build(),
                  HttpResponse.BodyHandlers.discarding());
            }
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (Exception e) {
        try {
          Thread.sleep(100); // the console is not up yet
        } catch (InterruptedException x) {
          return;
        }
      }
    }
  }
}
