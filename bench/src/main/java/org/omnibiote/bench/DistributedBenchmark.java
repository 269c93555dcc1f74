package org.omnibiote.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * {@code bench distributed}: the communication cost of data-parallel training with our real parts
 * (OmniBioTA, MuAdamW, c10d Gloo, the c10d Reducer), measured on this machine with one JVM per
 * worker, and a formula for 8 GPUs with NCCL ({@link NcclEstimate}).
 *
 * <p>A world of 1, with a thread per core, gives (a): the step without communication on the whole
 * machine; with 1 thread, (a1): one worker's compute alone. A world of 2, a thread each, times, in
 * the same rounds: (a2) the step without communication (compute under the load of two workers: the
 * baseline the communication costs are taken against), (b) all-reduce after backward, (c) the
 * Reducer overlapped with backward and (d) a raw Gloo all-reduce of tensors of exactly the gradient
 * buckets' sizes. Each is the median over the timed rounds of the slower rank's time.
 */
public final class DistributedBenchmark {
  /** Options besides the model and the steps: the GPU assumptions and an optional GPU step time. */
  public record Options(
      DistributedSettings settings, NcclEstimate.Assumptions gpu, Double gpuStepMs) {}

  /**
   * The medians (seconds) the report is made of; see the class comment for the modes. {@code
   * stepAfterMinusLocal} and {@code stepOverlapMinusLocal}: medians of the per-round differences of
   * whole steps; {@code phaseAfterMinusLocal} and {@code phaseOverlapMinusLocal}: the same for the
   * part of the step where the modes differ (the last micro-batch's backward and the all-reduce),
   * which the other load on the machine disturbs less.
   */
  public record Report(
      long parameters,
      long gradientBytes,
      List<Long> bucketBytes,
      long tokensPerWorkerStep,
      double oneWorker,
      double oneThread,
      double local,
      double after,
      double afterCopyAndGloo,
      double afterGloo,
      double afterSkew,
      double overlap,
      double raw,
      double stepAfterMinusLocal,
      double stepOverlapMinusLocal,
      double phaseLocal,
      double phaseAfterMinusLocal,
      double phaseOverlapMinusLocal) {

    /** Time in all-reduce without overlap, b - a2 (where the modes differ, paired per round). */
    public double allReduceWithoutOverlap() {
      return phaseAfterMinusLocal;
    }

    /** Communication left exposed with the Reducer, c - a2 (likewise). */
    public double exposedWithOverlap() {
      return phaseOverlapMinusLocal;
    }

    /** 1 - (c - a2) / (b - a2): the share of the all-reduce the Reducer hid behind backward. */
    public double overlapFraction() {
      return 1 - exposedWithOverlap() / allReduceWithoutOverlap();
    }

    /** The most the Reducer can hide: all but the last bucket (wte's, ready at the very end). */
    public double overlapBound() {
      return 1 - bucketBytes.get(bucketBytes.size() - 1) / (double) gradientBytes;
    }

    /** The faster 1-worker step, (a) or (a1): the one a single worker would run with. */
    public double bestOneWorker() {
      return Math.min(oneWorker, oneThread);
    }

    public double rawAlgbw() {
      return gradientBytes / raw;
    }

    /** What a ring all-reduce moves per link: algbw x 2(n-1)/n, as nccl-tests reports it. */
    public double rawBusbw(int n) {
      return rawAlgbw() * 2.0 * (n - 1) / n;
    }
  }

  private final Options options;
  private final PrintStream out;
  private final PrintStream err;

  public DistributedBenchmark(Options options, PrintStream out, PrintStream err) {
    this.options = options;
    this.out = out;
    this.err = err;
  }

  /** Runs both worlds and prints the report; returns it. */
  public Report run() throws IOException, InterruptedException {
    DistributedSettings s = options.settings();
    Path dir = Files.createTempDirectory("omnibiote-bench-distributed");
    boolean ok = false;
    try {
      err.printf(
          Locale.ROOT,
          "bench distributed: 1 worker JVM with %d threads (%d rounds of 1 step)%n",
          cores(),
          s.rounds());
      List<DistributedBenchRank.Result> one = RankProcesses.run(s, 1, cores(), dir, err);
      err.printf(
          Locale.ROOT,
          "bench distributed: 1 worker JVM with 1 thread (%d rounds of 1 step)%n",
          s.rounds());
      List<DistributedBenchRank.Result> oneThread = RankProcesses.run(s, 1, 1, dir, err);
      err.printf(
          Locale.ROOT,
          "bench distributed: 2 worker JVMs (%d rounds of 3 steps and a raw all-reduce)%n",
          s.rounds());
      List<DistributedBenchRank.Result> two = RankProcesses.run(s, 2, 1, dir, err);
      Report report = report(s, one.get(0), oneThread.get(0), two);
      print(report);
      ok = true;
      return report;
    } finally {
      if (ok) {
        deleteTree(dir);
      } else {
        err.println("bench distributed: the workers' logs are in " + dir);
      }
    }
  }

