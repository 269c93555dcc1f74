package org.omnibiote.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code omnibiote admin}: the console's JSON API from the command line, as readable tables (or the
 * JSON itself with {@code --json}).
 */
@Command(
    name = "admin",
    mixinStandardHelpOptions = true,
    description = {
      "Watch and steer a running training run through its coordinator's console:",
      "  status       phase, step, tokens, ETA, last checkpoint, the last loss",
      "  workers      every worker: rank, device, host, pid, state, step time, memory;"
          + " departed ones with why",
      "  checkpoints  the run's checkpoints: step, tokens, time, size, SHA-256",
      "  events       what happened: membership, world generations, aborts, actions",
      "  pause | resume | checkpoint | stop    at the next step boundary (stop saves first)",
      "  evict ID     take worker ID (or a rank) out of the run",
      "  set KEY=VALUE  save_freq, test_freq (tokens), keep_checkpoints, token_budget",
      "Actions need the console token: --token, OMNIBIOTE_CONSOLE_TOKEN, or --run FOLDER (its"
          + " console-token file). The console's address: --url, OMNIBIOTE_CONSOLE_URL, or --run"
          + " FOLDER (its console-url file); default http://127.0.0.1:8470/."
    },
    footer = {
      "",
      "Examples:",
      "  bin/omnibiote admin status --run runs/tiny",
      "  bin/omnibiote admin pause --run runs/tiny",
      "  bin/omnibiote admin set token_budget=4e6 --run runs/tiny",
      "  bin/omnibiote admin workers --url http://10.0.0.5:8470/ --json"
    })
