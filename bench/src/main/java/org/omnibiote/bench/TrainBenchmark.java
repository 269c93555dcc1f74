package org.omnibiote.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.metrics.Flops;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.Precision;
import org.omnibiote.train.Autocast;
import org.omnibiote.train.Devices;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MatmulPeak;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.train.TrainStep;
import org.omnibiote.train.TrainStep.Readout;
import org.omnibiote.weights.ModelWeights;
import org.omnibiote.weights.SafeTensors;

/**
 * Training-step throughput, in one run: our step (readout at the masked positions, global
 * masked-token loss), our step with the original's choices (readout everywhere, per-micro-batch
 * loss) and a Python baseline written from the recipe (train_baseline.py on Debian's
 * python3-torch), per config and precision; plus MFU against the matmul peak measured here.
 *
 * <p>Like for like: every side trains from the same initial weights on the same token ids and
 * masks. Per config, the batches of every step are drawn once (Java) and, where the baseline runs,
 * written to a temporary folder as .npy (int64) with the initial model as safetensors ({@link
 * ModelWeights}); the baseline reads them with numpy. Before anything is timed, the first step's
 * loss (before any update) at dropout 0 is computed by our step and by the baseline on those
 * weights and batches and must agree within {@link #lossTolerance}; a mismatch ends the run ({@link
 * Outcome#LOSS_MISMATCH}), since a speed ratio between two programs that compute different things
 * means nothing.
 *
 * <p>Every step time is wall clock of zero_grad + forward/backward over the micro-batches + clip +
 * AdamW, data preparation excluded; tokens/s uses the median step (robust to other load).
 */
public final class TrainBenchmark {
  public static final int VOCAB = 65_536;
  public static final double MASK_PROBABILITY = 0.15;
  static final String SCRIPT = "train_baseline.py";

  /**
   * Largest accepted relative difference of the first step's fp32 loss, ours against the baseline.
   * Both sides compute the same float32 operations in different orders (libtorch 2.10's SDPA and
   * OpenBLAS 0.3.31 here; a hand-written attention, torch 1.13 and OpenBLAS 0.3.21 there), so each
   * carries its own rounding error. Bound: every per-token cross-entropy, about 11 (ln 65,536 at
   * initialisation), is rounded to half a float32 ulp, 0.7u relative (u = 2^-24 = 6e-8), and the
   * float32 sums over a micro-batch's masked tokens (up to a few thousand) add at most log2(n) u,
   * 12u, in the worst case; about 1e-6 per side. Measured (the baseline's model in float32 against
   * the same model in float64, configs TINY, A and B, three seeds each): at most 1.1e-7 = 2u per
   * side; ours against the baseline on TINY: 0 and 7e-8. 2e-6 is 10 times the measured difference
   * of two sides and the worst-case bound of both together. It should not be looser: at
   * initialisation the loss hardly depends on the attention (scores scaled by 8/N are nearly 0, so
   * attention averages almost uniformly), and on A dropping RoPE moves the loss by 3e-6, scaling
   * one c_fc by 1.01 by 2e-6, dropping the block-diagonal mask by 2e-5.
   */
  public static final double FP32_LOSS_TOLERANCE = 2e-6;

  /**
   * The same for bf16 (autocast, float32 master weights, loss in float32 from bf16 logits). A bf16
   * rounding is up to u = 2^-8 = 3.9e-3 relative, and the two sides round at different places (the
   * baseline rounds the attention scores and probabilities to bf16, our SDPA math path does not),
   * but the roundings are unbiased and average out: a logit (|z| about 0.25-0.5) is off by about
   * 1e-3, which moves the log-sum-exp by its average over 65,536 logits (nearly nothing) and the
   * target's logit by 1e-3, averaged over the n masked tokens of a micro-batch: 1e-3 / sqrt(n) /
   * 11, 2e-5 for TINY's n of about 20, 5e-6 for A's 300. Measured against float64: at most 1.3e-5
   * (TINY), 5.9e-6 (A), 2.7e-6 (B); ours against the baseline on TINY: 1.2e-5. 1e-4 is 4 times the
   * worst two-sided sum on TINY and 8 times on A. The fp32 check, which the default run also does,
   * is the sharper one.
   */
  public static final double BF16_LOSS_TOLERANCE = 1e-4;

  /** The tolerance of the loss check in {@code precision} (see the two constants). */
  public static double lossTolerance(Precision precision) {
    return precision == Precision.FP32 ? FP32_LOSS_TOLERANCE : BF16_LOSS_TOLERANCE;
  }

