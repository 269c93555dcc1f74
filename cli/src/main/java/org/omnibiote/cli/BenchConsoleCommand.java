package org.omnibiote.cli;

import com.typesafe.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.io.Folders;
import org.omnibiote.worker.EmbeddedRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench console}: what the admin console adds to step time with a browser connected.
 *
 * <p>One tiny embedded run with the console on, watched in alternate windows of {@code --window}
 * seconds (the watchers connect at the start of an odd window and leave at its end) and not watched
 * in the others. Each watched window's median step is compared with the mean of its two unwatched
 * neighbours' (a slow drift of the host's speed cancels), and so is the CPU time of the training
 * process's JVM threads other than the compute thread (where all of the console's work runs). The
 * watchers are clients doing what the page does, in a process of their own at the lowest CPU
 * priority (SCHED_IDLE), and with {@code --browser} the page in a headless Chromium. The
 * coordinator keeps the view the console shows whether or not the console is on, so the unwatched
 * windows are the run without the console, apart from a listening socket; {@code --pairs} also
 * compares whole runs with the console off and on, which a 2-core host's run-to-run spread (several
 * %) drowns.
 */
@Command(
    name = "console",
    mixinStandardHelpOptions = true,
    description = {
      "Measure what the admin console adds to step time: one tiny embedded run with the console"
          + " on, watched in alternate windows (clients doing what the page does: the event"
          + " stream, the checkpoints after a checkpoint event, a Prometheus scrape every 15 s;"
          + " --browser adds the page in a headless Chromium) and not watched in the others;"
          + " prints each watched window's median step and JVM-thread CPU against its unwatched"
          + " neighbours', and their mean ratio with a 95% confidence interval. --pairs N also"
          + " runs N pairs of whole runs with the console off and on (the final losses must"
          + " match)."
    },
    footer = {"", "Example:", "  bin/omnibiote bench console --base_dir runs/quickstart/shards"})
final class BenchConsoleCommand implements Callable<Integer>, NeedsLibtorch {

  @Option(names = "--base_dir", required = true, paramLabel = "DIR", description = "Shards.")
  Path baseDir;

  @Option(
      names = "--steps",
      defaultValue = "3000",
      description = "Steps of the windowed run (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(
      names = "--window",
      defaultValue = "10",
      paramLabel = "SECONDS",
      description = "Seconds per window, watched and not in turn (default: ${DEFAULT-VALUE}).")
  int window;

  @Option(
      names = "--pairs",
      defaultValue = "0",
      description =
          "Also run this many pairs of whole runs with the console off and on, alternating which"
              + " runs first (default: ${DEFAULT-VALUE}).")
  int pairs;

  @Option(
      names = "--pair-steps",
      defaultValue = "300",
      description = "Steps per run of a pair (default: ${DEFAULT-VALUE}).")
  int pairSteps;

  @Option(
      names = "--clients",
      defaultValue = "2",
      description = "SSE clients besides the browser (default: ${DEFAULT-VALUE}).")
  int clients;

  @Option(
      names = "--browser",
      description =
          "Also open the page in a headless Chromium on this host (its rendering then competes"
              + " with training for this host's cores; a person's browser runs elsewhere).")
  boolean browser;

  @Option(
      names = "--n_embd",
      defaultValue = "64",
      description = "Model width (default: ${DEFAULT-VALUE}; 2 layers, ctx 128, batch 16).")
  int nEmbd;

  @Option(
      names = "--output",
      defaultValue = "runs/bench-console",
      description = "Where the runs go (default: ${DEFAULT-VALUE}).")
  Path output;

  @Override
  public Integer call() throws Exception {
    if (!Files.isDirectory(baseDir)) {
      throw new UserError("--base_dir " + baseDir + " is not a folder of shards");
    }
    String chromium =
        browser && Files.isExecutable(Path.of("/usr/bin/chromium")) ? "/usr/bin/chromium" : null;
    if (window < 2) {
      throw new UserError("--window " + window + ": give at least 2 seconds");
    }
    System.out.printf(
        Locale.ROOT,
        "bench console: one run of %d steps, watched in alternate %d s windows by %s%d SSE"
            + " clients%n",
        steps,
        window,
        chromium == null ? "" : "a headless Chromium and ",
        clients);
    windowed(chromium);
    if (pairs > 0) {
      pairs(chromium);
    }
    return 0;
  }