  static Report report(
      DistributedSettings s,
      DistributedBenchRank.Result one,
      DistributedBenchRank.Result oneThread,
      List<DistributedBenchRank.Result> two) {
    DistributedBenchRank.Result r0 = two.get(0);
    return new Report(
        r0.parameters(),
        r0.gradientBytes(),
        r0.bucketBytes(),
        s.tokensPerWorkerStep(),
        median(one.local()),
        median(oneThread.local()),
        median(slowest(two, DistributedBenchRank.Result::local)),
        median(slowest(two, DistributedBenchRank.Result::after)),
        median(slowest(two, DistributedBenchmark::copyAndGloo)),
        median(slowest(two, DistributedBenchRank.Result::afterGloo)),
        median(slowest(two, DistributedBenchRank.Result::afterWait)),
        median(slowest(two, DistributedBenchRank.Result::overlap)),
        median(slowest(two, DistributedBenchRank.Result::raw)),
        pairedMedian(two, DistributedBenchRank.Result::after, DistributedBenchRank.Result::local),
        pairedMedian(two, DistributedBenchRank.Result::overlap, DistributedBenchRank.Result::local),
        median(
            critical(
                two,
                DistributedBenchRank.Result::localLastBackward,
                DistributedBenchRank.Result::localLastBackwardStart)),
        pairedMedian(
            critical(
                two,
                DistributedBenchRank.Result::afterLastBackward,
                DistributedBenchRank.Result::afterLastBackwardStart),
            critical(
                two,
                DistributedBenchRank.Result::localLastBackward,
                DistributedBenchRank.Result::localLastBackwardStart)),
        pairedMedian(
            critical(
                two,
                DistributedBenchRank.Result::overlapLastBackward,
                DistributedBenchRank.Result::overlapLastBackwardStart),
            critical(
                two,
                DistributedBenchRank.Result::localLastBackward,
                DistributedBenchRank.Result::localLastBackwardStart)));
  }

  /**
   * Per round, the last backward + all-reduce of the rank that began it last: the critical path.
   * (An earlier rank's includes its wait for the later one, which its own compute before, not the
   * communication, caused.)
   */
  private static double[] critical(
      List<DistributedBenchRank.Result> ranks,
      java.util.function.Function<DistributedBenchRank.Result, double[]> phase,
      java.util.function.Function<DistributedBenchRank.Result, double[]> start) {
    double[] out = phase.apply(ranks.get(0)).clone();
    double[] latest = start.apply(ranks.get(0)).clone();
    for (DistributedBenchRank.Result r : ranks) {
      double[] p = phase.apply(r);
      double[] s = start.apply(r);
      for (int i = 0; i < out.length; i++) {
        if (s[i] > latest[i]) {
          latest[i] = s[i];
          out[i] = p[i];
        }
      }
    }
    return out;
  }

  /**
   * The median over rounds of (x - y) of the same round (per rank: the slowest's): the modes of a
   * round run one after the other, so slow phases of the machine's other load fall on both and
   * cancel better than in a difference of medians.
   */
  private static double pairedMedian(
      List<DistributedBenchRank.Result> ranks,
      java.util.function.Function<DistributedBenchRank.Result, double[]> x,
      java.util.function.Function<DistributedBenchRank.Result, double[]> y) {
    return pairedMedian(slowest(ranks, x), slowest(ranks, y));
  }

  private static double pairedMedian(double[] a, double[] b) {
    double[] d = new double[a.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = a[i] - b[i];
    }
    return median(d);
  }

  /** Mode b's all-reduce phase without the wait for the peer: copies, Gloo, division. */
  private static double[] copyAndGloo(DistributedBenchRank.Result r) {
    double[] out = new double[r.afterCommunication().length];
    for (int i = 0; i < out.length; i++) {
      out[i] = r.afterCommunication()[i] - r.afterWait()[i];
    }
    return out;
  }