  /** A benchmark configuration: model shape, mini-batch and batch (rows of ctx_len). */
  public record Spec(String name, OmniBioTAConfig model, int miniBatch, int batch) {
    int microBatches() {
      return batch / miniBatch;
    }

    /** Whether a goal applies (the A, B, C; not TINY). */
    boolean hasGoal() {
      return name.equals("A") || name.equals("B") || name.equals("C");
    }
  }

  /**
   * The configs A, B, C (vocab 65,536) with the given dropout, and TINY (L1 N32 H2 T64, two
   * micro-batches of 2 rows, vocab 65,536): a run of seconds that checks the command works.
   */
  public static Map<String, Spec> configs(double dropout) {
    Map<String, Spec> specs = new LinkedHashMap<>();
    specs.put("A", new Spec("A", new OmniBioTAConfig(VOCAB, 128, 2, 4, 256, dropout), 8, 8));
    specs.put("B", new Spec("B", new OmniBioTAConfig(VOCAB, 256, 4, 8, 512, dropout), 4, 4));
    specs.put("C", new Spec("C", new OmniBioTAConfig(VOCAB, 512, 8, 8, 512, dropout), 4, 32));
    specs.put("TINY", new Spec("TINY", new OmniBioTAConfig(VOCAB, 32, 1, 2, 64, dropout), 2, 4));
    return specs;
  }

  /**
   * What to run. {@code baseline}: the configs that also run the Python baseline; {@code peakSize}:
   * the side of the square matmul whose rate is the mfu's peak.
   */
  public record Options(
      List<Spec> specs,
      List<Precision> precisions,
      int steps,
      int warmup,
      List<String> baseline,
      long seed,
      String python,
      int threads,
      int peakSize) {}

  /** How a run ended. */
  public enum Outcome {
    /** Every goal measured was met. */
    GOALS_MET,
    /** Measured, but a goal was not met. */
    GOAL_NOT_MET,
    /** Ours and the baseline disagree on the first step's loss: nothing was timed after. */
    LOSS_MISMATCH
  }

  /**
   * One measured step loop: median wall seconds per step, tokens/s at that median, median process
   * CPU seconds per step (less sensitive to other load than wall time), mean masked tokens per
   * step.
   */
  public record Measurement(
      double medianSeconds,
      double tokensPerSecond,
      double medianCpuSeconds,
      double maskedTokens,
      double[] losses) {}

  /**
   * The first step's loss (before any update) at dropout 0 on the same weights and batches: the
   * baseline's (each micro-batch's mean cross-entropy over the masked tokens, divided by the
   * micro-batches) against our step with the original's choices (the same quantity), and the
   * baseline's global loss (summed cross-entropy / masked tokens of the step, from the same
   * forward) against our step as it runs (the same quantity, readout at the masked positions).
   */
  public record LossCheck(
      String config,
      Precision precision,
      double python,
      double originalChoices,
      double pythonGlobal,
      double ours,
      double tolerance) {
    /** |value - reference| / |reference|; infinite when either is not finite. */
    public static double relativeDifference(double value, double reference) {
      double d = Math.abs(value - reference) / Math.abs(reference);
      return Double.isFinite(value) && Double.isFinite(reference) && !Double.isNaN(d)
          ? d
          : Double.POSITIVE_INFINITY;
    }

    public double originalChoicesDifference() {
      return relativeDifference(originalChoices, python);
    }

    public double oursDifference() {
      return relativeDifference(ours, pythonGlobal);
    }

    public boolean passed() {
      return originalChoicesDifference() <= tolerance && oursDifference() <= tolerance;
    }

    /** The line of the results block. */
    public String line() {
      return String.format(
          Locale.ROOT,
          "%-6s %-9s | python %.9f, orig-choices %.9f: rel diff %.1e"
              + " | python global %.9f, ours %.9f: rel diff %.1e | tolerance %.0e | %s",
          config,
          precision.flag(),
          python,
          originalChoices,
          originalChoicesDifference(),
          pythonGlobal,
          ours,
          oursDifference(),
          tolerance,
          passed() ? "ok" : "MISMATCH");
    }

    /** What a mismatch means, for the error message. */
    public String failure() {
      return String.format(
          Locale.ROOT,
          "loss check failed for config %s %s: at dropout 0, on the"
              + " same initial weights and the first step's batches, the Python baseline's loss is %.9f"
              + " and our step's with the original's choices %.9f (relative difference %.2e), the"
              + " baseline's global loss %.9f and our step's %.9f (relative difference %.2e); the"
              + " tolerance is %.0e. The two sides do not compute the same step, so their speed ratio"
              + " would not compare like for like (nothing was timed after the check).",
          config,
          precision.flag(),
          python,
          originalChoices,
          originalChoicesDifference(),
          pythonGlobal,
          ours,
          oursDifference(),
          tolerance);
    }
  }

