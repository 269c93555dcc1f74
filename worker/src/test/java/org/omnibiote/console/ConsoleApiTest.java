package org.omnibiote.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.cluster.RunCompletion;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.schedule.Ledger;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.worker.EmbeddedRun;

/**
 * The console's JSON API, stream, /metrics and health checks against a real embedded run (the
 * coordinator and a worker in this JVM, as {@code train}), over real HTTP: every endpoint, the
 * 400/401/404 answers, actions applied at step boundaries and recorded in the ledger, a changed
 * token_budget kept by the resumed run, Prometheus text parsed by the Prometheus project's own
 * Python parser, TLS from a PKCS12 keystore and the token rules beyond loopback.
 */
class ConsoleApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "console-test-token-7f3a";
  private static final int CTX = 64;
  private static final int BATCH = 8;
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir static Path shards;
  @TempDir Path dir;

  @BeforeAll
  static void ingest() throws Exception {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  /** A run that lasts until stopped (token_budget for 10^6 steps), its console on a free port. */
  private static Config run(Path runDir, int port, Map<String, Object> console) {
    Map<String, Object> m = new HashMap<>();
    m.put("base_dir", shards.toString());
    m.put("save_name", runDir.resolve("omnibiota").toString());
    m.put("n_layer", 1);
    m.put("n_embd", 32);
    m.put("n_head", 2);
    m.put("ctx_len", CTX);
    m.put("batch_size", BATCH);
    m.put("mini_batch_size", 4);
    m.put("token_budget", 1e6 * BATCH * CTX);
    m.put("test_freq", 20.0 * BATCH * CTX);
    m.put("save_freq", 1e12);
    m.put("progress_interval", 0);
    Map<String, Object> c = new HashMap<>(console);
    c.put("port", port);
    return ConfigFactory.parseMap(m)
        .atPath(TrainSettings.PATH)
        .withFallback(ConfigFactory.parseMap(c).atPath("omnibiote.console"))
        .withFallback(ConfigFactory.load());
  }

  private static CompletableFuture<RunCompletion.Result> start(Config c) {
    CompletableFuture<RunCompletion.Result> f = new CompletableFuture<>();
    Thread t =
        new Thread(
            () -> {
              try {
                f.complete(EmbeddedRun.run(c, new PrintStream(new ByteArrayOutputStream())));
              } catch (Throwable e) {
                f.completeExceptionally(e);
              }
            },
            "embedded-run");
    t.setDaemon(true);
    t.start();
    return f;
  }

  @Test
  void theApiShowsTheRunAndItsActionsApplyAtStepBoundariesAndAreRecorded() throws Exception {
    Path runDir = dir.resolve("run");
    int port = freePort();
    CompletableFuture<RunCompletion.Result> result =
        start(run(runDir, port, Map.of("token", TOKEN)));
    Api api = new Api("http://127.0.0.1:" + port, HttpClient.newHttpClient());
    await(() -> api.get("/ready", null).status() == 200, "the console is ready");
    await(() -> api.json("/api/v1/run").get("step").asLong() >= 3, "steps are committed");

    // Health and the page.
    assertEquals(200, api.get("/alive", null).status());
    Reply page = api.get("/", null);
    assertEquals(200, page.status());
    assertTrue(page.body().contains("<html"), "the page is served");
    assertEquals(200, api.get("/webjars/uplot/uPlot.iife.min.js", null).status());

    // Every read.
    JsonNode run = api.json("/api/v1/run");
    assertEquals("running", run.get("phase").asText());
    assertEquals(1_000_000, run.get("total_steps").asLong());
    assertEquals(1, run.get("world_size").asInt());
    assertEquals("64", run.get("settings").get("ctx_len").asText());
    JsonNode workers = api.json("/api/v1/workers");
    assertEquals(1, workers.size());
    JsonNode w = workers.get(0);
    assertEquals(0, w.get("rank").asInt());
    assertEquals("cpu", w.get("device").asText());
    assertEquals(ProcessHandle.current().pid(), w.get("pid").asLong());
    await(
        () -> api.json("/api/v1/workers/w1").get("rss_mb").asDouble() > 0,
        "the heartbeat brings the worker's memory");
    assertTrue(api.json("/api/v1/workers/w1/log").get("lines").size() > 0, "its log lines");
    assertTrue(api.json("/api/v1/workers/w1").get("heartbeat_age_seconds").asDouble() < 5);
    JsonNode metrics = api.json("/api/v1/metrics?since=0&val_since=0");
    assertTrue(metrics.get("train").size() >= 3);
    JsonNode row = metrics.get("train").get(0);
    for (String k :
        List.of("step", "tokens", "time", "loss", "lr", "batch", "tokens_per_s", "mfu")) {
      assertTrue(row.has(k), "a metrics row has " + k);
    }
    for (String k : List.of("compute_s", "wait_s", "comm_s")) {
      assertTrue(row.has(k), "the step time split has " + k);
    }
    long lastSeq = metrics.get("train_last").asLong();
    assertTrue(
        api.json("/api/v1/metrics?since=" + lastSeq + "&val_since=0").get("train").size() < 3,
        "since= gives only newer points");
    JsonNode data = api.json("/api/v1/data");
    assertEquals(2, data.size(), "mixed: genbank and uniref100");
    assertTrue(data.get(0).get("train_rows").asLong() > 0);
    JsonNode generations = api.json("/api/v1/data/generations");
    assertEquals(0, generations.get("adopted").asLong(), "no data generation: " + generations);
    assertEquals(0, generations.get("adoptions").size());
    assertTrue(api.json("/api/v1/events?since=0").size() > 0);
    assertEquals(0, api.json("/api/v1/checkpoints").size());
    assertEquals("1.0E12", api.json("/api/v1/settings").get("save_freq").asText());

    // 404, 400, 401.
    assertEquals(404, api.get("/api/v1/nothing", null).status());
    assertEquals(404, api.get("/api/v1/workers/w9", null).status());
    assertEquals(404, api.get("/elsewhere", null).status());
    assertEquals(400, api.get("/api/v1/events?since=x", null).status());
    assertEquals(401, api.post("/api/v1/actions/pause", "", null).status());
    assertEquals(401, api.post("/api/v1/actions/pause", "", "wrong").status());
    assertEquals(404, api.post("/api/v1/actions/reboot", "", TOKEN).status());
    assertEquals(404, api.post("/api/v1/workers/w9/evict", "", TOKEN).status());
    Reply bad = api.post("/api/v1/settings", "{save_freq: ", TOKEN);
    assertEquals(400, bad.status());
    assertTrue(bad.body().contains("not JSON"), bad.body());
    assertEquals(400, api.post("/api/v1/settings", "{\"save_freq\": \"often\"}", TOKEN).status());
    assertEquals(400, api.post("/api/v1/settings", "{\"lr\": 0.1}", TOKEN).status());
    Reply spent = api.post("/api/v1/settings", "{\"token_budget\": 1000}", TOKEN);
    assertEquals(400, spent.status());
    assertTrue(spent.body().contains("give more than"), spent.body());

    // The stream: a state event at once, then metrics within 2 s of each step.
    List<String> events = api.stream(Duration.ofSeconds(3));
    assertTrue(events.contains("state"), "the stream opens with the state: " + events);
    assertTrue(events.contains("metrics"), "and brings the steps' metrics: " + events);

    // Prometheus, parsed by prometheus_client.
    Reply prom = api.get("/metrics", null);
    assertEquals(200, prom.status());
    assertTrue(prom.contentType().startsWith("text/plain"), prom.contentType());
    JsonNode families = parsePrometheus(prom.body());
    assertEquals("counter", families.get("omnibiote_steps").get("type").asText());
    assertTrue(
        families.get("omnibiote_steps").get("samples").get("omnibiote_steps_total").asDouble()
            >= 3);
    assertEquals("gauge", families.get("omnibiote_train_loss").get("type").asText());
    assertTrue(families.has("omnibiote_step_seconds"));
    assertEquals("gauge", families.get("omnibiote_data_generations_adopted").get("type").asText());
    assertTrue(families.has("omnibiote_worker_resident_memory_bytes"));
    assertTrue(
        families.get("omnibiote_phase").get("samples").toString().contains("running"),
        families.get("omnibiote_phase").toString());

    // Pause: no step commits while paused.
    Reply paused = api.post("/api/v1/actions/pause", "", TOKEN);
    assertEquals(202, paused.status(), paused.body());
    await(() -> api.json("/api/v1/run").get("phase").asText().equals("paused"), "paused");
    long at = api.json("/api/v1/run").get("step").asLong();
    long committed = committedSteps(runDir);
    Thread.sleep(1500);
    assertEquals(at, api.json("/api/v1/run").get("step").asLong(), "no step while paused");
    assertEquals(committed, committedSteps(runDir), "the ledger gains no step while paused");

    // Changes while paused apply at once (a paused run is at a boundary).
    assertEquals(
        202,
        api.post("/api/v1/settings", "{\"token_budget\": " + (at + 200) * BATCH * CTX + "}", TOKEN)
            .status());
    await(
        () -> api.json("/api/v1/run").get("total_steps").asLong() == at + 200,
        "token_budget re-plans the run");
    assertEquals(202, api.post("/api/v1/actions/checkpoint", "", TOKEN).status());
    await(() -> api.json("/api/v1/checkpoints").size() == 1, "the checkpoint is listed");
    JsonNode cp = api.json("/api/v1/checkpoints").get(0);
    assertEquals(at, cp.get("step").asLong());
    assertEquals(64, cp.get("sha256").asText().length());
    assertTrue(Files.exists(Path.of(cp.get("manifest").asText())), "and on disk");
    assertEquals("paused", api.json("/api/v1/run").get("phase").asText(), "still paused");

    assertEquals(202, api.post("/api/v1/actions/resume", "", TOKEN).status());
    await(() -> api.json("/api/v1/run").get("step").asLong() > at + 2, "resumed");

    // Stop: a checkpoint at the boundary, then the end; nothing lost.
    assertEquals(202, api.post("/api/v1/actions/stop", "", TOKEN).status());
    RunCompletion.Result r = result.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertTrue(r.stopped());
    assertTrue(Files.exists(r.checkpoint()), "the stop's checkpoint " + r.checkpoint());
    assertEquals(r.steps(), Checkpoints.readState(r.checkpoint()).step());

    List<Ledger.Entry> ledger = Ledger.read(runDir.resolve(Ledger.FILE));
    List<String> actions = new ArrayList<>();
    for (Ledger.Entry e : ledger) {
      if (e.action() != null) {
        actions.add(e.action().name());
        if (!e.action().name().equals("pause") || e.action().by() != null) {
          assertEquals(ConsoleToken.idOf(TOKEN), e.action().by(), "who: " + e);
        }
      }
    }
    assertEquals(List.of("pause", "set", "checkpoint", "resume", "checkpoint", "stop"), actions);
    assertTrue(
        Files.readString(runDir.resolve("events.jsonl")).contains("\"kind\":\"action\""),
        "events.jsonl records the actions");
    assertFalse(
        Files.readString(runDir.resolve("events.jsonl")).contains(TOKEN),
        "the token itself is never written down");

    // The resumed run keeps the operator's token_budget.
    int port2 = freePort();
    Config again =
        run(runDir, port2, Map.of("token", TOKEN))
            .withValue(
                TrainSettings.PATH + ".resume_from",
                com.typesafe.config.ConfigValueFactory.fromAnyRef("latest"));
    CompletableFuture<RunCompletion.Result> resumed = start(again);
    Api api2 = new Api("http://127.0.0.1:" + port2, HttpClient.newHttpClient());
    await(() -> api2.get("/ready", null).status() == 200, "the resumed run's console");
    assertEquals(at + 200, api2.json("/api/v1/run").get("total_steps").asLong());
    assertEquals(202, api2.post("/api/v1/actions/stop", "", TOKEN).status());
    assertTrue(resumed.get(WAIT.toSeconds(), TimeUnit.SECONDS).stopped());
  }

  @Test
  void beyondLoopbackOverTlsEveryReadNeedsTheGeneratedTokenWhichIsOwnerOnly() throws Exception {
    Path runDir = dir.resolve("tls");
    Path keystore = dir.resolve("console.p12");
    String password = "changeit-" + ProcessHandle.current().pid();
    Process keytool =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair",
                "-alias",
                "console",
                "-keyalg",
                "EC",
                "-dname",
                "CN=localhost",
                "-ext",
                "SAN=ip:127.0.0.1,dns:localhost",
                "-validity",
                "2",
                "-storetype",
                "PKCS12",
                "-keystore",
                keystore.toString(),
                "-storepass",
                password)
            .redirectErrorStream(true)
            .start();
    assertTrue(keytool.waitFor(60, TimeUnit.SECONDS) && keytool.exitValue() == 0, "keytool");
    int port = freePort();
    CompletableFuture<RunCompletion.Result> result =
        start(
            run(
                runDir,
                port,
                Map.of(
                    "host",
                    "0.0.0.0",
                    "tls",
                    Map.of("keystore", keystore.toString(), "password", password))));
    Api api = new Api("https://127.0.0.1:" + port, trusting(keystore, password));
    await(() -> api.get("/ready", null).status() == 200, "the console over TLS");
    Path tokenFile = runDir.resolve(ConsoleToken.FILE);
    assertEquals(
        "rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)),
        "the generated token is the owner's only");
    String token = Files.readString(tokenFile).trim();
    assertEquals(401, api.get("/api/v1/run", null).status(), "reads need the token");
    assertEquals(401, api.get("/metrics", null).status());
    assertEquals(200, api.get("/api/v1/run", token).status());
    assertEquals(
        "https://localhost:" + port + "/", Files.readString(runDir.resolve("console-url")).trim());
    assertEquals(202, api.post("/api/v1/actions/stop", "", token).status());
    assertTrue(result.get(WAIT.toSeconds(), TimeUnit.SECONDS).stopped());
  }

  // ---- helpers -------------------------------------------------------------------------------

  private record Reply(int status, String body, String contentType) {}

  private record Api(String base, HttpClient http) {
    Reply get(String path, String token) {
      return send(HttpRequest.newBuilder(URI.create(base + path)).GET(), token);
    }

    Reply post(String path, String body, String token) {
      return send(
          HttpRequest.newBuilder(URI.create(base + path))
              .POST(HttpRequest.BodyPublishers.ofString(body))
              .header("Content-Type", "application/json"),
          token);
    }

    JsonNode json(String path) {
      Reply r = get(path, null);
      assertEquals(200, r.status(), path + ": " + r.body());
      try {
        return JSON.readTree(r.body());
      } catch (java.io.IOException e) {
        throw new AssertionError(path + ": " + r.body(), e);
      }
    }

    private Reply send(HttpRequest.Builder b, String token) {
      if (token != null) {
        b.header("Authorization", "Bearer " + token);
      }
      try {
        HttpResponse<String> r =
            http.send(
                b.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(
            r.statusCode(), r.body(), r.headers().firstValue("Content-Type").orElse(""));
      } catch (java.io.IOException e) {
        return new Reply(-1, e.toString(), "");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }

    /** The event names the stream sends within {@code d}. */
    List<String> stream(Duration d) throws Exception {
      HttpResponse<InputStream> r =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/api/v1/stream")).GET().build(),
              HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, r.statusCode());
      assertEquals("text/event-stream", r.headers().firstValue("Content-Type").orElse(""));
      List<String> names = new ArrayList<>();
      long end = System.nanoTime() + d.toNanos();
      try (BufferedReader in =
          new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
        String line;
        while (System.nanoTime() < end && (line = in.readLine()) != null) {
          if (line.startsWith("event: ")) {
            names.add(line.substring(7));
          } else if (line.startsWith("data: ")) {
            JSON.readTree(line.substring(6)); // every data line is JSON
          }
        }
      }
      return names;
    }
  }

  private static JsonNode parsePrometheus(String text) throws Exception {
    Path f = Files.createTempFile("metrics", ".txt");
    Files.writeString(f, text);
    String script =
        "import json,sys\n"
            + "from prometheus_client.parser import text_string_to_metric_families as p\n"
            + "out={}\n"
            + "for fam in p(open(sys.argv[1]).read()):\n"
            + "  out[fam.name]={'type':fam.type,'samples':{s.name+(json.dumps(s.labels,sort_keys=True)"
            + " if s.labels else ''):s.value for s in fam.samples}}\n"
            + "print(json.dumps(out))\n";
    Process p =
        new ProcessBuilder("/usr/bin/python3", "-c", script, f.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "prometheus_client: " + out);
    Files.delete(f);
    return JSON.readTree(out);
  }

  private static long committedSteps(Path runDir) throws Exception {
    return Ledger.read(runDir.resolve(Ledger.FILE)).stream()
        .filter(e -> Ledger.Entry.COMMITTED.equals(e.status()))
        .count();
  }

  private static HttpClient trusting(Path keystore, String password) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      ks.load(in, password.toCharArray());
    }
    Certificate cert = ks.getCertificate("console");
    assertNotNull(cert);
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry("console", cert);
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(ssl).build();
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long end = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < end) {
      try {
        if (condition.getAsBoolean()) {
          return;
        }
      } catch (AssertionError | RuntimeException e) {
        // not yet
      }
      Thread.sleep(100);
    }
    throw new AssertionError("timed out waiting: " + what);
  }
}