  /** Per round, the slowest rank's seconds: a synchronous step ends when the last rank does. */
  private static double[] slowest(
      List<DistributedBenchRank.Result> ranks,
      java.util.function.Function<DistributedBenchRank.Result, double[]> f) {
    double[] max = f.apply(ranks.get(0)).clone();
    for (DistributedBenchRank.Result r : ranks) {
      double[] v = f.apply(r);
      for (int i = 0; i < max.length; i++) {
        max[i] = Math.max(max[i], v[i]);
      }
    }
    return max;
  }

  private static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  private void print(Report r) {
    DistributedSettings s = options.settings();
    OmniBioTAConfig c = s.model();
    double tokens = r.tokensPerWorkerStep();
    out.printf(
        Locale.ROOT,
        "bench distributed: OmniBioTA L%d N%d H%d T%d V%,d, dropout %.2f: %,d parameters,"
            + " %.2f MB of fp32 gradients per step in %d buckets (cap %.2f MB; the last, %.2f MB, holds wte)%n",
        c.nLayer(),
        c.nEmbd(),
        c.nHead(),
        c.ctxLen(),
        c.vocabSize(),
        c.dropout(),
        r.parameters(),
        mb((double) r.gradientBytes()),
        r.bucketBytes().size(),
        mb((double) s.bucketBytes()),
        mb(r.bucketBytes().get(r.bucketBytes().size() - 1)));
    out.printf(
        Locale.ROOT,
        "per worker and step: %d micro-batches x %d rows x %d = %,d tokens (%s); one JVM per"
            + " worker: 1 worker with %d libtorch threads, 2 workers with 1 each; %d warm-up + %d timed rounds,"
            + " medians of the slower rank%n",
        s.microBatches(),
        s.miniBatch(),
        c.ctxLen(),
        r.tokensPerWorkerStep(),
        s.baseDir() == null
            ? "random token rows"
            : "rows of " + s.baseDir() + ", train_type " + s.trainType(),
        cores(),
        s.warmup(),
        s.steps());
    out.printf(
        Locale.ROOT,
        "note: this machine has %d cores, shared with other work: every number is noisy"
            + " (differences of a few ms are within the noise); run with nothing else on it for steadier ones%n",
        Runtime.getRuntime().availableProcessors());
    out.println();
    out.println(
        "mode                                                  | step ms | tokens/s | vs 1 worker");
    double one = r.bestOneWorker();
    row("(a)  1 worker (" + cores() + " threads), no communication", r.oneWorker(), tokens, one);
    row("(a1) 1 worker (1 thread), no communication", r.oneThread(), tokens, one);
    row("(a2) 2 workers, no communication (compute baseline)", r.local(), 2 * tokens, one);
    row("(b)  2 workers, all-reduce after backward", r.after(), 2 * tokens, one);
    row("(c)  2 workers, c10d Reducer overlapped with backward", r.overlap(), 2 * tokens, one);
    out.printf(
        Locale.ROOT,
        "(d)  raw Gloo all-reduce of the same %d tensors (%.1f MB), 2 ranks: %.1f ms,"
            + " algbw %.2f GB/s, busbw %.2f GB/s (x 2(n-1)/n = 1 for n = 2)%n",
        r.bucketBytes().size(),
        mb((double) r.gradientBytes()),
        r.raw() * 1e3,
        r.rawAlgbw() / 1e9,
        r.rawBusbw(2) / 1e9);
    out.printf(
        Locale.ROOT,
        "(vs 1 worker: tokens/s over the faster of (a) and (a1), %s)%n",
        r.oneWorker() <= r.oneThread()
            ? "(a)"
            : "(a1): (a)'s "
                + cores()
                + " OpenMP threads lose time waiting for each other on a busy machine");
    double scaling = 2 * one / r.overlap();
    out.printf(
        Locale.ROOT,
        "On %d cores, 2 workers get no more cores than 1 worker: they share them, and the"
            + " all-reduce only adds work. Measured: 2 workers with the Reducer (c) / 1 worker = %.2fx%s.%n",
        cores(),
        scaling,
        scaling > 1
            ? " (above 1: one libtorch thread per process uses the cores better"
                + " than "
                + cores()
                + " threads in one process at this size, as (a2) against (a) shows; not a"
                + " data-parallel speed-up)"
            : "");
    out.println();
    out.println(
        "communication: against (a2), the compute of the same rounds, per round, median over rounds; in"
            + " the part of the step where the modes differ (the last micro-batch's backward + the all-reduce, on"
            + " the rank that began it last; (a2) "
            + ms(r.phaseLocal())
            + " there). In brackets: the same over whole"
            + " steps, and against (a1), one worker alone:");
    out.printf(
        Locale.ROOT,
        "  all-reduce without overlap  b - a2 = %7.1f ms  (whole steps %.1f ms; b - a1 = %.1f ms)%n",
        r.allReduceWithoutOverlap() * 1e3,
        r.stepAfterMinusLocal() * 1e3,
        (r.after() - r.oneThread()) * 1e3);
    out.printf(
        Locale.ROOT,
        "    timed inside (b): copy into buckets + Gloo + divide + copy back %.1f ms, of which"
            + " Gloo %.1f ms; before it, the faster rank waits %.1f ms for the slower one's backward%n",
        r.afterCopyAndGloo() * 1e3,
        r.afterGloo() * 1e3,
        r.afterSkew() * 1e3);
    out.printf(
        Locale.ROOT,
        "  exposed with overlap        c - a2 = %7.1f ms  (whole steps %.1f ms; c - a1 = %.1f ms)%n",
        r.exposedWithOverlap() * 1e3,
        r.stepOverlapMinusLocal() * 1e3,
        (r.overlap() - r.oneThread()) * 1e3);
    out.printf(
        Locale.ROOT,
        "  overlap fraction  1 - (c-a2)/(b-a2) = %s (at most %.2f here: the last bucket,"
            + " wte's gradient, is ready only when backward ends)%n",
        r.allReduceWithoutOverlap() > 0
            ? String.format(Locale.ROOT, "%.2f", r.overlapFraction())
            : "n/a (b - a2 is not positive: within the noise)",
        r.overlapBound());
    out.printf(
        Locale.ROOT,
        "  communication overhead fraction of the step: %.1f%% without overlap ((b-a2)/(a2 +"
            + " b-a2)), %.1f%% with the Reducer ((c-a2)/(a2 + c-a2))%n",
        100 * r.allReduceWithoutOverlap() / (r.local() + r.allReduceWithoutOverlap()),
        100 * r.exposedWithOverlap() / (r.local() + r.exposedWithOverlap()));
    out.println();
    out.println("bandwidth (gradient bytes / time; 2 ranks, so busbw = algbw):");
    out.printf(
        Locale.ROOT,
        "  raw Gloo all-reduce (d)                         %6.2f GB/s%n",
        r.rawAlgbw() / 1e9);
    double inStep = r.gradientBytes() / r.afterGloo();
    out.printf(
        Locale.ROOT,
        "  Gloo inside the after-backward step (b)         %6.2f GB/s  = %.2fx raw%n",
        inStep / 1e9,
        inStep / r.rawAlgbw());
    double afterEff = r.gradientBytes() / r.allReduceWithoutOverlap();
    out.printf(
        Locale.ROOT,
        "  after backward, effective  bytes / (b - a2)     %s%n",
        effective(afterEff, r));
    double reducerEff = r.gradientBytes() / r.exposedWithOverlap();
    out.printf(
        Locale.ROOT,
        "  Reducer, effective         bytes / (c - a2)     %s%n",
        effective(reducerEff, r));
    out.println(
        "  (effective: the rate the step sees; above raw means overlap hid part of the transfer)");
    out.println();
    printEstimate();
  }