  /**
   * One table row. {@code python} is null when the baseline did not run for this config. {@code
   * peak}: the best matmul rate seen in this precision during the run.
   */
  public record Row(
      Spec spec,
      Precision precision,
      Measurement ours,
      Measurement original,
      Measurement python,
      MatmulPeak.Rate peak) {
    double stepFlops() {
      return Flops.perStepFlops(spec.model(), spec.batch(), Math.round(ours.maskedTokens()));
    }

    public double mfu() {
      return Flops.mfu(stepFlops(), ours.medianSeconds(), peak.wall());
    }

    /** The same from CPU seconds of step and peak (meaningful with one thread). */
    public double mfuCpu() {
      return Flops.mfu(stepFlops(), ours.medianCpuSeconds(), peak.cpu());
    }

    public double mfuOriginal() {
      return Flops.originalFlopsPerToken(spec.model()) * ours.tokensPerSecond() / peak.wall();
    }

    public double mfuOriginalCpu() {
      double tokensPerCpuSecond =
          spec.batch() * (double) spec.model().ctxLen() / ours.medianCpuSeconds();
      return Flops.originalFlopsPerToken(spec.model()) * tokensPerCpuSecond / peak.cpu();
    }

    /** Our step doing the original's work against the baseline (tokens/s). */
    public double likeForLike() {
      return original.tokensPerSecond() / python.tokensPerSecond();
    }

    /** Our step as it runs against the baseline (tokens/s): like-for-like x less work. */
    public double total() {
      return ours.tokensPerSecond() / python.tokensPerSecond();
    }

    /** What doing less work gains (our step against our step with the original's choices). */
    public double lessWork() {
      return ours.tokensPerSecond() / original.tokensPerSecond();
    }
  }

  /**
   * The token ids and targets of every micro-batch of every step of one config (warm-up steps
   * first), drawn once and given to every side. Index {@code step * microBatches + i}.
   */
  record Batches(Spec spec, int steps, long[][] inputs, long[][] targets) {
    /**
     * Rows from {@link #packedRows}, masked by {@link MaskedLm#mask} (seeded from {@code seed}).
     */
    static Batches draw(Spec spec, int steps, long seed) {
      int count = steps * spec.microBatches();
      long[][] inputs = new long[count][];
      long[][] targets = new long[count][];
      Random data = new Random(seed + 1);
      torch.manual_seed(seed + 2);
      for (int k = 0; k < count; k++) {
        try (PointerScope scope = new PointerScope()) {
          MaskedLm.Batch b =
              MaskedLm.mask(
                  packedRows(spec.miniBatch(), spec.model().ctxLen(), data), MASK_PROBABILITY);
          inputs[k] = longs(b.inputs());
          targets[k] = longs(b.targets());
        }
      }
      return new Batches(spec, steps, inputs, targets);
    }

    /** Step {@code s}'s micro-batches as [mini_batch, ctx_len] tensors in the caller's scope. */
    List<MaskedLm.Batch> step(int s) {
      int m = spec.microBatches();
      List<MaskedLm.Batch> micro = new ArrayList<>(m);
      for (int i = 0; i < m; i++) {
        micro.add(new MaskedLm.Batch(tensor(inputs[s * m + i]), tensor(targets[s * m + i])));
      }
      return micro;
    }

    private Tensor tensor(long[] ids) {
      return Tensor.create(ids, spec.miniBatch(), spec.model().ctxLen());
    }

    /** inputs.npy and targets.npy, int64 [steps, micro-batches, mini_batch, ctx_len]. */
    void write(Path folder) throws IOException {
      long[] shape = {steps, spec.microBatches(), spec.miniBatch(), spec.model().ctxLen()};
      Npy.writeLongs(folder.resolve("inputs.npy"), inputs, shape);
      Npy.writeLongs(folder.resolve("targets.npy"), targets, shape);
    }

    private static long[] longs(Tensor t) {
      Tensor c = t.contiguous();
      long[] out = new long[Math.toIntExact(c.numel())];
      new LongPointer(c.data_ptr()).capacity(out.length).get(out);
      return out;
    }
  }

