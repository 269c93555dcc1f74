package org.omnibiote.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.omnibiote.UserError;
import org.omnibiote.coordinator.Coordinator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin console: Pekko HTTP on the node that hosts the coordinator. It serves the page (static
 * files from the jar, uPlot from its webjar), the JSON API {@code /api/v1/...} that the page, the
 * {@code admin} command and curl use, a Server-Sent Events stream of the run, Prometheus {@code
 * /metrics}, and {@code /alive} / {@code /ready}. It reads the {@link RunView} and sends actions to
 * the coordinator as {@link Coordinator.Admin} messages (applied at the next step boundary).
 *
 * <p>Security: every action needs the bearer token; bound beyond loopback, so does every read of
 * run data (the API, the stream, /metrics); the page itself, its assets and the health checks hold
 * no run data and need none. The page asks for the token and sends it in a header, never in a URL.
 */
public final class ConsoleServer {
  private static final Logger log = LoggerFactory.getLogger(ConsoleServer.class);
  static final ObjectMapper JSON =
      new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(10);
  private static final String STATIC = "org/omnibiote/console/static/";
  private static final String UPLOT = "META-INF/resources/webjars/uplot/1.6.30/dist/";

  /** How often the stream looks for news: an update reaches the page within this of a step. */
  // Once a second: the page shows a step within 2 s of it, and on a host whose cores training keeps
  // busy every wake-up of the console's threads takes time from libtorch's (bench console).
  static final Duration STREAM_POLL = Duration.ofSeconds(1);

  private static final ContentType EVENT_STREAM = MediaTypes.TEXT_EVENT_STREAM.toContentType();
  private static final ContentType PROMETHEUS =
      ContentTypes.parse("text/plain; version=0.0.4; charset=utf-8");

  private final ActorSystem<?> system;
  private final Materializer mat;
  private final RunView view;
  private final ActorRef<Coordinator.Command> coordinator;
  private final ConsoleToken token;
  private final boolean readsNeedToken;

  private ConsoleServer(
      ActorSystem<?> system,
      RunView view,
      ActorRef<Coordinator.Command> coordinator,
      ConsoleToken token,
      boolean readsNeedToken) {
    this.system = system;
    this.mat = Materializer.matFromSystem(system);
    this.view = view;
    this.coordinator = coordinator;
    this.token = token;
    this.readsNeedToken = readsNeedToken;
  }

  /** A running console: where it listens. */
  public record Running(String url, ServerBinding binding, ConsoleToken token) {}

