package org.omnibiote.bench;

import org.omnibiote.train.Autocast;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.train.TrainStep.Readout;
import org.omnibiote.metrics.Flops;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MatmulPeak;
import org.omnibiote.train.Devices;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.settings.Precision;
import org.omnibiote.train.TrainStep;

/**
 * Training-step throughput, in one run: our step (readout at the masked positions, global
 * masked-token loss), our step with the original's choices (readout everywhere, per-micro-batch
 * loss) and a Python baseline written from the recipe (train_baseline.py on Debian's
 * python3-torch), per config and precision; plus MFU against the matmul peak measured here.
 * Every step time is wall clock of zero_grad + forward/backward over the micro-batches + clip +
 * AdamW, data preparation excluded; tokens/s uses the median step (robust to other load).
 */
public final class TrainBenchmark {
  public static final int VOCAB = 65_536;
  public static final double MASK_PROBABILITY = 0.15;
  static final String SCRIPT = "train_baseline.py";

  /** A benchmark configuration: model shape, mini-batch and batch (rows of ctx_len). */
  public record Spec(String name, OmniBioTAConfig model, int miniBatch, int batch) {
    int microBatches() {
      return batch / miniBatch;
    }
  }

  /** The configs A, B, C (vocab 65,536) with the given dropout. */
  public static Map<String, Spec> configs(double dropout) {
    Map<String, Spec> specs = new LinkedHashMap<>();
    specs.put("A", new Spec("A", new OmniBioTAConfig(VOCAB, 128, 2, 4, 256, dropout), 8, 8));
    specs.put("B", new Spec("B", new OmniBioTAConfig(VOCAB, 256, 4, 8, 512, dropout), 4, 4));
    specs.put("C", new Spec("C", new OmniBioTAConfig(VOCAB, 512, 8, 8, 512, dropout), 4, 32));
    return specs;
  }

  /** What to run. {@code baseline}: the configs that also run the Python baseline. */
  public record Options(
      List<Spec> specs, List<Precision> precisions, int steps, int warmup, List<String> baseline,
      long seed, String python, int threads) {}

  /**
   * One measured step loop: median wall seconds per step, tokens/s at that median, median
   * process CPU seconds per step (less sensitive to other load than wall time), mean masked
   * tokens per step.
   */
  public record Measurement(
      double medianSeconds, double tokensPerSecond, double medianCpuSeconds, double maskedTokens,
      double[] losses) {}