  /** What the baseline reported: its measurement (null after a mismatch) and its check. */
  record PythonRun(Measurement measurement, LossCheck check, List<String> environment) {}

  private static final com.sun.management.OperatingSystemMXBean CPU =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private final Options options;
  private final PrintStream out;
  private final PrintStream err;

  public TrainBenchmark(Options options, PrintStream out, PrintStream err) {
    this.options = options;
    this.out = out;
    this.err = err;
  }

  /** Runs everything and prints the results (the error on a loss mismatch). */
  public Outcome run() throws IOException, InterruptedException {
    Devices.useFastCpuAttention();
    int cores = options.threads();
    torch.set_num_threads(cores);
    out.printf(
        Locale.ROOT,
        "libtorch threads %d (%d cores here); python baseline: %s with OMP_NUM_THREADS="
            + "OPENBLAS_NUM_THREADS=%d; %d warm-up + %d timed steps each; tokens/s at the median step%n",
        torch.get_num_threads(),
        Runtime.getRuntime().availableProcessors(),
        options.python(),
        cores,
        options.warmup(),
        options.steps());
    String blas = System.getenv("OPENBLAS_NUM_THREADS");
    if (!Integer.toString(cores).equals(blas)) {
      // OpenBLAS (libtorch's fp32 GEMM here) reads its thread count once, at load time.
      out.printf(
          Locale.ROOT,
          "note: OPENBLAS_NUM_THREADS is %s in this JVM, not %d: start it with "
              + "OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d for a like-for-like comparison%n",
          blas == null ? "unset" : blas,
          cores,
          cores,
          cores);
    }
    out.println(oursEnvironment());
    Path folder = Files.createTempDirectory("omnibiote-bench-train");
    try {
      return run(folder, cores);
    } finally {
      deleteTree(folder);
    }
  }

  private Outcome run(Path folder, int cores) throws IOException, InterruptedException {
    int total = options.warmup() + options.steps();
    Map<String, Batches> data = new LinkedHashMap<>();
    for (Spec spec : options.specs()) {
      data.put(spec.name(), Batches.draw(spec, total, options.seed()));
      if (options.baseline().contains(spec.name())) {
        Path dir = Files.createDirectories(folder.resolve(spec.name()));
        data.get(spec.name()).write(dir);
        OmniBioTA initial = initialModel(spec.model());
        try {
          ModelWeights.save(initial, dir.resolve("initial.safetensors"));
        } finally {
          initial.close();
        }
      }
    }
    if (!options.baseline().isEmpty()) {
      out.printf(
          Locale.ROOT,
          "same inputs on every side: per config, the token ids and targets of all"
              + " %d steps (int64 .npy) and the initial weights (safetensors) are written to %s (deleted"
              + " at the end) and read by the baseline with numpy%n",
          total,
          folder);
    }
    List<Row> rows = new ArrayList<>();
    List<LossCheck> checks = new ArrayList<>();
    Set<List<String>> environments = new LinkedHashSet<>();
    for (Precision precision : options.precisions()) {
      // Measured before every config and once after: the best rate seen is the peak.
      MatmulPeak.Rate peak = peak(precision);
      List<Measurement[]> done = new ArrayList<>();
      for (Spec spec : options.specs()) {
        peak = peak.max(peak(precision));
        Batches batches = data.get(spec.name());
        Measurement python = null;
        if (options.baseline().contains(spec.name())) {
          Path dir = folder.resolve(spec.name());
          double original =
              firstStepLoss(spec, precision, Readout.ALL, LossNorm.ORIGINAL, dir, batches);
          double ours =
              firstStepLoss(spec, precision, Readout.MASKED, LossNorm.GLOBAL, dir, batches);
          PythonRun run = python(spec, precision, cores, dir, original, ours);
          checks.add(run.check());
          if (environments.add(run.environment())) {
            run.environment().forEach(out::println); // once, unless it changes
          }
          if (!run.check().passed()) {
            out.println();
            printChecks(checks);
            err.println("error: " + run.check().failure());
            return Outcome.LOSS_MISMATCH;
          }
          python = run.measurement();
        }
        Measurement ours =
            measure(spec, batches, precision, Readout.MASKED, LossNorm.GLOBAL, "ours");
        Measurement original =
            measure(spec, batches, precision, Readout.ALL, LossNorm.ORIGINAL, "original-choices");
        done.add(new Measurement[] {ours, original, python});
      }
      peak = peak.max(peak(precision));
      if (!cpuMeasurable(peak, options.peakSize())) {
        // Process CPU time ticks every 10 ms: a shorter matmul reads as (nearly) no CPU time.
        peak = new MatmulPeak.Rate(peak.wall(), Double.NaN);
      }
      out.printf(
          Locale.ROOT,
          "%s matmul peak: %.1f GFLOP/s wall, %s per CPU second (torch.mm %d^3,"
              + " best of %d, measured before each config and at the end)%n",
          precision.flag(),
          peak.wall() / 1e9,
          Double.isNaN(peak.cpu())
              ? "n/a (a matmul shorter than the CPU clock's 10 ms tick; a larger --peak-size)"
              : String.format(Locale.ROOT, "%.1f GFLOP/s", peak.cpu() / 1e9),
          options.peakSize(),
          MatmulPeak.REPEATS);
      for (int i = 0; i < done.size(); i++) {
        Measurement[] m = done.get(i);
        rows.add(new Row(options.specs().get(i), precision, m[0], m[1], m[2], peak));
      }
    }
    if (!checks.isEmpty()) {
      out.println();
      printChecks(checks);
    }
    return printTable(rows) ? Outcome.GOALS_MET : Outcome.GOAL_NOT_MET;
  }