  private void pairs(String chromium) throws Exception {
    System.out.printf(
        Locale.ROOT,
        "whole runs: %d pairs of %d steps with the console off and on (watched throughout)%n",
        pairs,
        pairSteps);
    List<Double> off = new ArrayList<>();
    List<Double> on = new ArrayList<>();
    double lossOff = Double.NaN;
    for (int p = 0; p < pairs; p++) {
      // Alternate which runs first, so a drift of the host's speed falls on both alike.
      Run a;
      Run b;
      if (p % 2 == 0) {
        a = run(output.resolve("off-" + p), false, null);
        b = run(output.resolve("on-" + p), true, chromium);
      } else {
        b = run(output.resolve("on-" + p), true, chromium);
        a = run(output.resolve("off-" + p), false, null);
      }
      off.add(a.median);
      on.add(b.median);
      if (a.loss != b.loss) {
        throw new IllegalStateException(
            "the runs did different work: final loss " + a.loss + " (off) vs " + b.loss + " (on)");
      }
      lossOff = a.loss;
      System.out.printf(
          Locale.ROOT,
          "  pair %d: median step %.2f ms off, %.2f ms on (%d SSE messages read), ratio %.4f%n",
          p + 1,
          a.median * 1e3,
          b.median * 1e3,
          b.messages,
          b.median / a.median);
    }
    double mOff = TinyBenchRun.median(off);
    double mOn = TinyBenchRun.median(on);
    System.out.printf(
        Locale.ROOT,
        "console on / off: %.4f (median step %.2f ms vs %.2f ms over %d pairs; same final loss"
            + " %.6f)%n",
        mOn / mOff,
        mOn * 1e3,
        mOff * 1e3,
        pairs,
        lossOff);
  }

  private record Run(double median, double loss, long messages) {}

  private Run run(Path runDir, boolean console, String chromium) throws Exception {
    Folders.deleteTree(runDir);
    int port = console ? freePort() : 0;
    Config c =
        TinyBenchRun.config(
            baseDir, runDir, nEmbd, pairSteps, Map.of("port", port, "token", "bench"));
    Process watchers = null;
    Process browser = null;
    Path counted = runDir.resolve("sse-events");
    if (console) {
      String base = "http://127.0.0.1:" + port + "/";
      Files.createDirectories(runDir);
      watchers = watchers(base, counted);
      if (chromium != null) {
        browser = chromium(chromium, runDir, base);
      }
    }
    try {
      EmbeddedRun.run(c, new PrintStream(new ByteArrayOutputStream()));
    } finally {
      stop(watchers);
      stop(browser);
    }
    TinyBenchRun.Result r = TinyBenchRun.read(runDir);
    return new Run(r.medianStepSeconds(), r.finalLoss(), events(counted));
  }

  // ---- one run, watched in alternate windows ---------------------------------------------------

  /** Seconds from the start before the first window: libtorch loads and the JIT warms up. */
  private static final long WARM_UP_MS = 10_000;

  /** Steps of an unwatched window that start this soon after it are left out (clients leaving). */
  private static final long LEAVING_MS = 1_500;

  /** Fewer steps than this in a window, and it is not compared. */
  private static final int MIN_STEPS = 20;