  private String effective(double bytesPerSecond, Report r) {
    if (!(bytesPerSecond > 0) || Double.isInfinite(bytesPerSecond)) {
      return "n/a (no exposed time measured: hidden, or within the noise)";
    }
    return String.format(
        Locale.ROOT,
        "%6.2f GB/s  = %.2fx raw",
        bytesPerSecond / 1e9,
        bytesPerSecond / r.rawAlgbw());
  }

  private void row(String label, double seconds, double tokens, double oneWorker) {
    out.printf(
        Locale.ROOT,
        "%-53s | %7.1f | %8.0f | %.2fx%n",
        label,
        seconds * 1e3,
        tokens / seconds,
        tokens / seconds / (r1Tokens() / oneWorker));
  }

  private double r1Tokens() {
    return options.settings().tokensPerWorkerStep();
  }

  /** The formula for GPUs with NCCL, for this config and the original's default config. */
  private void printEstimate() {
    NcclEstimate.Assumptions a = options.gpu();
    DistributedSettings s = options.settings();
    out.printf(
        Locale.ROOT,
        "estimate for %d GPUs in one node with NCCL (a formula, not a measurement):%n",
        a.gpus());
    out.println(
        "  G = P x b (b = 4 for fp32 gradients as ours, 2 for bf16 as the original's pure-bf16 run)");
    out.println(
        "  T_comm = buckets x latency + G x 2(n-1)/n / busbw    (ring all-reduce; busbw as nccl-tests reports it)");
    out.println(
        "  C = step FLOPs / (MFU x peak)    (FLOPs of our step: org.omnibiote.metrics.Flops, 15% masked)");
    out.println(
        "  W = 2/3 x C / k    (the backward of the last of k micro-batches: the only one that syncs)");
    out.println(
        "  E = max(T_last, T_comm - phi x W)    (exposed; T_last: the last bucket, wte's gradient,"
            + " starts only when backward ends)");
    out.println("  step = C + E; overhead = E / step; speed-up = n x C / step");
    out.printf(
        Locale.ROOT,
        "  assumptions (flags): n = %d (--gpus), busbw = %.0f GB/s (--gpu-bus-gbps: NVLink"
            + " A100/H100-class nodes reach roughly 150-200+; PCIe-only nodes far less), latency = %.0f us per"
            + " bucket (--gpu-latency-us), peak = %.0f TFLOP/s (--gpu-peak-tflops: A100 bf16 dense, the figure the"
            + " original reports against), MFU = %.2f (--gpu-mfu), phi = %.2f (--gpu-overlap: the share of W the"
            + " all-reduce can hide in), buckets of %.0f MB (DDP's default)%n",
        a.gpus(),
        a.busGbps(),
        a.latencyMicros(),
        a.peakTflops(),
        a.mfu(),
        a.overlap(),
        mb((double) a.bucketBytes()));
    Double benchCompute = options.gpuStepMs() == null ? null : options.gpuStepMs() / 1e3;
    long rows = (long) s.microBatches() * s.miniBatch();
    OmniBioTAConfig original = new OmniBioTAConfig(65_536, 1024, 8, 8, 2048, 0.1);
    List<NcclEstimate.Estimate> rowsOut = new ArrayList<>();
    for (int b : new int[] {4, 2}) {
      rowsOut.add(
          NcclEstimate.estimate(
              "this config" + (benchCompute != null ? " (C from --gpu-step-ms)" : ""),
              s.model(),
              rows,
              s.microBatches(),
              b,
              benchCompute,
              a));
    }
    for (int b : new int[] {4, 2}) {
      rowsOut.add(NcclEstimate.estimate("original defaults", original, 1024, 1024 / 8, b, null, a));
    }
    out.println(
        "  model                                 | rows/GPU x k | P        | b | G MB    | T_comm ms | T_last ms"
            + " | C ms      | W ms     | E ms    | overhead | speed-up");
    for (NcclEstimate.Estimate e : rowsOut) {
      OmniBioTAConfig m = e.model();
      out.printf(
          Locale.ROOT,
          "  %-37s | %5d x %-4d | %7.1fM | %d | %7.1f | %9.2f | %9.2f | %9.1f | %8.2f | %7.2f | %7.2f%% | %.2fx%n",
          e.label() + String.format(Locale.ROOT, " L%d N%d T%d", m.nLayer(), m.nEmbd(), m.ctxLen()),
          e.rowsPerGpu(),
          e.microBatches(),
          e.parameters() / 1e6,
          e.bytesPerGradient(),
          mb(e.gradientBytes()),
          e.commSeconds() * 1e3,
          e.lastBucketSeconds() * 1e3,
          e.computeSeconds() * 1e3,
          e.windowSeconds() * 1e3,
          e.exposedSeconds() * 1e3,
          100 * e.overheadFraction(),
          e.speedup(a.gpus()));
    }
    out.println(
        "  original defaults: train_encoder.py's n_layer 8, n_embd 1024, n_head 8, ctx_len 2048,"
            + " batch_size 1024 per process in mini-batches of 8 (shared/notes/original-recipe.md).");
    for (int b : new int[] {4, 2}) {
      double thisConfig =
          NcclEstimate.busGbpsFor(0.01, s.model(), rows, s.microBatches(), b, benchCompute, a);
      double originalConfig = NcclEstimate.busGbpsFor(0.01, original, 1024, 128, b, null, a);
      out.printf(
          Locale.ROOT,
          "  busbw needed for an overhead <= 1%% with b = %d: this config %s, original defaults %s%n",
          b,
          gbps(thisConfig),
          gbps(originalConfig));
    }
  }

  private static String gbps(double value) {
    return Double.isNaN(value)
        ? "none suffices (latency or the last bucket alone exceed 1%)"
        : String.format(Locale.ROOT, "%.1f GB/s", value);
  }

  private static String ms(double seconds) {
    return String.format(Locale.ROOT, "%.1f ms", seconds * 1e3);
  }

  private static double mb(double bytes) {
    return bytes / (1 << 20);
  }

  static double median(double[] values) {
    return TrainBenchmark.median(values);
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
