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
 * FILE} every second. Arguments: BASE_URL N FILE.
 */
final class ConsoleWatchers {
  private ConsoleWatchers() {}

  public static void main(String[] args) throws Exception {
    String base = args[0];
    int n = Integer.parseInt(args[1]);
    Path file = Path.of(args[2]);
    AtomicLong events = new AtomicLong();
    for (int i = 0; i < n; i++) {
      Thread t = new Thread(() -> watch(base, events), "watcher-" + i);
      t.setDaemon(true);
      t.start();
    }
    while (true) {
      Thread.sleep(1000);
      Files.writeString(file, Long.toString(events.get()));
    }
  }

  private static void watch(String base, AtomicLong events) {
    HttpClient http = HttpClient.newHttpClient();
    while (true) {
      try {
        HttpResponse<InputStream> r =
            http.send(
                HttpRequest.newBuilder(URI.create(base + "api/v1/stream")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in =
            new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
          long lastScrape = 0;
          for (String line; (line = in.readLine()) != null; ) {
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
