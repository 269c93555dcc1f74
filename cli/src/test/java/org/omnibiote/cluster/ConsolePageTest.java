package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cluster.DistributedTrainingTest.args;
import static org.omnibiote.cluster.DistributedTrainingTest.committed;
import static org.omnibiote.cluster.DistributedTrainingTest.flags;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.CheckpointManifest;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.data.IngestOutputs;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The admin console's page in a real browser (Debian's chromium, driven through its chromedriver by
 * Selenium) on a real 2-worker run ({@code train --workers 2}: a coordinator JVM and two worker
 * JVMs), checked as a person would: the loss chart grows, both workers are listed, Pause (asked for
 * the token on the way, as the page is opened without one) holds every step until Resume, the
 * settings form shows the API's refusal of a bad value and applies a good one, Checkpoint now lists
 * a checkpoint that is on disk with the SHA-256 shown, a worker killed with kill -9 is listed as
 * departed with its last log lines while the run goes on, Evict lists the evicted worker with the
 * token that asked, and Stop ends the run with a checkpoint and exit 0. Each action goes through
 * the page's own confirmation dialog.
 *
 * <p>The facts are checked against what the page cannot make up: the ledger on disk, the JSON API,
 * the OS's process tree, the worker's own log file and a SHA-256 computed here. It saves
 * screenshots to {@code target/console.png} (the whole page) and {@code target/console-readme.png}
 * (docs/console.png is a copy).
 */
class ConsolePageTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Far more than the test lasts (it stops the run): about 40 steps/s here. */
  private static final int STEPS = 200_000;

  @TempDir static Path shards;
  @TempDir Path dir;

  private WebDriver driver;
  private final HttpClient http = HttpClient.newHttpClient();
  private String url;

  @BeforeAll
  static void ingest() throws IOException {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  @AfterEach
  void closeBrowser() {
    if (driver != null) {
      driver.quit();
    }
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void aPersonWatchesPausesCheckpointsLosesAWorkerAndStopsARunFromThePage() throws Exception {
    assertTrue(
        Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "the browser test needs Debian's chromium and chromium-driver (.ci/run installs them)");
    Path runDir = dir.resolve("run");
    int port = NodeProcess.freePort();
    // No periodic checkpoint (the ones in the table are the page's); an evaluation every 50
    // steps, so that the validation chart has points.
    List<String> flags =
        flags(
            shards,
            runDir,
            STEPS,
            STEPS,
            "--test_freq",
            Integer.toString(50 * 8 * 64),
            "--lr",
            "0.02");
    try (NodeProcess run =
        new NodeProcess(
            "train-console",
            args("train", flags, "--workers", "2", "--console-port", Integer.toString(port)))) {
      String line = run.await(l -> l.startsWith("console: "), "the console's URL", 60);
      url = line.substring("console: ".length(), line.indexOf(' ', "console: ".length()));
      assertEquals("http://127.0.0.1:" + port + "/", url, line);
      String token = Files.readString(runDir.resolve("console-token")).trim();

      driver = browser();
      try {
        steer(run, runDir, token);
      } catch (Exception | AssertionError e) {
        screenshot(Path.of("target", "console-failure.png"), null, 1);
        throw new AssertionError(
            e.getMessage()
                + "\nthe page said: "
                + text("action-result")
                + "\nrun output:\n"
                + run.output(),
            e);
      }
    }
  }

  /** What a person does on the page, and what is checked after each step. */
  private void steer(NodeProcess run, Path runDir, String token) throws Exception {
    driver.get(url);
    WebDriverWait wait = waitUpTo(60);

    // ---- the run trains: the loss chart gains points, both workers are listed ----
    wait.until(d -> text("phase").equals("running") && points("chart-loss") > 0);
    int before = points("chart-loss");
    wait.until(d -> points("chart-loss") > before + 20);
    List<WebElement> rows = waitForWorkers(wait, 2);
    List<Long> childPids = run.process.toHandle().children().map(ProcessHandle::pid).toList();
    for (WebElement row : rows) {
      long pid = Long.parseLong(cell(row, "pid"));
      assertTrue(childPids.contains(pid), "pid " + pid + " is not a worker JVM: " + childPids);
      assertEquals("training", cell(row, "state"));
    }

    // ---- Pause: the page asks to confirm, then for the token it was opened without ----
    click("act-pause");
    confirm(wait, "Pause");
    wait.until(d -> isOpen("token-dialog"));
    driver.findElement(By.id("token-dialog-input")).sendKeys(token);
    click("token-dialog-ok");
    wait.until(d -> text("phase").equals("paused"));
    assertTrue(text("action-result").startsWith("Pause: pausing"), text("action-result"));
    long pausedStep = pageStep();
    long pausedLedger = committed(runDir);
    assertEquals(pausedStep, apiRun().get("step").asLong());
    Thread.sleep(3000);
    assertEquals(pausedStep, pageStep(), "the page's step moved while paused");
    assertEquals(pausedStep, apiRun().get("step").asLong(), "/api/v1/run moved while paused");
    assertEquals(pausedLedger, committed(runDir), "the ledger committed a step while paused");
    assertEquals(pausedStep, pausedLedger, "the page's step against the ledger's");
    assertTrue(apiRun().get("paused").asBoolean());

    // ---- Resume ----
    click("act-resume");
    confirm(wait, "Resume");
    wait.until(d -> text("phase").equals("running") && pageStep() > pausedStep + 5);

    // ---- Settings: the form asks to confirm, then shows the API's refusal or its answer ----
    click("settings-toggle");
    type("set-keep_checkpoints", "1.5");
    click("settings-apply");
    confirm(wait, "Apply");
    wait.until(d -> text("action-result").startsWith("Settings refused (HTTP 400)"));
    assertTrue(
        text("action-result").contains("keep_checkpoints must be a whole number"),
        text("action-result"));
    type("set-keep_checkpoints", "3");
    click("settings-apply");
    confirm(wait, "Apply");
    wait.until(d -> text("action-result").startsWith("Settings: keep_checkpoints"));
    wait.until(
        d ->
            textOf(
                    d.findElement(
                        By.cssSelector("#settings-table tr[data-key=keep_checkpoints] td + td")))
                .equals("3"));
    assertEquals(3, apiGet("settings").get("keep_checkpoints").asDouble());
    click("settings-toggle"); // folded again

    // ---- Checkpoint now: listed with what is on disk ----
    long askedAt = pageStep();
    click("act-checkpoint");
    confirm(wait, "Checkpoint now");
    WebElement ckpt =
        wait.until(
            d ->
                d.findElements(By.cssSelector("#checkpoints-body tr[data-checkpoint]")).stream()
                    .filter(r -> parseLong(cell(r, "step")) >= askedAt)
                    .findFirst()
                    .orElse(null));
    String name = ckpt.getDomAttribute("data-checkpoint");
    Path manifest = Checkpoints.manifestOf(runDir, name);
    assertTrue(Checkpoints.committed(manifest), manifest + " is not a committed checkpoint");
    CheckpointManifest cm = CheckpointManifest.read(manifest);
    assertEquals(cm.step(), parseLong(cell(ckpt, "step")));
    String shownSha =
        ckpt.findElement(By.cssSelector(".sha")).getDomAttribute("data-full").toLowerCase();
    assertEquals(sha256(cm.file(manifest, Checkpoints.WEIGHTS)), shownSha, "the weights' SHA");

    // ---- the full picture: charts with points, both workers, the checkpoint ----
    wait.until(d -> points("chart-val") >= 3);
    wait.until(d -> d.findElements(By.cssSelector("#toasts .toast")).isEmpty());
    screenshot(Path.of("target", "console.png"), null, 1);
    // README's copy: the top of the page down to the checkpoints, smaller.
    screenshot(Path.of("target", "console-readme.png"), ".two-col", 0.75);

    // ---- kill -9 a worker: it is listed as departed with its last log lines ----
    WebElement victimRow =
        rows.stream().filter(r -> cell(r, "rank").equals("1")).findFirst().orElseThrow();
    long victim = Long.parseLong(cell(victimRow, "pid"));
    long stepAtKill = pageStep();
    assertTrue(ProcessHandle.of(victim).orElseThrow().destroyForcibly());
    WebElement departed =
        wait.until(
            d ->
                d.findElements(By.cssSelector("#departed-list details")).stream()
                    .filter(e -> String.valueOf(victim).equals(e.getDomAttribute("data-pid")))
                    .findFirst()
                    .orElse(null));
    String reason = textOf(departed.findElement(By.cssSelector(".reason")));
    assertFalse(reason.isBlank(), "no reason shown for the departed worker");
    js("arguments[0].scrollIntoView({block: 'center'});", departed);
    departed.findElement(By.tagName("summary")).click(); // expand its log
    String log = textOf(departed.findElement(By.tagName("pre")));
    String joined =
        log.lines()
            .filter(l -> l.contains("joined world generation"))
            .reduce((a, b) -> b)
            .orElseThrow(() -> new AssertionError("no 'joined' line in the departed log:\n" + log));
    assertTrue(
        workerLog(runDir, victim).contains(squeeze(joined)),
        "the departed worker's log line is not in its log file: " + joined);
    // The run goes on without it (a new world; the launcher starts another worker).
    waitUpTo(120).until(d -> text("phase").equals("running") && pageStep() > stepAtKill + 20);
    assertTrue(committed(runDir) > stepAtKill, "the ledger stopped at the kill");

    // ---- Evict (once the restarted worker is back): listed as evicted, by whom ----
    List<WebElement> again = waitForWorkers(waitUpTo(120), 2);
    WebElement evictRow =
        again.stream().filter(r -> cell(r, "rank").equals("1")).findFirst().orElseThrow();
    long evicted = Long.parseLong(cell(evictRow, "pid"));
    js("arguments[0].scrollIntoView({block: 'center'});", evictRow);
    evictRow.findElement(By.cssSelector(".evict")).click();
    confirm(wait, "Evict");
    WebElement gone =
        wait.until(
            d ->
                d.findElements(By.cssSelector("#departed-list details")).stream()
                    .filter(e -> String.valueOf(evicted).equals(e.getDomAttribute("data-pid")))
                    .findFirst()
                    .orElse(null));
    // by the token the page sent (the API's answer names it)
    Matcher by = Pattern.compile("\\(token (tok-[0-9a-f]+)\\)$").matcher(text("action-result"));
    assertTrue(by.find(), text("action-result"));
    assertEquals(
        "evicted by an operator (token " + by.group(1) + ")",
        textOf(gone.findElement(By.cssSelector(".reason"))));
    long stepAtEvict = pageStep();
    wait.until(d -> text("phase").equals("running") && pageStep() > stepAtEvict + 10);

    // ---- Stop: the run ends with a checkpoint, and the command exits 0 ----
    click("act-stop");
    confirm(wait, "Stop the run");
    wait.until(d -> text("phase").equals("stopped"));
    assertEquals(0, run.exitCode(90), run.output());
    long steps = committed(runDir);
    String last = text("run-last-ckpt");
    Path lastManifest = Checkpoints.manifestOf(runDir, last);
    assertTrue(Checkpoints.committed(lastManifest), "no final checkpoint " + lastManifest);
    assertEquals(steps, CheckpointManifest.read(lastManifest).step(), "final checkpoint step");
    assertEquals(steps, pageStep(), "the page's last step against the ledger's");
    assertTrue(run.output().contains("stopped by "), run.output());
  }

  // ---- the browser --------------------------------------------------------------------------

  /** Headless chromium through the system's chromedriver (no Selenium Manager download). */
  private static WebDriver browser() {
    System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--hide-scrollbars");
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    return new ChromeDriver(service, options);
  }

  /** A wait that looks again when the page replaced an element it was reading. */
  private WebDriverWait waitUpTo(long seconds) {
    WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(seconds));
    wait.ignoring(StaleElementReferenceException.class);
    return wait;
  }

  private Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  /** An element's text as the page wrote it (CSS capitalisation aside). */
  private String text(String id) {
    Object t =
        js("const e = document.getElementById(arguments[0]); return e && e.textContent;", id);
    return t == null ? "" : t.toString().trim();
  }

  private static String textOf(WebElement e) {
    String t = e.getDomProperty("textContent");
    return t == null ? "" : t.trim();
  }

  private static String cell(WebElement row, String column) {
    return textOf(row.findElement(By.cssSelector(".c-" + column)));
  }

  private int points(String chart) {
    return Integer.parseInt(driver.findElement(By.id(chart)).getDomAttribute("data-points"));
  }

  private long pageStep() {
    return parseLong(text("run-step"));
  }

  private static long parseLong(String shown) {
    String digits = shown.replaceAll("[^0-9]", "");
    return digits.isEmpty() ? -1 : Long.parseLong(digits);
  }

  private boolean isOpen(String dialog) {
    return Boolean.TRUE.equals(js("return document.getElementById(arguments[0]).open;", dialog));
  }

  /** Scrolls {@code id} to the middle of the window, as a person would, and clicks it. */
  private void click(String id) {
    WebElement e = driver.findElement(By.id(id));
    js("arguments[0].scrollIntoView({block: 'center'});", e);
    e.click();
  }

  private void type(String id, String value) {
    WebElement e = driver.findElement(By.id(id));
    e.clear();
    e.sendKeys(value);
  }

  /** The page's confirmation dialog is open for {@code action}: confirm it. */
  private void confirm(WebDriverWait wait, String action) {
    wait.until(d -> isOpen("confirm-dialog"));
    assertEquals(action, text("confirm-ok"));
    click("confirm-ok");
    wait.until(d -> !isOpen("confirm-dialog"));
  }

  private List<WebElement> waitForWorkers(WebDriverWait wait, int n) {
    return wait.until(
        d -> {
          List<WebElement> rows = d.findElements(By.cssSelector("#workers-body tr[data-worker]"));
          return rows.size() == n
                  && rows.stream().allMatch(r -> cell(r, "state").equals("training"))
              ? rows
              : null;
        });
  }

  /**
   * Saves the page from its top down to the bottom of {@code until} (a CSS selector; null: the
   * whole page), 1280 CSS pixels wide, times {@code scale}.
   */
  private void screenshot(Path file, String until, double scale) throws IOException {
    js("window.scrollTo(0, 0);");
    long height =
        ((Number)
                js(
                    "const e = arguments[0] && document.querySelector(arguments[0]);"
                        + " return e ? Math.ceil(e.getBoundingClientRect().bottom) + 12"
                        + " : document.documentElement.scrollHeight;",
                    until))
            .longValue();
    Map<String, Object> shot =
        ((ChromeDriver) driver)
            .executeCdpCommand(
                "Page.captureScreenshot",
                Map.of(
                    "format",
                    "png",
                    "captureBeyondViewport",
                    true,
                    "clip",
                    Map.of("x", 0, "y", 0, "width", 1280, "height", height, "scale", scale)));
    Files.createDirectories(file.getParent());
    Files.write(file, Base64.getDecoder().decode((String) shot.get("data")));
    System.out.println("console screenshot: " + file.toAbsolutePath());
  }

  // ---- independent references ---------------------------------------------------------------

  private JsonNode apiRun() throws IOException, InterruptedException {
    return apiGet("run");
  }

  private JsonNode apiGet(String resource) throws IOException, InterruptedException {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(url + "api/v1/" + resource)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** The log file the launcher kept for the worker JVM {@code pid}, whitespace squeezed. */
  private static String workerLog(Path runDir, long pid) throws IOException {
    Function<Path, String> read =
        p -> {
          try {
            return squeeze(Files.readString(p, StandardCharsets.UTF_8));
          } catch (IOException e) {
            return "";
          }
        };
    try (Stream<Path> logs = Files.list(runDir.resolve("workers"))) {
      return logs.map(read)
          .filter(s -> s.contains("pid " + pid + " registered"))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no worker log names pid " + pid));
    }
  }

  private static String squeeze(String s) {
    return s.replaceAll("[ \\t]+", " ");
  }
}
