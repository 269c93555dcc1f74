package org.omnibiote.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.io.ByteArrayOutputStream;
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
 * {@code bench console}: what the admin console costs a run. The same tiny embedded run (same data,
 * seed and steps, so the same work: the final losses are checked equal) is trained with the console
 * off and with the console on and watched (a headless Chromium on the page, when there is one, and
 * SSE clients doing what the page does, and a Prometheus scrape every 15 s), in processes of their
 * own at the lowest CPU priority (SCHED_IDLE), alternating off/on; the median step time of each is
 * compared.
 */
@Command(
    name = "console",
    mixinStandardHelpOptions = true,
    description = {
      "Measure what the admin console adds to step time: the same tiny embedded run with the"
          + " console off, then on with clients making the page's requests (the event stream,"
          + " the checkpoints after each checkpoint event) and a Prometheus scrape every 15 s,"
          + " in a process of their own at the lowest CPU priority (--browser adds the page in a"
          + " headless Chromium on this host), alternated --pairs times; prints the median step"
          + " time of each and their ratio. The runs do the same work (the final losses must"
          + " match)."
    },
    footer = {"", "Example:", "  bin/omnibiote bench console --base_dir runs/quickstart/shards"})
final class BenchConsoleCommand implements Callable<Integer>, NeedsLibtorch {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--base_dir", required = true, paramLabel = "DIR", description = "Shards.")
  Path baseDir;

  @Option(
      names = "--steps",
      defaultValue = "300",
      description = "Steps per run (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(
      names = "--pairs",
      defaultValue = "5",
      description = "Off/on pairs, alternating which runs first (default: ${DEFAULT-VALUE}).")
  int pairs;

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
    System.out.printf(
        Locale.ROOT,
        "bench console: %d steps per run, %d pairs; watchers: %s%d SSE clients%n",
        steps,
        pairs,
        chromium == null ? "no browser on this host, " : "headless Chromium on this host, ",
        clients);
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
    return 0;
  }

  private record Run(double median, double loss, long messages) {}

  private Run run(Path runDir, boolean console, String chromium) throws Exception {
    Folders.deleteTree(runDir);
    int port = 0;
    if (console) {
      try (ServerSocket s = new ServerSocket(0)) {
        port = s.getLocalPort();
      }
    }
    Config c =
        TinyBenchRun.config(baseDir, runDir, nEmbd, steps, Map.of("port", port, "token", "bench"));
    Process watchers = null;
    Process browser = null;
    Path counted = runDir.resolve("sse-events");
    if (console) {
      String base = "http://127.0.0.1:" + port + "/";
      Files.createDirectories(runDir);
      // The watchers and the browser run in processes of their own at the lowest CPU priority
      // (SCHED_IDLE: nice alone still takes time slices from libtorch's threads, see bench follow):
      // what is measured is the console's work in the training process, not the clients' (a
      // person's browser and a Prometheus server run on other hosts).
      watchers =
          new ProcessBuilder(
                  "chrt",
                  "--idle",
                  "0",
                  "nice",
                  "-n",
                  "19",
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-XX:TieredStopAtLevel=1",
                  "-Xmx128m",
                  "-cp",
                  System.getProperty("java.class.path"),
                  ConsoleWatchers.class.getName(),
                  base,
                  Integer.toString(clients),
                  counted.toAbsolutePath().toString())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      if (chromium != null) {
        browser =
            new ProcessBuilder(
                    "chrt",
                    "--idle",
                    "0",
                    "nice",
                    "-n",
                    "19",
                    chromium,
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--user-data-dir=" + runDir.resolve("chromium").toAbsolutePath(),
                    "--remote-debugging-port=0",
                    base)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
      }
    }
    try {
      EmbeddedRun.run(c, new PrintStream(new ByteArrayOutputStream()));
    } finally {
      if (watchers != null) {
        watchers.destroy();
        watchers.waitFor();
      }
      if (browser != null) {
        browser.destroy();
        browser.waitFor();
      }
    }
    TinyBenchRun.Result r = TinyBenchRun.read(runDir);
    long messages = Files.exists(counted) ? Long.parseLong(Files.readString(counted).trim()) : 0;
    return new Run(r.medianStepSeconds(), r.finalLoss(), messages);
  }
}