  private void windowed(String chromium) throws Exception {
    Path runDir = output.resolve("windowed");
    Folders.deleteTree(runDir);
    Files.createDirectories(runDir);
    int port = freePort();
    Config c =
        TinyBenchRun.config(baseDir, runDir, nEmbd, steps, Map.of("port", port, "token", "bench"));
    String base = "http://127.0.0.1:" + port + "/";
    long windowMs = window * 1000L;
    long t0 = System.currentTimeMillis() + WARM_UP_MS;
    Path counted = runDir.resolve("sse-events");
    Process watchers = watchers(base, counted, Long.toString(windowMs), Long.toString(t0));
    JvmCpu cpu = new JvmCpu();
    Map<Long, Long> cpuByWindow = new java.util.concurrent.ConcurrentHashMap<>();
    Map<Long, Long> processCpuByWindow = new java.util.concurrent.ConcurrentHashMap<>();
    // At each window's end: the CPU time the JVM's threads other than the compute thread, and the
    // whole process, took in it.
    Thread sampler =
        new Thread(
            () -> {
              try {
                sleepUntil(t0);
                cpu.sample();
                long process = processCpuNanos();
                for (long k = 0; ; k++) {
                  sleepUntil(t0 + (k + 1) * windowMs);
                  cpuByWindow.put(k, cpu.sample());
                  long p = processCpuNanos();
                  processCpuByWindow.put(k, p - process);
                  process = p;
                }
              } catch (InterruptedException e) {
                // the run ended
              }
            },
            "bench-cpu-sampler");
    sampler.setDaemon(true);
    sampler.start();
    // The browser opens the page at the start of each watched window and is closed at its end.
    Thread pages = null;
    if (chromium != null) {
      pages =
          new Thread(
              () -> {
                try {
                  for (long k = 1; ; k += 2) {
                    sleepUntil(t0 + k * windowMs);
                    Process b = chromium(chromium, runDir, base);
                    try {
                      sleepUntil(t0 + (k + 1) * windowMs);
                    } finally {
                      b.destroyForcibly();
                    }
                  }
                } catch (InterruptedException | IOException e) {
                  // the run ended
                }
              },
              "bench-browser");
      pages.setDaemon(true);
      pages.start();
    }
    try {
      EmbeddedRun.run(c, new PrintStream(new ByteArrayOutputStream()));
    } finally {
      sampler.interrupt();
      if (pages != null) {
        pages.interrupt();
        pages.join();
      }
      stop(watchers);
    }
    report(TinyBenchRun.steps(runDir), t0, windowMs, cpuByWindow, processCpuByWindow);
    System.out.printf(Locale.ROOT, "  (%d SSE events read by the watchers)%n", events(counted));
  }

  private void report(
      List<TinyBenchRun.Step> all,
      long t0,
      long windowMs,
      Map<Long, Long> cpuByWindow,
      Map<Long, Long> processCpuByWindow) {
    Map<Long, List<Double>> byWindow = new java.util.TreeMap<>();
    for (int i = Math.min(20, all.size()); i < all.size(); i++) {
      TinyBenchRun.Step s = all.get(i);
      long end = Math.round(s.endSeconds() * 1000);
      long start = end - Math.round(s.seconds() * 1000);
      long k = Math.floorDiv(start - t0, windowMs);
      if (k < 0 || Math.floorDiv(end - t0, windowMs) != k) {
        continue; // before the first window, or across two
      }
      if (k % 2 == 0 && start - (t0 + k * windowMs) < LEAVING_MS) {
        continue; // the watchers may still be leaving
      }
      byWindow.computeIfAbsent(k, x -> new ArrayList<>()).add(s.seconds());
    }
    List<Double> logRatios = new ArrayList<>();
    List<Double> cpuOn = new ArrayList<>();
    List<Double> cpuOff = new ArrayList<>();
    double seconds = windowMs / 1e3;
    for (Map.Entry<Long, List<Double>> e : byWindow.entrySet()) {
      long k = e.getKey();
      List<Double> before = byWindow.get(k - 1);
      List<Double> after = byWindow.get(k + 1);
      if (k % 2 == 0
          || e.getValue().size() < MIN_STEPS
          || before == null
          || after == null
          || before.size() < MIN_STEPS
          || after.size() < MIN_STEPS) {
        continue;
      }
      double on = TinyBenchRun.median(e.getValue());
      double off = (TinyBenchRun.median(before) + TinyBenchRun.median(after)) / 2;
      logRatios.add(Math.log(on / off));
      String cpuText = "";
      Long c = cpuByWindow.get(k);
      Long cb = cpuByWindow.get(k - 1);
      Long ca = cpuByWindow.get(k + 1);
      if (c != null && cb != null && ca != null) {
        double msOn = c / 1e6 / seconds;
        double msOff = (cb + ca) / 2e6 / seconds;
        cpuOn.add(msOn);
        cpuOff.add(msOff);
        cpuText = String.format(Locale.ROOT, "; JVM threads %.1f vs %.1f ms CPU/s", msOn, msOff);
      }
      System.out.printf(
          Locale.ROOT,
          "  window %d, watched: %d steps, median %.2f ms vs %.2f ms unwatched around it (%d, %d"
              + " steps), ratio %.4f%s%n",
          k,
          e.getValue().size(),
          on * 1e3,
          off * 1e3,
          before.size(),
          after.size(),
          on / off,
          cpuText);
    }
    if (logRatios.size() < 2) {
      throw new UserError(
          "the run was too short for 2 watched windows between unwatched ones: give more --steps"
              + " or a shorter --window");
    }
    int n = logRatios.size();
    double mean = logRatios.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    double var = 0;
    for (double x : logRatios) {
      var += (x - mean) * (x - mean);
    }
    double half = tQuantile975(n - 1) * Math.sqrt(var / (n - 1) / n);
    System.out.printf(
        Locale.ROOT,
        "watched / unwatched step time: %.4f (95%% confidence interval %.4f to %.4f over %d"
            + " watched windows; geometric mean of the window ratios)%n",
        Math.exp(mean),
        Math.exp(mean - half),
        Math.exp(mean + half),
        n);
    if (!cpuOn.isEmpty()) {
      double on = cpuOn.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
      double off = cpuOff.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
      double process =
          processCpuByWindow.values().stream()
              .mapToDouble(v -> v / 1e6 / seconds)
              .average()
              .orElse(Double.NaN);
      System.out.printf(
          Locale.ROOT,
          "JVM threads other than the compute thread (the console's work runs there): %.1f ms CPU/s"
              + " watched vs %.1f unwatched: %+.1f ms/s, %.2f%% of the %.0f ms CPU/s the training"
              + " process used%n",
          on,
          off,
          on - off,
          100 * (on - off) / process,
          process);
    }
  }

