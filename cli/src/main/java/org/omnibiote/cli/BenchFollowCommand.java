package org.omnibiote.cli;

import com.typesafe.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.omnibiote.UserError;
import org.omnibiote.io.Folders;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.GenerationStore;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.worker.EmbeddedRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench follow}: what following costs. (a) The follower's throughput against {@code ingest}
 * on the same GenBank file, each a fresh process, alternated; the two must make the same shards
 * (same documents, same tokens, byte for byte). (b) The step time of a small embedded training run
 * with a follower publishing on the same host (as deployed: nice 10 and SCHED_IDLE, its default
 * threads) against the same run without it, alternated in pairs; the runs do the same work (same
 * final loss).
 */
@Command(
    name = "follow",
    mixinStandardHelpOptions = true,
    description = {
      "Measure what 'follow' costs. (a) Throughput: the same daily-style GenBank file (real"
          + " records of --data, each record's accession made unique, repeated to --size-mb)"
          + " through 'ingest' and through 'follow --once', each a fresh process (JVM start"
          + " included), alternated --runs times; prints the median MB/s (wall and per CPU"
          + " second) of each and their ratio, and checks both made the same shards.",
      "(b) Step time: a small embedded training run on --base_dir, alone and with a follower"
          + " publishing --follow-files such files (again and again, so it never idles) into a"
          + " folder of its own on this host"
          + " (as bin/omnibiote runs it; --sched), alternated --pairs times; prints the median step"
          + " time of each and their ratio. --pairs 0 skips (b)."
    },
    footer = {
      "",
      "Example:",
      "  bin/omnibiote bench follow --base_dir runs/quickstart/shards",
      "  bin/omnibiote bench follow --pairs 0 --size-mb 40     # throughput only"
    })
final class BenchFollowCommand implements Callable<Integer>, NeedsLibtorch {

  @Mixin GenBankBenchInput inputs;

  @Option(
      names = "--size-mb",
      defaultValue = "20",
      description = "Flat-file megabytes per input file (default: ${DEFAULT-VALUE}).")
  double sizeMb;

  @Option(
      names = "--runs",
      defaultValue = "3",
      description = "Ingest/follow throughput runs, alternated (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(
      names = "--threads",
      paramLabel = "N",
      description = "The follower's tokenizer threads (default: its own default, 1).")
  Integer threads;

  @Option(
      names = "--base_dir",
      paramLabel = "DIR",
      description = "Shards for the training run of (b) (required unless --pairs 0).")
  Path baseDir;

  @Option(
      names = "--pairs",
      defaultValue = "3",
      description = "Without/with-follower training pairs (default: ${DEFAULT-VALUE}).")
  int pairs;

  @Option(
      names = "--steps",
      defaultValue = "300",
      description = "Steps per training run (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(
      names = "--n_embd",
      defaultValue = "64",
      description = "Model width (default: ${DEFAULT-VALUE}; 2 layers, ctx 128, batch 16).")
  int nEmbd;

  @Option(
      names = "--follow-files",
      defaultValue = "4",
      description =
          "Files in the follower's folder for (b); it publishes them again and again (each pass"
              + " a fresh follow --once into a fresh folder) so it is busy the whole run"
              + " (default: ${DEFAULT-VALUE}).")
  int followFiles;

  @Option(
      names = "--sched",
      split = ",",
      defaultValue = "idle",
      paramLabel = "POLICY",
      description =
          "How the follower of (b) is scheduled, one run with it per policy and pair: idle (as"
              + " deployed: nice 10 and SCHED_IDLE), normal (nice 10 only); e.g. normal,idle"
              + " (default: ${DEFAULT-VALUE}).")
  List<String> sched;

  @Option(
      names = "--output",
      paramLabel = "DIR",
      description = "Keep inputs, outputs and logs here (default: a temporary folder, deleted).")
  Path output;