  private void printChecks(List<LossCheck> checks) {
    out.printf(
        Locale.ROOT,
        "loss check: first step, before any update, dropout 0, same initial weights"
            + " and batches on both sides; relative difference of the mean cross-entropy, tolerance %.0e"
            + " in fp32 and %.0e in bf16 (docs/benchmarks.md says why):%n",
        FP32_LOSS_TOLERANCE,
        BF16_LOSS_TOLERANCE);
    for (LossCheck c : checks) {
      out.println(c.line());
    }
  }

  /** Whether the best matmul took at least 20 ms of CPU time (two ticks of the CPU clock). */
  static boolean cpuMeasurable(MatmulPeak.Rate peak, int size) {
    return 2.0 * size * size * size / peak.cpu() >= 0.02;
  }

  private MatmulPeak.Rate peak(Precision precision) {
    return MatmulPeak.measureRate(
        Autocast.matmulType(precision), options.peakSize(), MatmulPeak.REPEATS);
  }

  private boolean printTable(List<Row> rows) {
    boolean met = true;
    out.println();
    out.println(
        "config precision | ours tok/s | orig-choices tok/s | python tok/s | like-for-like"
            + " | total | ours/orig-choices | mfu | mfu_original | goal");
    for (Row r : rows) {
      boolean py = r.python() != null;
      String goal;
      if (r.spec().name().equals("C") && r.precision() == Precision.FP32) {
        boolean ok = r.mfu() >= 0.5;
        // Wall clock decides; the CPU-time figure says what a quiet machine would show.
        goal =
            "mfu >= 50%: "
                + (ok ? "met" : "NOT met")
                + " (CPU time: "
                + (Double.isNaN(r.mfuCpu()) ? "n/a" : r.mfuCpu() >= 0.5 ? "met" : "NOT met")
                + ")";
        met &= ok;
      } else if (py && r.spec().hasGoal() && !r.spec().name().equals("C")) {
        boolean ok = r.total() >= 2;
        goal = "total >= 2x python: " + (ok ? "met" : "NOT met");
        met &= ok;
      } else {
        goal = "-";
      }
      out.printf(
          Locale.ROOT,
          "%-6s %-9s | %10s | %18s | %12s | %13s | %6s | %16.2fx | %4.1f%% | %11.1f%% | %s%n",
          r.spec().name(),
          r.precision().flag(),
          fmt(r.ours().tokensPerSecond()),
          fmt(r.original().tokensPerSecond()),
          py ? fmt(r.python().tokensPerSecond()) : "-",
          py ? ratio(r.likeForLike()) : "-",
          py ? ratio(r.total()) : "-",
          r.lessWork(),
          100 * r.mfu(),
          100 * r.mfuOriginal(),
          goal);
    }
    out.println(
        "like-for-like = orig-choices/python: our step doing the original's work (readout at"
            + " every position, per-micro-batch loss) against the baseline, which does the same work.");
    out.println(
        "total = ours/python: our step as it runs (readout at the masked positions, global"
            + " loss) against the baseline; total = like-for-like x ours/orig-choices, the last being"
            + " the gain from doing less work.");
    out.println(
        "mfu: FLOPs our step must do (readout at masked positions) / (median step time x"
            + " measured matmul peak of the precision); mfu_original: (6P + 12LNT) x tokens/s / peak.");
    out.println();
    out.println(
        "CPU seconds per step (process CPU time, median; with --threads 1 the least"
            + " disturbed by other load):");
    out.println(
        "config precision | ours | orig-choices | python | like-for-like | total"
            + " | orig-choices/ours | mfu (CPU) | mfu_original (CPU)");
    for (Row r : rows) {
      double py = r.python() == null ? Double.NaN : r.python().medianCpuSeconds();
      out.printf(
          Locale.ROOT,
          "%-6s %-9s | %6.2f | %12.2f | %6s | %13s | %6s | %16.2fx | %9s | %18s%n",
          r.spec().name(),
          r.precision().flag(),
          r.ours().medianCpuSeconds(),
          r.original().medianCpuSeconds(),
          Double.isNaN(py) ? "-" : String.format(Locale.ROOT, "%.2f", py),
          Double.isNaN(py) ? "-" : ratio(py / r.original().medianCpuSeconds()),
          Double.isNaN(py) ? "-" : ratio(py / r.ours().medianCpuSeconds()),
          r.original().medianCpuSeconds() / r.ours().medianCpuSeconds(),
          percent(r.mfuCpu()),
          percent(r.mfuOriginalCpu()));
    }
    return met;
  }