  /**
   * Starts the console of {@code view} on {@code settings}' port (a free one when it is taken),
   * writes its URL to the run folder's {@code console-url} and prints the URL (and, once, a newly
   * generated token). Returns null when the console is off.
   */
  public static Running start(
      ActorSystem<?> system,
      ConsoleSettings settings,
      RunView view,
      ActorRef<Coordinator.Command> coordinator,
      Path runDir,
      java.io.PrintStream out) {
    if (!settings.enabled()) {
      return null;
    }
    ConsoleToken token = ConsoleToken.resolve(settings.token(), runDir);
    ConsoleServer server =
        new ConsoleServer(system, view, coordinator, token, !settings.loopbackOnly());
    ServerBinding binding;
    try {
      binding = bind(system, settings, settings.port(), server);
    } catch (CompletionException e) {
      if (!portTaken(e)) {
        throw new UserError(
            "the console cannot listen on "
                + settings.host()
                + ":"
                + settings.port()
                + ": "
                + e.getCause().getMessage());
      }
      binding = bind(system, settings, 0, server);
      log.warn(
          "console port {} is taken; the console listens on {} instead",
          settings.port(),
          binding.localAddress().getPort());
    }
    String host = settings.host().equals("0.0.0.0") ? "localhost" : settings.host();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    String url =
        (settings.tls() ? "https" : "http")
            + "://"
            + host
            + ":"
            + binding.localAddress().getPort()
            + "/";
    try {
      org.omnibiote.io.AtomicFiles.write(
          runDir.resolve("console-url"),
          (url + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (IOException e) {
      log.warn("cannot write {}: {}", runDir.resolve("console-url"), e.getMessage());
    }
    out.println("console: " + url + " (token: " + tokenNote(token, runDir) + ")");
    out.flush();
    log.info("console on {}; actions need the token {}", url, token.id());
    return new Running(url, binding, token);
  }

  /**
   * Whether binding failed because the port is taken: Pekko reports it as its own
   * BindFailedException, with the JDK's BindException somewhere in the causes.
   */
  private static boolean portTaken(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || t.getClass().getSimpleName().equals("BindFailedException")
          || String.valueOf(t.getMessage()).contains("Address already in use")) {
        return true;
      }
    }
    return false;
  }

  private static String tokenNote(ConsoleToken token, Path runDir) {
    if (token.generated()) {
      return token.reveal() + ", also in " + runDir.resolve(ConsoleToken.FILE);
    }
    return "id " + token.id();
  }

  private static ServerBinding bind(
      ActorSystem<?> system, ConsoleSettings settings, int port, ConsoleServer server) {
    ServerBuilder builder = Http.get(system).newServerAt(settings.host(), port);
    if (settings.tls()) {
      builder = builder.enableHttps(ConnectionContext.httpsServer(sslContext(settings)));
    }
    return builder.bind(server::handle).toCompletableFuture().join();
  }

  private static SSLContext sslContext(ConsoleSettings s) {
    Path file = Path.of(s.keystore());
    char[] password = s.keystorePassword().toCharArray();
    try (InputStream in = Files.newInputStream(file)) {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(in, password);
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, password);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), null, null);
      return ctx;
    } catch (IOException | java.security.GeneralSecurityException e) {
      throw new UserError(
          "omnibiote.console.tls.keystore "
              + file
              + ": not a PKCS12 keystore this password opens ("
              + e.getMessage()
              + ")");
    }
  }

  // ---- requests ----------------------------------------------------------------------------

  CompletionStage<HttpResponse> handle(HttpRequest req) {
    String path = req.getUri().path();
    try {
      if (req.method() == HttpMethods.GET || req.method() == HttpMethods.HEAD) {
        HttpResponse open = openResource(path);
        if (open != null) {
          req.discardEntityBytes(mat);
          return done(open);
        }
      }
      if (!path.startsWith("/api/v1/") && !path.equals("/metrics")) {
        req.discardEntityBytes(mat);
        return done(error(StatusCodes.NOT_FOUND, "no such resource: " + path));
      }
      boolean mutation = req.method() != HttpMethods.GET && req.method() != HttpMethods.HEAD;
      if ((mutation || readsNeedToken) && !token.accepts(header(req, "Authorization"))) {
        req.discardEntityBytes(mat);
        return done(
            error(
                    StatusCodes.UNAUTHORIZED,
                    mutation
                        ? "this action needs the console token: Authorization: Bearer TOKEN"
                        : "this console is reachable beyond this host: every request needs the"
                            + " token (Authorization: Bearer TOKEN)")
                .addHeader(RawHeader.create("WWW-Authenticate", "Bearer realm=\"omnibiote\"")));
      }
      if (path.equals("/metrics")) {
        req.discardEntityBytes(mat);
        return done(
            HttpResponse.create()
                .withEntity(PROMETHEUS, ByteString.fromString(PrometheusText.of(view))));
      }
      return api(req, path.substring("/api/v1".length()), mutation);
    } catch (RuntimeException e) {
      log.warn("console: {} {} failed: {}", req.method().value(), path, e.toString());
      return done(error(StatusCodes.INTERNAL_SERVER_ERROR, "the console failed: " + e));
    }
  }

  /** The page, its assets and the health checks: no run data, no token needed. */
  private HttpResponse openResource(String path) {
    switch (path) {
      case "/", "/index.html" -> {
        return resource(STATIC + "index.html", MediaTypes.TEXT_HTML);
      }
      case "/alive" -> {
        return json(StatusCodes.OK, Map.of("alive", true));
      }
      case "/ready" -> {
        boolean ready = view.started() && !view.phase().equals(RunView.Phase.FAILED);
        return json(
            ready ? StatusCodes.OK : StatusCodes.SERVICE_UNAVAILABLE,
            Map.of("ready", ready, "phase", view.phase().label()));
      }
      default -> {}
    }
    if (path.startsWith("/static/") && path.matches("/static/[A-Za-z0-9._-]+")) {
      String name = path.substring("/static/".length());
      return resource(STATIC + name, mediaType(name));
    }
    if (path.startsWith("/webjars/uplot/") && path.matches("/webjars/uplot/[A-Za-z0-9._-]+")) {
      String name = path.substring("/webjars/uplot/".length());
      return resource(UPLOT + name, mediaType(name));
    }
    return null;
  }

  private static org.apache.pekko.http.javadsl.model.MediaType mediaType(String name) {
    if (name.endsWith(".js")) {
      return MediaTypes.APPLICATION_JAVASCRIPT;
    }
    if (name.endsWith(".css")) {
      return MediaTypes.TEXT_CSS;
    }
    if (name.endsWith(".png")) {
      return MediaTypes.IMAGE_PNG;
    }
    if (name.endsWith(".svg")) {
      return MediaTypes.IMAGE_SVG_XML;
    }
    return MediaTypes.TEXT_PLAIN;
  }

  private HttpResponse resource(String name, org.apache.pekko.http.javadsl.model.MediaType type) {
    try (InputStream in = ConsoleServer.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        return null;
      }
      byte[] bytes = in.readAllBytes();
      ContentType ct =
          type instanceof org.apache.pekko.http.javadsl.model.MediaType.WithOpenCharset open
              ? open.toContentType(org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8)
              : type instanceof org.apache.pekko.http.javadsl.model.MediaType.WithFixedCharset f
                  ? f.toContentType()
                  : ((org.apache.pekko.http.javadsl.model.MediaType.Binary) type).toContentType();
      return HttpResponse.create()
          .withEntity(HttpEntities.create(ct, bytes))
          .addHeader(CacheControl.create(CacheDirectives.NO_CACHE));
    } catch (IOException e) {
      return error(StatusCodes.INTERNAL_SERVER_ERROR, "cannot read " + name);
    }
  }

  private CompletionStage<HttpResponse> api(HttpRequest req, String path, boolean mutation) {
    String[] p = path.substring(1).split("/", -1);
    if (!mutation) {
      req.discardEntityBytes(mat);
      HttpResponse r = read(req, p);
      return done(r != null ? r : notFoundOrMethod(p, true));
    }
    if (req.method() != HttpMethods.POST && req.method() != HttpMethods.PATCH) {
      req.discardEntityBytes(mat);
      return done(
          error(StatusCodes.METHOD_NOT_ALLOWED, req.method().value() + " is not used here"));
    }
    return req.entity()
        .toStrict(5000, mat)
        .thenCompose(
            strict -> {
              String body = strict.getData().utf8String().trim();
              JsonNode json;
              try {
                json = body.isEmpty() ? JSON.createObjectNode() : JSON.readTree(body);
              } catch (IOException e) {
                return done(
                    error(
                        StatusCodes.BAD_REQUEST,
                        "the body is not JSON: " + firstLine(e.getMessage())));
              }
              return act(p, json);
            });
  }

  private HttpResponse read(HttpRequest req, String[] p) {
    switch (p[0]) {
      case "run" -> {
        return p.length == 1 ? json(StatusCodes.OK, view.run()) : null;
      }
      case "workers" -> {
        if (p.length == 1) {
          return json(StatusCodes.OK, view.workers());
        }
        RunView.Worker w = view.worker(p[1]);
        if (w == null) {
          return error(StatusCodes.NOT_FOUND, "no worker " + p[1] + " (see /api/v1/workers)");
        }
        if (p.length == 2) {
          return json(StatusCodes.OK, w);
        }
        if (p.length == 3 && p[2].equals("log")) {
          return json(StatusCodes.OK, Map.of("id", w.id(), "lines", w.log()));
        }
        return null;
      }
      case "checkpoints" -> {
        if (p.length != 1) {
          return null;
        }
        try {
          return json(StatusCodes.OK, view.checkpoints());
        } catch (IOException e) {
          return error(
              StatusCodes.INTERNAL_SERVER_ERROR, "cannot list checkpoints: " + e.getMessage());
        }
      }
      case "events" -> {
        if (p.length != 1) {
          return null;
        }
        Long since = longParam(req, "since");
        return since == null
            ? error(StatusCodes.BAD_REQUEST, "since must be a whole number")
            : json(StatusCodes.OK, view.events(since));
      }
      case "metrics" -> {
        if (p.length != 1) {
          return null;
        }
        Long since = longParam(req, "since");
        Long valSince = longParam(req, "val_since");
        if (since == null || valSince == null) {
          return error(StatusCodes.BAD_REQUEST, "since and val_since must be whole numbers");
        }
        return json(StatusCodes.OK, metrics(since, valSince));
      }
      case "data" -> {
        if (p.length == 2 && p[1].equals("generations")) {
          return json(StatusCodes.OK, view.generations());
        }
        return p.length == 1 ? json(StatusCodes.OK, view.data()) : null;
      }
      case "settings" -> {
        return p.length == 1 ? json(StatusCodes.OK, view.run().settings()) : null;
      }
      case "stream" -> {
        return p.length == 1 ? stream() : null;
      }
      default -> {
        return null;
      }
    }
  }

  private Map<String, Object> metrics(long since, long valSince) {
    Map<String, Object> m = new LinkedHashMap<>();
    MetricHistory.Slice t = view.trainMetrics(since);
    MetricHistory.Slice v = view.valMetrics(valSince);
    m.put("train", t.points());
    m.put("train_last", t.last());
    m.put("train_stride", t.stride());
    m.put("val", v.points());
    m.put("val_last", v.last());
    return m;
  }

  private static final List<String> ACTIONS = List.of("pause", "resume", "checkpoint", "stop");

  private CompletionStage<HttpResponse> act(String[] p, JsonNode body) {
    if (p[0].equals("actions") && p.length == 2) {
      if (!ACTIONS.contains(p[1])) {
        return done(error(StatusCodes.NOT_FOUND, "no action " + p[1] + "; there are " + ACTIONS));
      }
      return ask(p[1], null, null, null);
    }
    if (p[0].equals("workers") && p.length == 3 && p[2].equals("evict")) {
      return ask("evict", p[1], null, null);
    }
    if (p[0].equals("settings") && p.length == 1) {
      if (!(body instanceof ObjectNode o) || o.isEmpty()) {
        return done(
            error(
                StatusCodes.BAD_REQUEST,
                "give the settings to change as a JSON object, e.g. {\"save_freq\": 2e6}"));
      }
      List<Map.Entry<String, JsonNode>> fields = new ArrayList<>();
      fields.addAll(o.properties());
      CompletionStage<HttpResponse> chain = done(null);
      for (Map.Entry<String, JsonNode> f : fields) {
        if (!f.getValue().isNumber()
            && !(f.getValue().isTextual() && f.getValue().asText().matches("[-+0-9.eE]+"))) {
          return done(
              error(
                  StatusCodes.BAD_REQUEST,
                  f.getKey()
                      + ": '"
                      + (f.getValue().isTextual() ? f.getValue().asText() : f.getValue().toString())
                      + "' is not a number"));
        }
      }
      // One action per setting, each checked by the coordinator; the first refusal answers.
      List<String> accepted = new ArrayList<>();
      for (Map.Entry<String, JsonNode> f : fields) {
        chain =
            chain.thenCompose(
                prev -> {
                  if (prev != null) {
                    return done(prev);
                  }
                  return ask("set", null, f.getKey(), f.getValue().asText())
                      .thenApply(
                          r -> {
                            if (r.status().intValue() != 202) {
                              return r;
                            }
                            accepted.add(f.getKey());
                            return null;
                          });
                });
      }
      return chain.thenApply(
          r ->
              r != null
                  ? r
                  : json(
                      StatusCodes.ACCEPTED,
                      Map.of(
                          "accepted",
                          true,
                          "message",
                          String.join(", ", accepted) + " from the next step boundary")));
    }
    return done(notFoundOrMethod(p, false));
  }

  private CompletionStage<HttpResponse> ask(
      String action, String target, String key, String value) {
    return AskPattern.<Coordinator.Command, Coordinator.AdminReply>ask(
            coordinator,
            replyTo -> new Coordinator.Admin(action, target, key, value, token.id(), replyTo),
            ASK_TIMEOUT,
            system.scheduler())
        .handle(
            (reply, failure) -> {
              if (failure != null) {
                return error(
                    StatusCodes.SERVICE_UNAVAILABLE,
                    "the coordinator did not answer within " + ASK_TIMEOUT.toSeconds() + " s");
              }
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("accepted", reply.status() == 202);
              m.put(reply.status() == 202 ? "message" : "error", reply.message());
              m.put("by", token.id());
              return json(StatusCodes.get(reply.status()), m);
            });
  }

  private HttpResponse notFoundOrMethod(String[] p, boolean get) {
    String what = String.join("/", p);
    return error(
        StatusCodes.NOT_FOUND,
        "no such resource: /api/v1/"
            + what
            + (get
                ? " (GET: run, workers, workers/ID, workers/ID/log, checkpoints, events, metrics,"
                    + " data, settings, stream)"
                : " (POST: actions/pause|resume|checkpoint|stop, workers/ID/evict, settings)"));
  }

  // ---- the stream ------------------------------------------------------------------------------

  /**
   * Server-Sent Events: {@code state} (run, workers, data) whenever it changed, {@code metrics}
   * (new points) and {@code events} (new events), looked for every {@link #STREAM_POLL}; a comment
   * line every 15 s keeps proxies from closing an idle stream.
   */
  private HttpResponse stream() {
    Source<ByteString, ?> source =
        Source.tick(Duration.ZERO, STREAM_POLL, "tick")
            .statefulMap(
                StreamCursor::new,
                (cursor, tick) -> new org.apache.pekko.japi.Pair<>(cursor, cursor.next()),
                cursor -> java.util.Optional.empty())
            .filter(bytes -> !bytes.isEmpty());
    return HttpResponse.create()
        .withEntity(HttpEntities.create(EVENT_STREAM, source))
        .addHeader(CacheControl.create(CacheDirectives.NO_CACHE));
  }

  /** The last state event built, and the view version it shows. */
  private record StateEvent(long version, String text) {}

  private volatile StateEvent lastState = new StateEvent(-1, "");

  /**
   * The {@code state} event of view version {@code v}: built once per change and shared by every
   * open stream (each used to serialise the same run, workers and data for itself).
   */
  private String stateEvent(long v) {
    StateEvent cached = lastState;
    if (cached.version() == v) {
      return cached.text();
    }
    Map<String, Object> state = new LinkedHashMap<>();
    state.put("run", view.run());
    state.put("workers", view.workers());
    state.put("data", view.data());
    state.put("generations", view.generations());
    StringBuilder sb = new StringBuilder();
    sse(sb, "state", state);
    lastState = new StateEvent(v, sb.toString());
    return sb.toString();
  }

  private static void sse(StringBuilder sb, String event, Object data) {
    try {
      sb.append("event: ").append(event).append('\n');
      sb.append("data: ").append(JSON.writeValueAsString(data)).append("\n\n");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What one stream has sent so far. */
  private final class StreamCursor {
    long version = -1;
    long trainSeq;
    long valSeq;
    long eventSeq;
    long lastSent = System.nanoTime();

    ByteString next() {
      StringBuilder sb = new StringBuilder();
      long v = view.version();
      if (v != version) {
        version = v;
        sb.append(stateEvent(v));
        Map<String, Object> m = metrics(trainSeq, valSeq);
        trainSeq = (Long) m.get("train_last");
        valSeq = (Long) m.get("val_last");
        if (!((List<?>) m.get("train")).isEmpty() || !((List<?>) m.get("val")).isEmpty()) {
          sse(sb, "metrics", m);
        }
        List<RunView.Event> events = view.events(eventSeq);
        if (!events.isEmpty()) {
          eventSeq = events.get(events.size() - 1).seq();
          sse(sb, "events", events);
        }
      }
      if (sb.length() == 0 && System.nanoTime() - lastSent > 15_000_000_000L) {
        sb.append(": keep-alive\n\n");
      }
      if (sb.length() > 0) {
        lastSent = System.nanoTime();
      }
      return ByteString.fromString(sb.toString());
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static Long longParam(HttpRequest req, String name) {
    String v = req.getUri().query().get(name).orElse("0");
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static String header(HttpRequest req, String name) {
    return req.getHeader(name).map(HttpHeader::value).orElse(null);
  }

  static HttpResponse json(StatusCode status, Object body) {
    try {
      return HttpResponse.create()
          .withStatus(status)
          .withEntity(ContentTypes.APPLICATION_JSON, JSON.writeValueAsBytes(body))
          .addHeader(CacheControl.create(CacheDirectives.NO_STORE));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static HttpResponse error(StatusCode status, String message) {
    return json(status, Map.of("error", message));
  }

  private static CompletionStage<HttpResponse> done(HttpResponse r) {
    return CompletableFuture.completedFuture(r);
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