  @Override
  public Integer call() throws Exception {
    Path home = GenBankBenchInput.home();
    Path dataDir = inputs.dataDir();
    Path model = inputs.model();
    if (pairs > 0 && (baseDir == null || !Files.isDirectory(baseDir))) {
      throw new UserError("(b) trains on --base_dir DIR (a folder of shards), or give --pairs 0");
    }
    Path work = output != null ? output : Files.createTempDirectory("bench-follow");
    Files.createDirectories(work);
    try {
      List<Path> genbank = inputs.genBankFiles();
      UniqueRecords records = new UniqueRecords(genbank);
      Path dailyA = Files.createDirectories(work.resolve("daily-a"));
      Path input = dailyA.resolve("nc0101.flat.gz");
      long flat = records.write(input, (long) (sizeMb * 1e6));
      System.out.printf(
          Locale.ROOT,
          "input: %d GenBank files of %s, records made unique, %.1f MB of flat file (%.1f MB"
              + " gzipped); machine: %d cores, load %s%n",
          genbank.size(),
          dataDir,
          flat / 1e6,
          Files.size(input) / 1e6,
          Runtime.getRuntime().availableProcessors(),
          loadAverage());
      int rc = throughput(home, model, work, dailyA, input, flat);
      if (pairs > 0) {
        Path dailyB = Files.createDirectories(work.resolve("daily-b"));
        for (int i = 0; i < followFiles; i++) {
          records.write(
              dailyB.resolve(String.format(Locale.ROOT, "nc02%02d.flat.gz", i + 1)),
              (long) (sizeMb * 1e6));
        }
        stepTime(home, model, work, dailyB);
      }
      System.out.println("machine load after: " + loadAverage());
      return rc;
    } finally {
      if (output == null) {
        Folders.deleteTree(work);
      }
    }
  }

  /** (a): ingest and follow --once on the same file, alternated; the same shards checked. */
  private int throughput(Path home, Path model, Path work, Path daily, Path input, long flat)
      throws Exception {
    String bin = home.resolve("bin/omnibiote").toString();
    List<Double> ingestWall = new ArrayList<>();
    List<Double> ingestCpu = new ArrayList<>();
    List<Double> followWall = new ArrayList<>();
    List<Double> followCpu = new ArrayList<>();
    String mismatch = null;
    for (int r = 0; r < runs; r++) {
      Path ingestOut = work.resolve("ingest-" + r);
      Path followOut = work.resolve("follow-" + r);
      Folders.deleteTree(ingestOut);
      Folders.deleteTree(followOut);
      BenchIngestCommand.Timed i =
          BenchIngestCommand.timed(
              List.of(
                  bin,
                  "ingest",
                  "--tokenizer",
                  model.toString(),
                  "--genbank",
                  input.toString(),
                  "--output",
                  ingestOut.toString()),
              work.resolve("ingest-" + r + ".log"));
      List<String> follow =
          new ArrayList<>(
              List.of(
                  "env",
                  // Like for like: ingest runs at the normal priority, so follow does too here.
                  "OMNIBIOTE_FOLLOW_NICE=0",
                  "OMNIBIOTE_FOLLOW_SCHED=normal",
                  bin,
                  "follow",
                  "--tokenizer",
                  model.toString(),
                  "--output",
                  followOut.toString(),
                  "--genbank-daily",
                  daily.toString(),
                  "--genbank-release",
                  "",
                  "--uniref",
                  "",
                  "--once"));
      if (threads != null) {
        follow.addAll(List.of("--threads", threads.toString()));
      }
      BenchIngestCommand.Timed f =
          BenchIngestCommand.timed(follow, work.resolve("follow-" + r + ".log"));
      ingestWall.add(i.wallSecs());
      ingestCpu.add(i.cpuSecs());
      followWall.add(f.wallSecs());
      followCpu.add(f.cpuSecs());
      String diff = sameShards(ingestOut, followOut);
      if (diff != null) {
        mismatch = diff;
      }
      System.out.printf(
          Locale.ROOT,
          "  run %d: ingest %.2f s (CPU %.2f s), follow --once %.2f s (CPU %.2f s)%s%n",
          r + 1,
          i.wallSecs(),
          i.cpuSecs(),
          f.wallSecs(),
          f.cpuSecs(),
          diff == null ? ", same shards" : ", DIFFERENT: " + diff);
      if (r > 0) {
        Folders.deleteTree(ingestOut);
        Folders.deleteTree(followOut);
      }
    }
    double mb = flat / 1e6;
    double iw = TinyBenchRun.median(ingestWall);
    double ic = TinyBenchRun.median(ingestCpu);
    double fw = TinyBenchRun.median(followWall);
    double fc = TinyBenchRun.median(followCpu);
    Manifest m = new ManifestStore(new ShardLayout(work.resolve("ingest-0"))).read().orElseThrow();
    System.out.printf(
        Locale.ROOT,
        "ingest:         %7.2f s  %6.2f MB/s   CPU %7.2f s  %6.2f MB per CPU-s  (%d documents,"
            + " %d tokens; median of %d)%n",
        iw,
        mb / iw,
        ic,
        mb / ic,
        m.totals().documents(),
        m.totals().tokens(),
        runs);
    System.out.printf(
        Locale.ROOT,
        "follow --once:  %7.2f s  %6.2f MB/s   CPU %7.2f s  %6.2f MB per CPU-s  (tokenizer"
            + " threads: %s; ingest's: one per core)%n",
        fw,
        mb / fw,
        fc,
        mb / fc,
        threads == null ? "1, its default" : threads.toString());
    System.out.printf(
        Locale.ROOT,
        "follow / ingest throughput: %.2fx wall clock, %.2fx per CPU second (JVM start included in"
            + " both)%n",
        iw / fw,
        ic / fc);
    if (mismatch != null) {
      System.out.println("MISMATCH: ingest and follow made different shards: " + mismatch);
      return 1;
    }
    return 0;
  }