final class AdminCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> READS = List.of("status", "workers", "checkpoints", "events");
  private static final List<String> ACTIONS = List.of("pause", "resume", "checkpoint", "stop");

  @Parameters(
      index = "0",
      paramLabel = "WHAT",
      description =
          "status, workers, checkpoints, events, pause, resume, checkpoint, stop, evict, set.")
  String what;

  @Parameters(
      index = "1",
      arity = "0..1",
      paramLabel = "ARG",
      description = "evict: the worker's id (w1, w2 ...) or rank; set: KEY=VALUE.")
  String arg;

  @Option(
      names = "--url",
      paramLabel = "URL",
      description =
          "The console (default: --run's console-url, OMNIBIOTE_CONSOLE_URL, or"
              + " http://127.0.0.1:8470/).")
  String url;

  @Option(
      names = "--token",
      paramLabel = "TOKEN",
      description =
          "The console token (default: OMNIBIOTE_CONSOLE_TOKEN, or --run's"
              + " console-token file). Prefer those two: a flag shows in `ps`.")
  String token;

  @Option(
      names = "--run",
      paramLabel = "FOLDER",
      description =
          "The run folder (the folder of --save_name): its console-url and"
              + " console-token files.")
  Path run;

  @Option(names = "--json", description = "Print the API's JSON instead of tables.")
  boolean json;

  @Option(
      names = "--timeout",
      paramLabel = "SECONDS",
      defaultValue = "10",
      description = "How long to wait for the console (default: ${DEFAULT-VALUE}).")
  int timeout;

  PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    String w = what.toLowerCase(Locale.ROOT);
    if (!READS.contains(w) && !ACTIONS.contains(w) && !w.equals("evict") && !w.equals("set")) {
      throw new UserError(
          "admin "
              + what
              + ": give one of status, workers, checkpoints, events, pause, resume,"
              + " checkpoint, stop, evict ID, set KEY=VALUE");
    }
    if ((w.equals("evict") || w.equals("set")) == (arg == null)) {
      throw new UserError(
          arg == null
              ? "admin " + w + ": give " + (w.equals("evict") ? "the worker's id" : "KEY=VALUE")
              : "admin " + w + " takes no argument (" + arg + ")");
    }
    String base = base();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(timeout)).build();
    if (READS.contains(w)) {
      return read(http, base, w);
    }
    String path;
    String body = "";
    if (ACTIONS.contains(w)) {
      path = "api/v1/actions/" + w;
    } else if (w.equals("evict")) {
      path = "api/v1/workers/" + arg + "/evict";
    } else {
      int eq = arg.indexOf('=');
      if (eq <= 0) {
        throw new UserError("admin set " + arg + ": give KEY=VALUE, e.g. save_freq=2e6");
      }
      ObjectNode o = JSON.createObjectNode();
      o.put(arg.substring(0, eq).trim(), arg.substring(eq + 1).trim());
      body = JSON.writeValueAsString(o);
      path = "api/v1/settings";
    }
    String t = token();
    if (t == null) {
      throw new UserError(
          "admin "
              + w
              + " needs the console token: --run FOLDER (its console-token file),"
              + " OMNIBIOTE_CONSOLE_TOKEN or --token");
    }
    HttpResponse<String> r =
        send(
            http,
            HttpRequest.newBuilder(URI.create(base + path))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + t),
            base);
    JsonNode reply = parse(r, base + path);
    if (json) {
      out.println(reply.toPrettyString());
    }
    if (r.statusCode() == 202) {
      if (!json) {
        out.println(w + ": " + reply.path("message").asText());
      }
      return 0;
    }
    throw new UserError("admin " + w + ": " + reply.path("error").asText("HTTP " + r.statusCode()));
  }

  private int read(HttpClient http, String base, String w) throws Exception {
    String path =
        switch (w) {
          case "status" -> "api/v1/run";
          case "events" -> "api/v1/events";
          default -> "api/v1/" + w;
        };
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).GET();
    String t = token();
    if (t != null) {
      b.header("Authorization", "Bearer " + t);
    }
    HttpResponse<String> r = send(http, b, base);
    JsonNode node = parse(r, base + path);
    if (r.statusCode() != 200) {
      throw new UserError(
          "admin " + w + ": " + node.path("error").asText("HTTP " + r.statusCode()));
    }
    if (json) {
      out.println(node.toPrettyString());
      return 0;
    }
    switch (w) {
      case "status" -> status(node, http, base, t);
      case "workers" -> workers(node);
      case "checkpoints" -> checkpoints(node);
      default -> events(node);
    }
    return 0;
  }

  private void status(JsonNode run, HttpClient http, String base, String t) throws Exception {
    long step = run.path("step").asLong();
    long total = run.path("total_steps").asLong();
    out.printf(
        Locale.ROOT,
        "phase:       %s%s%n",
        run.path("phase").asText(),
        run.path("detail").asText().isEmpty() ? "" : " (" + run.path("detail").asText() + ")");
    out.printf(
        Locale.ROOT,
        "step:        %,d / %,d (%.1f%%)%n",
        step,
        total,
        total == 0 ? 0.0 : 100.0 * step / total);
    out.printf(
        Locale.ROOT,
        "tokens:      %,d / %,d%n",
        run.path("tokens").asLong(),
        run.path("total_tokens").asLong());
    if (run.hasNonNull("eta_seconds")) {
      out.printf(Locale.ROOT, "ETA:         %s%n", duration(run.path("eta_seconds").asDouble()));
    }
    out.printf(
        Locale.ROOT,
        "world:       generation %d, %d workers%n",
        run.path("generation").asLong(),
        run.path("world_size").asInt());
    JsonNode cp = run.path("last_checkpoint");
    out.printf(
        Locale.ROOT,
        "checkpoint:  %s%n",
        cp.isMissingNode() || cp.isNull()
            ? "none yet"
            : cp.path("name").asText() + " at step " + cp.path("step").asLong());
    if (run.path("pending").size() > 0) {
      List<String> p = new ArrayList<>();
      run.path("pending").forEach(n -> p.add(n.asText()));
      out.println("pending:     " + String.join(", ", p));
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "api/v1/metrics")).GET();
    if (t != null) {
      b.header("Authorization", "Bearer " + t);
    }
    HttpResponse<String> m = send(http, b, base);
    if (m.statusCode() == 200) {
      JsonNode train = JSON.readTree(m.body()).path("train");
      if (train.size() > 0) {
        JsonNode last = train.get(train.size() - 1);
        out.printf(
            Locale.ROOT,
            "last step:   loss %.4f, lr %.3g, batch %d, %,.0f tokens/s, %.1f s%n",
            last.path("loss").asDouble(),
            last.path("lr").asDouble(),
            last.path("batch").asInt(),
            last.path("tokens_per_s").asDouble(),
            last.path("step_s").asDouble());
      }
    }
    out.println("run folder:  " + run.path("run_dir").asText());
  }

  private void workers(JsonNode ws) {
    Table t =
        new Table(
            "ID", "RANK", "DEVICE", "HOST", "PID", "GEN", "STATE", "STEP s", "WAIT s", "BEAT s",
            "RSS MB", "GPU MB");
    List<JsonNode> departed = new ArrayList<>();
    for (JsonNode w : ws) {
      if (w.hasNonNull("departed_at")) {
        departed.add(w);
        continue;
      }
      t.row(
          w.path("id").asText(),
          w.hasNonNull("rank") ? w.path("rank").asText() : "-",
          w.path("device").asText(),
          w.path("host").asText(),
          w.path("pid").asText(),
          w.path("generation").asText(),
          w.path("state").asText(),
          num(w, "step_seconds", "%.3f"),
          num(w, "wait_seconds", "%.3f"),
          num(w, "heartbeat_age_seconds", "%.1f"),
          num(w, "rss_mb", "%.0f"),
          num(w, "gpu_mb", "%.0f"));
    }
    t.print(out);
    if (!departed.isEmpty()) {
      out.println();
      out.println("departed:");
      for (JsonNode w : departed) {
        out.printf(
            Locale.ROOT,
            "  %s %s@%s pid %s, %s: %s%n",
            w.path("id").asText(),
            w.path("device").asText(),
            w.path("host").asText(),
            w.path("pid").asText(),
            time(w.path("departed_at").asLong()),
            w.path("departed_reason").asText());
        JsonNode log = w.path("log");
        for (int i = Math.max(0, log.size() - 5); i < log.size(); i++) {
          out.println("      | " + log.get(i).asText());
        }
      }
    }
  }

  private void checkpoints(JsonNode cps) {
    Table t = new Table("NAME", "STEP", "TOKENS", "TIME", "SIZE MB", "SHA-256 (weights)");
    for (JsonNode c : cps) {
      t.row(
          c.path("name").asText(),
          String.format(Locale.ROOT, "%,d", c.path("step").asLong()),
          String.format(Locale.ROOT, "%,d", c.path("tokens").asLong()),
          time(c.path("time").asLong()),
          String.format(Locale.ROOT, "%.1f", c.path("size_bytes").asLong() / 1048576.0),
          c.path("sha256").asText());
    }
    t.print(out);
  }

  private void events(JsonNode es) {
    for (JsonNode e : es) {
      out.printf(
          Locale.ROOT,
          "%s  %-10s %s%s%n",
          time(e.path("time").asLong()),
          e.path("kind").asText(),
          e.path("message").asText(),
          e.hasNonNull("by") ? "  [" + e.path("by").asText() + "]" : "");
    }
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private String base() throws IOException {
    String u = url;
    if (u == null && run != null) {
      Path f = run.resolve("console-url");
      if (!Files.exists(f)) {
        throw new UserError(
            f + " does not exist: is the run's coordinator running with its console (--url)?");
      }
      u = Files.readString(f, StandardCharsets.UTF_8).trim();
    }
    if (u == null) {
      u = System.getenv("OMNIBIOTE_CONSOLE_URL");
    }
    if (u == null || u.isBlank()) {
      u = "http://127.0.0.1:8470/";
    }
    if (!u.matches("https?://.+")) {
      throw new UserError("--url " + u + ": give http://HOST:PORT/ or https://HOST:PORT/");
    }
    return u.endsWith("/") ? u : u + "/";
  }

  private String token() throws IOException {
    if (token != null && !token.isBlank()) {
      return token.trim();
    }
    String env = System.getenv("OMNIBIOTE_CONSOLE_TOKEN");
    if (env != null && !env.isBlank()) {
      return env.trim();
    }
    if (run != null && Files.exists(run.resolve("console-token"))) {
      return Files.readString(run.resolve("console-token"), StandardCharsets.UTF_8).trim();
    }
    return null;
  }

  private HttpResponse<String> send(HttpClient http, HttpRequest.Builder b, String base)
      throws InterruptedException {
    try {
      return http.send(
          b.timeout(Duration.ofSeconds(timeout)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UserError(
          "no console at "
              + base
              + " ("
              + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
              + "): is the run's coordinator up? (--url, --run)");
    }
  }

  private static JsonNode parse(HttpResponse<String> r, String where) {
    try {
      return JSON.readTree(r.body());
    } catch (IOException e) {
      throw new UserError(
          where + " answered HTTP " + r.statusCode() + " without JSON: is it a console?");
    }
  }

  private static String num(JsonNode n, String field, String format) {
    return n.hasNonNull(field) ? String.format(Locale.ROOT, format, n.path(field).asDouble()) : "-";
  }

  private static String time(long millis) {
    return DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss")
        .withZone(ZoneId.systemDefault())
        .format(Instant.ofEpochMilli(millis));
  }

  private static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600
        ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60)
        : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }

  /** Columns padded to their widest cell. */
  private static final class Table {
    private final List<String[]> rows = new ArrayList<>();

    Table(String... header) {
      rows.add(header);
    }

    void row(String... cells) {
      rows.add(cells);
    }

    void print(PrintStream out) {
      int[] width = new int[rows.get(0).length];
      for (String[] r : rows) {
        for (int i = 0; i < r.length; i++) {
          width[i] = Math.max(width[i], r[i].length());
        }
      }
      for (String[] r : rows) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < r.length; i++) {
          sb.append(i == 0 ? "" : "  ").append(String.format("%-" + width[i] + "s", r[i]));
        }
        out.println(sb.toString().stripTrailing());
      }
    }
  }
}