  /**
   * One table row. {@code python} is null when the baseline did not run for this config.
   * {@code peak}: the best matmul rate seen in this precision during the run.
   */
  public record Row(
      Spec spec, Precision precision, Measurement ours, Measurement original, Measurement python,
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
      double tokensPerCpuSecond = spec.batch() * (double) spec.model().ctxLen() / ours.medianCpuSeconds();
      return Flops.originalFlopsPerToken(spec.model()) * tokensPerCpuSecond / peak.cpu();
    }
  }

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

  /** Runs everything, prints the table; true when every goal it measured is met. */
  public boolean run() throws IOException, InterruptedException {
    Devices.useFastCpuAttention();
    int cores = options.threads();
    torch.set_num_threads(cores);
    out.printf(Locale.ROOT, "libtorch threads %d (%d cores here); python baseline: %s with OMP_NUM_THREADS="
        + "OPENBLAS_NUM_THREADS=%d; %d warm-up + %d timed steps each; tokens/s at the median step%n",
        torch.get_num_threads(), Runtime.getRuntime().availableProcessors(), options.python(), cores,
        options.warmup(), options.steps());
    String blas = System.getenv("OPENBLAS_NUM_THREADS");
    if (!Integer.toString(cores).equals(blas)) {
      // OpenBLAS (libtorch's fp32 GEMM here) reads its thread count once, at load time.
      out.printf(Locale.ROOT, "note: OPENBLAS_NUM_THREADS is %s in this JVM, not %d: start it with "
          + "OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d for a like-for-like comparison%n",
          blas == null ? "unset" : blas, cores, cores, cores);
    }
    List<Row> rows = new ArrayList<>();
    for (Precision precision : options.precisions()) {
      // Measured before every config and once after: the best rate seen is the peak.
      MatmulPeak.Rate peak = peak(precision);
      List<Measurement[]> done = new ArrayList<>();
      for (Spec spec : options.specs()) {
        peak = peak.max(peak(precision));
        Measurement ours = measure(spec, precision, Readout.MASKED, LossNorm.GLOBAL, "ours");
        Measurement original = measure(spec, precision, Readout.ALL, LossNorm.ORIGINAL, "original-choices");
        Measurement python = options.baseline().contains(spec.name()) ? python(spec, precision, cores) : null;
        done.add(new Measurement[] {ours, original, python});
      }
      peak = peak.max(peak(precision));
      out.printf(Locale.ROOT, "%s matmul peak: %.1f GFLOP/s wall, %.1f GFLOP/s per CPU second (torch.mm %d^3,"
          + " best of %d, measured before each config and at the end)%n",
          precision.flag(), peak.wall() / 1e9, peak.cpu() / 1e9, MatmulPeak.SIZE, MatmulPeak.REPEATS);
      for (int i = 0; i < done.size(); i++) {
        Measurement[] m = done.get(i);
        rows.add(new Row(options.specs().get(i), precision, m[0], m[1], m[2], peak));
      }
    }
    return printTable(rows);
  }

  private static MatmulPeak.Rate peak(Precision precision) {
    return MatmulPeak.measureRate(Autocast.matmulType(precision), MatmulPeak.SIZE, MatmulPeak.REPEATS);
  }

  private boolean printTable(List<Row> rows) {
    boolean met = true;
    out.println();
    out.println("config precision | ours tok/s | orig-choices tok/s | python tok/s | ours/python "
        + "| ours/orig-choices | mfu | mfu_original | goal");
    for (Row r : rows) {
      String python = r.python() == null ? "-" : fmt(r.python().tokensPerSecond());
      String ratio = r.python() == null ? "-"
          : String.format(Locale.ROOT, "%.2fx", r.ours().tokensPerSecond() / r.python().tokensPerSecond());
      String goal;
      if (r.spec().name().equals("C") && r.precision() == Precision.FP32) {
        boolean ok = r.mfu() >= 0.5;
        // Wall clock decides; the CPU-time figure says what a quiet machine would show.
        goal = "mfu >= 50%: " + (ok ? "met" : "NOT met") + " (CPU time: "
            + (r.mfuCpu() >= 0.5 ? "met" : "NOT met") + ")";
        met &= ok;
      } else if (r.python() != null && !r.spec().name().equals("C")) {
        boolean ok = r.ours().tokensPerSecond() >= 2 * r.python().tokensPerSecond();
        goal = ">= 2x python: " + (ok ? "met" : "NOT met");
        met &= ok;
      } else {
        goal = "-";
      }
      out.printf(Locale.ROOT, "%-6s %-9s | %10s | %18s | %12s | %11s | %16.2fx | %4.1f%% | %11.1f%% | %s%n",
          r.spec().name(), r.precision().flag(), fmt(r.ours().tokensPerSecond()),
          fmt(r.original().tokensPerSecond()), python, ratio,
          r.ours().tokensPerSecond() / r.original().tokensPerSecond(), 100 * r.mfu(),
          100 * r.mfuOriginal(), goal);
    }
    out.println("mfu: FLOPs our step must do (readout at masked positions) / (median step time x"
        + " measured matmul peak of the precision); mfu_original: (6P + 12LNT) x tokens/s / peak.");
    out.println();
    out.println("CPU seconds per step (process CPU time, median; with --threads 1 the least"
        + " disturbed by other load):");
    out.println("config precision | ours | orig-choices | python | python/ours | orig-choices/ours"
        + " | mfu (CPU) | mfu_original (CPU)");
    for (Row r : rows) {
      double py = r.python() == null ? Double.NaN : r.python().medianCpuSeconds();
      out.printf(Locale.ROOT, "%-6s %-9s | %6.2f | %12.2f | %6.2f | %10.2fx | %16.2fx | %8.1f%% | %17.1f%%%n",
          r.spec().name(), r.precision().flag(), r.ours().medianCpuSeconds(),
          r.original().medianCpuSeconds(), py, py / r.ours().medianCpuSeconds(),
          r.original().medianCpuSeconds() / r.ours().medianCpuSeconds(), 100 * r.mfuCpu(),
          100 * r.mfuOriginalCpu());
    }
    return met;
  }

  private static String fmt(double tokensPerSecond) {
    return String.format(Locale.ROOT, "%,.0f", tokensPerSecond);
  }

  /** Our step (MuAdamW, accumulate, clip, AdamW) with the given readout and loss weighting. */
  Measurement measure(Spec spec, Precision precision, Readout readout, LossNorm norm, String label) {
    torch.manual_seed(options.seed());
    Random data = new Random(options.seed() + 1);
    OmniBioTA model = new OmniBioTA(spec.model());
    model.train(true);
    MuAdamW optimizer = new MuAdamW(model, new MuAdamW.Settings(
        1e-2 * Math.sqrt(spec.batch()) / 32, 0.9, 0.999, 1e-8, 0.01), false);
    int total = options.warmup() + options.steps();
    double[] seconds = new double[options.steps()];
    double[] cpuSeconds = new double[options.steps()];
    double[] losses = new double[options.steps()];
    long masked = 0;
    try {
      for (int step = 0; step < total; step++) {
        try (PointerScope scope = new PointerScope()) {
          List<MaskedLm.Batch> micro = new ArrayList<>();
          for (int i = 0; i < spec.microBatches(); i++) {
            micro.add(MaskedLm.mask(packedRows(spec.miniBatch(), spec.model().ctxLen(), data), MASK_PROBABILITY));
          }
          long start = System.nanoTime();
          long cpuStart = CPU.getProcessCpuTime();
          // The production step (TrainStep), in a world of one, with the comparison's choices.
          double loss = TrainStep.run(model, optimizer, micro, 1.0,
              new TrainStep.Options(norm, readout, precision, true)).loss();
          double s = (System.nanoTime() - start) / 1e9;
          double cpu = (CPU.getProcessCpuTime() - cpuStart) / 1e9;
          int timed = step - options.warmup();
          if (timed >= 0) {
            seconds[timed] = s;
            cpuSeconds[timed] = cpu;
            losses[timed] = loss;
            for (MaskedLm.Batch b : micro) {
              masked += b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
            }
          }
          err.printf(Locale.ROOT, "bench train %s %s %s: step %d/%d %.2f s (%,.0f tokens/s), loss %.4f%n",
              spec.name(), precision.flag(), label, step + 1, total, s,
              spec.batch() * (double) spec.model().ctxLen() / s, loss);
        }
      }
    } finally {
      model.close();
    }
    double median = median(seconds);
    return new Measurement(median, spec.batch() * (double) spec.model().ctxLen() / median,
        median(cpuSeconds), masked / (double) options.steps(), losses);
  }

  /**
   * Rows of random tokens (ids 20..V-1) packed as documents of 20..399 tokens each ending in
   * EOS, like the shards' packed rows (the same generator as the Python baseline's).
   */
  static Tensor packedRows(int rows, int t, Random random) {
    long[] ids = new long[rows * t];
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < t; i++) {
        ids[r * t + i] = 20 + random.nextInt(VOCAB - 20);
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

  /** The Python baseline for one config and precision, as a child process (script from the jar). */
  Measurement python(Spec spec, Precision precision, int cores) throws IOException, InterruptedException {
    if (!Files.isExecutable(Path.of(options.python()))) {
      throw new UserError("the Python baseline needs " + options.python() + " with Debian's torch: "
          + "apt-get install -y python3-torch libopenblas0-openmp (or leave the config out of --baseline-configs)");
    }
    Path script = Files.createTempFile("omnibiote-train-baseline", ".py");
    try {
      try (InputStream in = TrainBenchmark.class.getResourceAsStream(SCRIPT)) {
        if (in == null) {
          throw new IllegalStateException(SCRIPT + " is missing from the worker jar");
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
      ObjectMapper json = new ObjectMapper();
      ProcessBuilder pb = new ProcessBuilder(options.python(), script.toString(), json.writeValueAsString(args))
          .redirectError(ProcessBuilder.Redirect.INHERIT);
      pb.environment().put("OMP_NUM_THREADS", Integer.toString(cores));
      pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(cores));
      err.printf(Locale.ROOT, "bench train %s %s python: running %d steps%n", spec.name(), precision.flag(),
          options.warmup() + options.steps());
      Process p = pb.start();
      String result = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(2, TimeUnit.HOURS) || p.exitValue() != 0) {
        throw new UserError("the Python baseline failed for config " + spec.name() + " " + precision.flag()
            + " (exit " + p.exitValue() + "); its error is above");
      }
      JsonNode r = json.readTree(result.substring(result.lastIndexOf('\n') + 1));
      double[] seconds = new double[r.get("step_seconds").size()];
      double[] cpuSeconds = new double[seconds.length];
      double[] losses = new double[seconds.length];
      for (int i = 0; i < seconds.length; i++) {
        seconds[i] = r.get("step_seconds").get(i).asDouble();
        cpuSeconds[i] = r.get("step_cpu_seconds").get(i).asDouble();
        losses[i] = r.get("losses").get(i).asDouble();
      }
      double median = median(seconds);
      err.printf(Locale.ROOT, "bench train %s %s python: median step %.2f s, torch %s, %d threads, matmul dtype %s%n",
          spec.name(), precision.flag(), median, r.get("torch").asText(), r.get("threads").asInt(),
          r.get("autocast_matmul_dtype").asText());
      return new Measurement(median, spec.batch() * (double) c.ctxLen() / median, median(cpuSeconds),
          Double.NaN, losses);
    } finally {
      Files.deleteIfExists(script);
    }
  }
}