  /**
   * Null when the follower's generation 1 holds the same shards (split, documents, tokens, SHA-256,
   * in order) as the ingest's manifest, else what differs.
   */
  static String sameShards(Path ingestOut, Path followOut) {
    Manifest m = new ManifestStore(new ShardLayout(ingestOut)).read().orElseThrow();
    List<Generation> gens = new GenerationStore(new ShardLayout(followOut)).committed();
    if (gens.size() != 1) {
      return "the follower committed " + gens.size() + " generations, not 1";
    }
    List<String> a =
        m.shards().stream()
            .filter(s -> s.copiedFrom() == null)
            .map(BenchFollowCommand::describe)
            .toList();
    List<String> b = gens.get(0).shards().stream().map(BenchFollowCommand::describe).toList();
    return a.equals(b) ? null : "ingest " + a + " vs follow " + b;
  }

  private static String describe(Manifest.Shard s) {
    String name = s.path().substring(s.path().lastIndexOf('/') + 1);
    return s.dataset()
        + "/"
        + s.split()
        + " #"
        + name.substring(name.length() - 9)
        + " "
        + s.documents()
        + " docs "
        + s.tokens()
        + " tokens "
        + s.sha256().substring(0, 12);
  }

  /** (b): the training run alone and with a follower busy beside it, alternated. */
  private void stepTime(Path home, Path model, Path work, Path daily) throws Exception {
    System.out.printf(
        Locale.ROOT,
        "step time: %d steps per run (2 layers, n_embd %d, ctx 128, batch 16), %d pairs; the"
            + " follower publishes %d files of %.0f MB again and again (%s tokenizer"
            + " thread(s))%n",
        steps,
        nEmbd,
        pairs,
        followFiles,
        sizeMb,
        threads == null ? "1" : threads.toString());
    for (String policy : sched) {
      if (!policy.equals("idle") && !policy.equals("normal")) {
        throw new UserError("--sched " + policy + ": give idle or normal");
      }
    }
    List<Double> off = new ArrayList<>();
    Map<String, List<Double>> on = new java.util.LinkedHashMap<>();
    sched.forEach(s -> on.put(s, new ArrayList<>()));
    double loss = Double.NaN;
    for (int p = 0; p < pairs; p++) {
      Run a = train(work.resolve("train-off-" + p));
      off.add(a.median);
      loss = a.loss;
      StringBuilder line =
          new StringBuilder(
              String.format(
                  Locale.ROOT, "  pair %d: median step %.2f ms alone", p + 1, a.median * 1e3));
      for (String policy : sched) {
        List<String> cmd =
            new ArrayList<>(
                List.of(
                    "env",
                    "OMNIBIOTE_FOLLOW_SCHED=" + policy,
                    home.resolve("bin/omnibiote").toString(),
                    "follow",
                    "--tokenizer",
                    model.toString(),
                    "--genbank-daily",
                    daily.toString(),
                    "--genbank-release",
                    "",
                    "--uniref",
                    "",
                    "--once"));
        if (threads != null) {
          cmd.addAll(List.of("--threads", threads.toString()));
        }
        Run b;
        long published;
        int processes;
        String name = "follow-b-" + policy + "-" + p;
        try (BusyFollower follower =
            new BusyFollower(cmd, work.resolve(name), work.resolve(name + ".log"))) {
          follower.waitUntilPublishing();
          b = train(work.resolve("train-" + policy + "-" + p));
          published = follower.published();
          processes = follower.processes();
        }
        if (a.loss != b.loss) {
          throw new IllegalStateException(
              "the runs did different work: final loss " + a.loss + " vs " + b.loss);
        }
        on.get(policy).add(b.median / a.median);
        line.append(
            String.format(
                Locale.ROOT,
                "; with a follower (%s) %.2f ms, ratio %.4f (%d files of %.0f MB published"
                    + " meanwhile by %d processes)",
                policy.equals("idle") ? "nice 10 + SCHED_IDLE" : "nice 10",
                b.median * 1e3,
                b.median / a.median,
                published,
                sizeMb,
                processes));
      }
      System.out.println(line);
    }
    // The median of the pairs' ratios: the host's load drifts between pairs (others' work), and
    // each pair's two runs are back to back.
    for (String policy : sched) {
      System.out.printf(
          Locale.ROOT,
          "with follower (%s) / alone: %.4f (median of %d pairs' ratios; median step alone %.2f"
              + " ms; same final loss %.6f)%n",
          policy.equals("idle") ? "nice 10 + SCHED_IDLE, as deployed" : "nice 10 only",
          TinyBenchRun.median(on.get(policy)),
          pairs,
          TinyBenchRun.median(off) * 1e3,
          loss);
    }
  }