  /** The two-sided 95% quantile of Student's t with {@code df} degrees of freedom. */
  static double tQuantile975(int df) {
    double[] t = {
      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
      2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
      2.052, 2.048, 2.045, 2.042
    };
    return df <= t.length ? t[df - 1] : 1.96;
  }

  /**
   * CPU time of this JVM's threads other than the compute threads and this bench's own, since the
   * last sample (per thread, so a thread that ends does not take its past time with it).
   */
  private static final class JvmCpu {
    private final java.lang.management.ThreadMXBean threads =
        java.lang.management.ManagementFactory.getThreadMXBean();
    private Map<Long, Long> last = new java.util.HashMap<>();

    long sample() {
      Map<Long, Long> now = new java.util.HashMap<>();
      long delta = 0;
      for (java.lang.management.ThreadInfo t : threads.getThreadInfo(threads.getAllThreadIds())) {
        if (t == null
            || t.getThreadName().startsWith("omnibiote-compute")
            || t.getThreadName().startsWith("bench-")) {
          continue;
        }
        long ns = threads.getThreadCpuTime(t.getThreadId());
        if (ns < 0) {
          continue;
        }
        now.put(t.getThreadId(), ns);
        delta += ns - last.getOrDefault(t.getThreadId(), 0L);
      }
      last = now;
      return delta;
    }
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  private static void sleepUntil(long epochMs) throws InterruptedException {
    long ms = epochMs - System.currentTimeMillis();
    if (ms > 0) {
      Thread.sleep(ms);
    }
  }

  // ---- the watchers -----------------------------------------------------------------------------

  /**
   * The clients, in a process of their own at the lowest CPU priority (SCHED_IDLE: nice alone still
   * takes time slices from libtorch's threads, see bench follow): what is measured is the console's
   * work in the training process, not the clients' (a person's browser and a Prometheus server run
   * on other hosts). {@code window} is empty (always connected) or WINDOW_MS T0_MS.
   */
  private Process watchers(String base, Path counted, String... window) throws IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1",
                "-Xmx128m",
                "-cp",
                System.getProperty("java.class.path"),
                ConsoleWatchers.class.getName(),
                base,
                Integer.toString(clients),
                counted.toAbsolutePath().toString()));
    cmd.addAll(List.of(window));
    return idle(cmd);
  }

  /** The page in a headless Chromium at the lowest CPU priority. */
  private static Process chromium(String chromium, Path runDir, String base) throws IOException {
    return idle(
        List.of(
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--user-data-dir=" + runDir.resolve("chromium").toAbsolutePath(),
            "--remote-debugging-port=0",
            base));
  }

  /** Starts {@code cmd} under SCHED_IDLE and nice 19, its output discarded. */
  private static Process idle(List<String> cmd) throws IOException {
    List<String> all = new ArrayList<>(List.of("chrt", "--idle", "0", "nice", "-n", "19"));
    all.addAll(cmd);
    return new ProcessBuilder(all)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  private static void stop(Process p) throws InterruptedException {
    if (p != null) {
      p.destroy();
      p.waitFor();
    }
  }

  private static long events(Path counted) throws IOException {
    return Files.exists(counted) ? Long.parseLong(Files.readString(counted).trim()) : 0;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