  private static String fmt(double tokensPerSecond) {
    return String.format(Locale.ROOT, "%,.0f", tokensPerSecond);
  }

  private static String percent(double fraction) {
    return Double.isNaN(fraction) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * fraction);
  }

  private static String ratio(double r) {
    return String.format(Locale.ROOT, "%.2fx", r);
  }

  /** The model every side starts from: the seeded initialisation of {@code config}. */
  private OmniBioTA initialModel(OmniBioTAConfig config) {
    torch.manual_seed(options.seed());
    return new OmniBioTA(config);
  }

  /**
   * The loss of the first step (computed before its update) of our production step at dropout 0, on
   * the initial weights as written for the baseline and the first step's batches.
   */
  double firstStepLoss(
      Spec spec, Precision precision, Readout readout, LossNorm norm, Path dir, Batches batches)
      throws IOException {
    OmniBioTAConfig c = spec.model();
    OmniBioTA model =
        new OmniBioTA(
            new OmniBioTAConfig(
                c.vocabSize(), c.nEmbd(), c.nLayer(), c.nHead(), c.ctxLen(), 0.0, c.rope()));
    try (PointerScope scope = new PointerScope()) {
      model.loadStateDict(SafeTensors.read(dir.resolve("initial.safetensors")).tensors());
      MuAdamW optimizer = optimizer(model, spec);
      double loss =
          TrainStep.run(
                  model,
                  optimizer,
                  batches.step(0),
                  1.0,
                  new TrainStep.Options(norm, readout, precision, true))
              .loss();
      err.printf(
          Locale.ROOT,
          "bench train %s %s loss check (%s readout, %s loss, dropout 0): %.9f%n",
          spec.name(),
          precision.flag(),
          readout,
          norm,
          loss);
      return loss;
    } finally {
      model.close();
    }
  }

  private static MuAdamW optimizer(OmniBioTA model, Spec spec) {
    return new MuAdamW(
        model,
        new MuAdamW.Settings(1e-2 * Math.sqrt(spec.batch()) / 32, 0.9, 0.999, 1e-8, 0.01),
        false);
  }

  /** Our step (MuAdamW, accumulate, clip, AdamW) with the given readout and loss weighting. */
  Measurement measure(
      Spec spec,
      Batches batches,
      Precision precision,
      Readout readout,
      LossNorm norm,
      String label) {
    OmniBioTA model = initialModel(spec.model());
    model.train(true);
    MuAdamW optimizer = optimizer(model, spec);
    int total = options.warmup() + options.steps();
    double[] seconds = new double[options.steps()];
    double[] cpuSeconds = new double[options.steps()];
    double[] losses = new double[options.steps()];
    long masked = 0;
    try {
      for (int step = 0; step < total; step++) {
        try (PointerScope scope = new PointerScope()) {
          List<MaskedLm.Batch> micro = batches.step(step);
          long start = System.nanoTime();
          long cpuStart = CPU.getProcessCpuTime();
          // The production step (TrainStep), in a world of one, with the comparison's choices.
          TrainStep.Result result =
              TrainStep.run(
                  model,
                  optimizer,
                  micro,
                  1.0,
                  new TrainStep.Options(norm, readout, precision, true));
          double s = (System.nanoTime() - start) / 1e9;
          double cpu = (CPU.getProcessCpuTime() - cpuStart) / 1e9;
          int timed = step - options.warmup();
          if (timed >= 0) {
            seconds[timed] = s;
            cpuSeconds[timed] = cpu;
            losses[timed] = result.loss();
            masked += result.masked();
          }
          err.printf(
              Locale.ROOT,
              "bench train %s %s %s: step %d/%d %.2f s (%,.0f tokens/s), loss %.4f%n",
              spec.name(),
              precision.flag(),
              label,
              step + 1,
              total,
              s,
              spec.batch() * (double) spec.model().ctxLen() / s,
              result.loss());
        }
      }
    } finally {
      model.close();
    }
    double median = median(seconds);
    return new Measurement(
        median,
        spec.batch() * (double) spec.model().ctxLen() / median,
        median(cpuSeconds),
        masked / (double) options.steps(),
        losses);
  }

  /**
   * Rows of random tokens (ids 20..V-1) packed as documents of 20..399 tokens each ending in EOS,
   * like the shards' packed rows.
   */
  static Tensor packedRows(int rows, int t, Random random) {
    long[] ids = new long[rows * t];
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < t; i++) {
        ids[r * t + i] = 20L + random.nextInt(VOCAB - 20);
      }
      int pos = 0;
      while (true) {
        pos += 20 + random.nextInt(380);
        if (pos >= t) {
          break;
        }
        ids[r * t + pos] = OmniBioTA.EOS;
      }
    }
    return Tensor.create(ids, rows, t);
  }

  static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  /** libtorch's threads and BLAS in this JVM (the libraries mapped, and its build's BLAS_INFO). */
  static String oursEnvironment() {
    String config = torch.show_config().getString();
    String blas;
    try {
      // libtorch_cpu links libopenblas.so.0, already loaded; the openblas_full preset's JNI
      // library (the one with these two functions) links that same library.
      blas =
          String.format(
              Locale.ROOT,
              "%s, openblas_get_num_threads() %d",
              openblas_full.openblas_get_config().getString(),
              openblas_full.openblas_get_num_threads());
    } catch (LinkageError | RuntimeException e) {
      blas = "not OpenBLAS";
    }
    return String.format(
        Locale.ROOT,
        "ours: libtorch get_num_threads() %d (interop %d); BLAS %s (mapped: %s);" + " libtorch %s",
        torch.get_num_threads(),
        torch.get_num_interop_threads(),
        blas,
        String.join(", ", mappedLibraries("blas", "mkl_", "libdnnl")),
        buildSetting(config, "BLAS_INFO"));
  }

  /** File names of the mapped shared libraries whose name contains one of {@code parts}. */
  static List<String> mappedLibraries(String... parts) {
    try (Stream<String> lines = Files.lines(Path.of("/proc/self/maps"))) {
      List<String> found =
          lines
              .map(l -> l.substring(l.lastIndexOf(' ') + 1))
              .filter(p -> p.startsWith("/"))
              .map(p -> Path.of(p).getFileName().toString())
              .filter(name -> Stream.of(parts).anyMatch(name::contains))
              .distinct()
              .sorted()
              .toList();
      return found.isEmpty() ? List.of("(no BLAS library mapped: libtorch's own kernels)") : found;
    } catch (IOException e) {
      return List.of("(unknown: /proc/self/maps unreadable)");
    }
  }

  private static String buildSetting(String showConfig, String key) {
    int at = showConfig.indexOf(key + "=");
    if (at < 0) {
      return key + " unknown";
    }
    int end = showConfig.indexOf(',', at);
    return showConfig.substring(at, end < 0 ? showConfig.length() : end).trim();
  }

  /**
   * The Python baseline for one config and precision, as a child process (script from the jar)
   * reading the batches and initial weights in {@code dir}. It first reports its environment and
   * the first step's losses at dropout 0, which are checked against ours ({@code original}, {@code
   * ours}); on a mismatch it is stopped there. Otherwise it then times its steps.
   */
  PythonRun python(
      Spec spec, Precision precision, int cores, Path dir, double original, double ours)
      throws IOException, InterruptedException {
    if (!Files.isExecutable(Path.of(options.python()))) {
      throw new UserError(
          "the Python baseline needs "
              + options.python()
              + " with Debian's torch: "
              + "apt-get install -y python3-torch libopenblas0-openmp (or leave the config out of --baseline-configs)");
    }
    Path script = dir.resolve(SCRIPT);
    try (InputStream in = TrainBenchmark.class.getResourceAsStream(SCRIPT)) {
      if (in == null) {
        throw new IllegalStateException(SCRIPT + " is missing from the bench jar");
      }
      Files.write(script, in.readAllBytes());
    }
    OmniBioTAConfig c = spec.model();
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("vocab_size", c.vocabSize());
    args.put("n_embd", c.nEmbd());
    args.put("n_layer", c.nLayer());
    args.put("n_head", c.nHead());
    args.put("ctx_len", c.ctxLen());
    args.put("dropout", c.dropout());
    args.put("mini_batch", spec.miniBatch());
    args.put("batch", spec.batch());
    args.put("steps", options.steps());
    args.put("warmup", options.warmup());
    args.put("precision", precision.flag());
    args.put("seed", options.seed());
    args.put("data_dir", dir.toString());
    ObjectMapper json = new ObjectMapper();
    ProcessBuilder pb =
        new ProcessBuilder(options.python(), script.toString(), json.writeValueAsString(args))
            .redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.environment().put("OMP_NUM_THREADS", Integer.toString(cores));
    pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(cores));
    err.printf(
        Locale.ROOT,
        "bench train %s %s python: loss check, then %d steps%n",
        spec.name(),
        precision.flag(),
        options.warmup() + options.steps());
    Process p = pb.start();
    LossCheck check = null;
    List<String> environment = List.of();
    JsonNode timing = null;
    try (BufferedReader lines =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        if (!line.startsWith("{")) {
          continue;
        }
        JsonNode r = json.readTree(line);
        if (r.has("loss_check")) {
          JsonNode l = r.get("loss_check");
          check =
              new LossCheck(
                  spec.name(),
                  precision,
                  l.get("loss").asDouble(),
                  original,
                  l.get("global_loss").asDouble(),
                  ours,
                  lossTolerance(precision));
          environment = environment(r.get("environment"));
          err.printf(
              Locale.ROOT,
              "bench train %s %s python loss check: %.9f (global %.9f): %s%n",
              spec.name(),
              precision.flag(),
              check.python(),
              check.pythonGlobal(),
              check.passed() ? "ok" : "MISMATCH");
          if (!check.passed()) {
            p.destroy();
            p.waitFor();
            return new PythonRun(null, check, environment);
          }
        } else if (r.has("step_seconds")) {
          timing = r;
        }
      }
    } finally {
      if (p.isAlive()) {
        p.destroy();
      }
    }
    int exit = p.waitFor();
    if (exit != 0 || check == null || timing == null) {
      throw new UserError(
          "the Python baseline failed for config "
              + spec.name()
              + " "
              + precision.flag()
              + " (exit "
              + exit
              + "); its error is above");
    }
    double[] seconds = new double[timing.get("step_seconds").size()];
    double[] cpuSeconds = new double[seconds.length];
    double[] losses = new double[seconds.length];
    for (int i = 0; i < seconds.length; i++) {
      seconds[i] = timing.get("step_seconds").get(i).asDouble();
      cpuSeconds[i] = timing.get("step_cpu_seconds").get(i).asDouble();
      losses[i] = timing.get("losses").get(i).asDouble();
    }
    double median = median(seconds);
    err.printf(
        Locale.ROOT,
        "bench train %s %s python: median step %.2f s, matmul dtype %s%n",
        spec.name(),
        precision.flag(),
        median,
        timing.get("autocast_matmul_dtype").asText());
    return new PythonRun(
        new Measurement(
            median,
            spec.batch() * (double) c.ctxLen() / median,
            median(cpuSeconds),
            Double.NaN,
            losses),
        check,
        environment);
  }

  /** The baseline's torch, threads and BLAS as printed lines (parallel_info indented). */
  static List<String> environment(JsonNode e) {
    List<String> lines = new ArrayList<>();
    lines.add(
        String.format(
            Locale.ROOT,
            "python baseline: torch %s, torch.get_num_threads() %d (interop"
                + " %d); BLAS %s (%s), openblas_get_num_threads() %s; torch %s, %s",
            e.get("torch").asText(),
            e.get("threads").asInt(),
            e.get("interop_threads").asInt(),
            e.get("blas").asText(),
            e.get("blas_library").asText(),
            e.get("blas_threads").asText(),
            e.get("blas_info").asText(),
            e.get("onednn").asText()));
    lines.add("python baseline torch.__config__.parallel_info():");
    for (String l : e.get("parallel_info").asText().strip().split("\n", -1)) {
      lines.add("    " + l.strip());
    }
    return lines;
  }

  private static void deleteTree(Path folder) throws IOException {
    try (Stream<Path> paths = Files.walk(folder)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