  /**
   * A follower that is never idle: {@code follow --once} over the same daily folder into a fresh
   * output folder, again and again, until closed (each pass is the whole work: download check,
   * parse, tokenize, shards, commit). Its processes run as bin/omnibiote runs follow (nice 10, and
   * SCHED_IDLE unless OMNIBIOTE_FOLLOW_SCHED=normal).
   */
  private static final class BusyFollower implements AutoCloseable {
    private final List<String> command;
    private final Path base;
    private final Path log;
    private final Thread loop;
    private volatile boolean stopping;
    private volatile Process current;
    private volatile Path currentOutput;
    private long publishedBefore;
    private int processes;

    BusyFollower(List<String> command, Path base, Path log) throws IOException {
      this.command = command;
      this.base = base;
      this.log = log;
      Folders.deleteTree(base);
      Files.createDirectories(base);
      this.loop = new Thread(this::loop, "bench-follower");
      loop.setDaemon(true);
      loop.start();
    }

    private void loop() {
      try {
        for (int k = 0; !stopping; k++) {
          Path out = base.resolve("pass-" + k);
          List<String> cmd = new ArrayList<>(command);
          cmd.addAll(List.of("--output", out.toString()));
          synchronized (this) {
            if (stopping) {
              return;
            }
            currentOutput = out;
            processes++;
            current =
                new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
          }
          current.waitFor();
          synchronized (this) {
            publishedBefore += committed(out);
            currentOutput = null;
          }
          Folders.deleteTree(out);
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private static long committed(Path out) {
      return Files.isDirectory(out)
          ? new GenerationStore(new ShardLayout(out)).committed().size()
          : 0;
    }

    /** Files published so far, by every pass. */
    synchronized long published() {
      return publishedBefore + (currentOutput == null ? 0 : committed(currentOutput));
    }

    synchronized int processes() {
      return processes;
    }

    /** Until the first file is under way (the first JVM start is not the run's cost). */
    void waitUntilPublishing() throws Exception {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (System.nanoTime() < deadline) {
        if (Files.exists(log) && Files.readString(log).contains("nc02")) {
          return;
        }
        Thread.sleep(200);
      }
      throw new UserError("the follower did not start publishing within 2 minutes; see " + log);
    }

    @Override
    public void close() throws InterruptedException {
      Process p;
      synchronized (this) {
        stopping = true;
        p = current;
      }
      if (p != null) {
        p.destroy();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      loop.join(TimeUnit.SECONDS.toMillis(60));
    }
  }

  private record Run(double median, double loss) {}

  private Run train(Path runDir) throws Exception {
    Folders.deleteTree(runDir);
    // The console off (port 0): what is measured is the follower.
    Config c = TinyBenchRun.config(baseDir, runDir, nEmbd, steps, Map.of("port", 0));
    EmbeddedRun.run(c, new PrintStream(new ByteArrayOutputStream()));
    TinyBenchRun.Result r = TinyBenchRun.read(runDir);
    return new Run(r.medianStepSeconds(), r.finalLoss());
  }

  /**
   * Real GenBank records, each copy given an accession of its own (ACCESSION and VERSION lines:
   * {@code Z78533.1} becomes {@code Z78533_17.1}), so repeating them to a size makes new records,
   * not repeated ones (which the follower would rightly skip and ingest would not).
   */
  static final class UniqueRecords {
    private final List<List<String>> files = new ArrayList<>();
    private long next;

    UniqueRecords(List<Path> genbank) throws IOException {
      for (Path f : genbank) {
        files.add(Files.readAllLines(f, StandardCharsets.ISO_8859_1));
      }
    }

    /** Writes {@code target} (gzipped) with at least {@code flatBytes}; returns the flat bytes. */
    long write(Path target, long flatBytes) throws IOException {
      long written = 0;
      Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
      try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
        while (written < flatBytes) {
          for (List<String> lines : files) {
            if (written >= flatBytes) {
              break;
            }
            for (String line : lines) {
              if (line.startsWith("LOCUS       ")) {
                next++;
              } else if (line.startsWith("ACCESSION   ") || line.startsWith("VERSION     ")) {
                line = unique(line);
              }
              byte[] b = (line + "\n").getBytes(StandardCharsets.ISO_8859_1);
              out.write(b);
              written += b.length;
            }
          }
        }
      }
      Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      return written;
    }

    private String unique(String line) {
      int start = 12;
      while (start < line.length() && line.charAt(start) == ' ') {
        start++;
      }
      int end = line.indexOf(' ', start);
      if (end < 0) {
        end = line.length();
      }
      String id = line.substring(start, end);
      if (id.isEmpty()) {
        return line;
      }
      int dot = id.lastIndexOf('.');
      String made =
          dot > 0 ? id.substring(0, dot) + "_" + next + id.substring(dot) : id + "_" + next;
      return line.substring(0, start) + made + line.substring(end);
    }
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }
}
