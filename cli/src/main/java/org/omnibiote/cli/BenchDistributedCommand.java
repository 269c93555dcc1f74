package org.omnibiote.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.bench.DistributedBenchmark;
import org.omnibiote.bench.DistributedSettings;
import org.omnibiote.bench.NcclEstimate;
import org.omnibiote.collective.GradientReducer;
import org.omnibiote.data.DataSettings;
import org.omnibiote.data.TrainType;
import org.omnibiote.data.TrainingData;
import org.omnibiote.settings.OmniBioTAConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench distributed}: the cost of gradient all-reduce, with and without overlap.
 */
@Command(
    name = "distributed",
    mixinStandardHelpOptions = true,
    description = {
      "The communication cost of data-parallel training on this machine, with our real parts:"
          + " worker JVMs joined by c10d Gloo on 127.0.0.1, training OmniBioTA with MuAdamW"
          + " (k micro-batches, sync on the last, clip, step).",
      "Modes, medians over the timed rounds: (a) 1 worker with every core, (a1) with one thread;"
          + " (a2) 2 workers (one thread each) without communication;"
          + " (b) 2 workers, all-reduce after backward; (c) 2 workers, the c10d Reducer overlapped"
          + " with backward; (d) raw Gloo all-reduce of the same bytes. Prints step time, tokens/s,"
          + " b - a2, c - a2, the overlap fraction, the communication overhead fraction, GB/s"
          + " against raw Gloo, and a formula for 8 GPUs per node with NCCL.",
      "On 2 cores 2 workers cannot be faster than 1; other load on the machine makes every"
          + " number noisy.",
    })
public final class BenchDistributedCommand implements Callable<Integer>, NeedsLibtorch {

  @Option(
      names = "--n_layer",
      defaultValue = "4",
      description = "Blocks (default: ${DEFAULT-VALUE}).")
  int nLayer;

  @Option(
      names = "--n_embd",
      defaultValue = "256",
      description = "Width (default: ${DEFAULT-VALUE}).")
  int nEmbd;

  @Option(
      names = "--n_head",
      defaultValue = "8",
      description = "Heads (default: ${DEFAULT-VALUE}).")
  int nHead;

  @Option(
      names = "--ctx_len",
      defaultValue = "256",
      description = "Row length (default: ${DEFAULT-VALUE}).")
  int ctxLen;

  @Option(
      names = "--vocab_size",
      defaultValue = "65536",
      description =
          "Vocabulary of the random rows (default: ${DEFAULT-VALUE}, the original's; with"
              + " --base_dir the manifest's).")
  int vocabSize;

  @Option(
      names = "--dropout",
      defaultValue = "0.1",
      description = "Dropout (default: ${DEFAULT-VALUE}).")
  double dropout;

  @Option(
      names = "--mini_batch_size",
      defaultValue = "4",
      description = "Rows per micro-batch (default: ${DEFAULT-VALUE}).")
  int miniBatch;

  @Option(
      names = "--micro-batches",
      defaultValue = "2",
      description =
          "Micro-batches per worker and step, k (default: ${DEFAULT-VALUE}); only the last syncs.")
  int microBatches;

  @Option(
      names = "--steps",
      defaultValue = "7",
      description =
          "Timed rounds (each: one step per mode and a raw all-reduce); medians are"
              + " reported (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(
      names = "--warmup",
      defaultValue = "1",
      description = "Untimed rounds before them (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "Seed of weights and rows (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--base_dir",
      paramLabel = "DIR",
      description = "Train on rows of this ingest output instead of random tokens.")
  Path baseDir;

  @Option(
      names = "--train_type",
      defaultValue = "mixed",
      description =
          "With --base_dir: protein, nucleotide, mixed or halfnhalf (default: ${DEFAULT-VALUE}).")
  String trainType;

  @Option(
      names = "--bucket-mb",
      defaultValue = "4",
      description = "The Reducer's bucket cap in MB (default: ${DEFAULT-VALUE}, DDP's).")
  double bucketMb;

  @Option(
      names = "--timeout",
      defaultValue = "300",
      description = "Collective and rendezvous timeout in seconds (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(
      names = "--gpus",
      defaultValue = "8",
      description = "GPUs per node in the estimate (default: ${DEFAULT-VALUE}).")
  int gpus;

  @Option(
      names = "--gpu-bus-gbps",
      defaultValue = "150",
      description =
          "Assumed NCCL all-reduce bus bandwidth in GB/s (default: ${DEFAULT-VALUE}, NVLink class).")
  double gpuBusGbps;

  @Option(
      names = "--gpu-latency-us",
      defaultValue = "20",
      description =
          "Assumed latency per bucket all-reduce in microseconds (default: ${DEFAULT-VALUE}).")
  double gpuLatencyMicros;

  @Option(
      names = "--gpu-peak-tflops",
      defaultValue = "312",
      description = "Assumed GPU peak in TFLOP/s (default: ${DEFAULT-VALUE}, A100 bf16).")
  double gpuPeakTflops;

  @Option(
      names = "--gpu-mfu",
      defaultValue = "0.4",
      description = "Assumed model FLOPs utilisation on the GPU (default: ${DEFAULT-VALUE}).")
  double gpuMfu;

  @Option(
      names = "--gpu-overlap",
      defaultValue = "0.8",
      description =
          "Share of the last micro-batch's backward the all-reduce can hide in, phi"
              + " (default: ${DEFAULT-VALUE}).")
  double gpuOverlap;

  @Option(
      names = "--gpu-step-ms",
      paramLabel = "MS",
      description =
          "GPU compute time per step of this config, instead of the FLOPs/(MFU x peak) estimate.")
  Double gpuStepMs;

  @Override
  public Integer call() throws Exception {
    new DistributedBenchmark(options(), System.out, System.err).run();
    return 0;
  }

  /** The validated options; every problem is a UserError naming the flag. */
  DistributedBenchmark.Options options() {
    positive("--n_layer", nLayer);
    positive("--n_embd", nEmbd);
    positive("--n_head", nHead);
    positive("--mini_batch_size", miniBatch);
    positive("--micro-batches", microBatches);
    positive("--steps", steps);
    positive("--timeout", timeoutSeconds);
    if (ctxLen < 2) {
      throw new UserError("--ctx_len must be at least 2, got " + ctxLen);
    }
    if (warmup < 0) {
      throw new UserError("--warmup must not be negative, got " + warmup);
    }
    if (dropout < 0 || dropout >= 1) {
      throw new UserError("--dropout must be in [0, 1), got " + dropout);
    }
    if (nEmbd % nHead != 0 || (nEmbd / nHead) % 2 != 0) {
      throw new UserError(
          "--n_embd "
              + nEmbd
              + " must be a multiple of --n_head "
              + nHead
              + " with an even head width (RoPE rotates pairs)");
    }
    if (!(bucketMb > 0)) {
      throw new UserError("--bucket-mb must be positive, got " + bucketMb);
    }
    if (gpus < 1) {
      throw new UserError("--gpus must be at least 1, got " + gpus);
    }
    if (!(gpuBusGbps > 0)) {
      throw new UserError("--gpu-bus-gbps must be positive, got " + gpuBusGbps);
    }
    if (!(gpuLatencyMicros >= 0)) {
      throw new UserError("--gpu-latency-us must not be negative, got " + gpuLatencyMicros);
    }
    if (!(gpuPeakTflops > 0)) {
      throw new UserError("--gpu-peak-tflops must be positive, got " + gpuPeakTflops);
    }
    if (!(gpuMfu > 0 && gpuMfu <= 1)) {
      throw new UserError("--gpu-mfu must be in (0, 1], got " + gpuMfu);
    }
    if (!(gpuOverlap >= 0 && gpuOverlap <= 1)) {
      throw new UserError("--gpu-overlap must be in [0, 1], got " + gpuOverlap);
    }
    if (gpuStepMs != null && !(gpuStepMs > 0)) {
      throw new UserError("--gpu-step-ms must be positive, got " + gpuStepMs);
    }
    int vocab = vocabSize;
    String base = null;
    if (baseDir != null) {
      TrainType type = TrainType.parse(trainType);
      // Opened here once so that a bad folder is refused before any JVM starts.
      try (TrainingData data =
          TrainingData.open(baseDir, new DataSettings(type, false, ctxLen, null, seed))) {
        vocab = data.vocabSize();
      }
      base = baseDir.toAbsolutePath().toString();
    } else if (vocabSize < 64) {
      throw new UserError("--vocab_size must be at least 64, got " + vocabSize);
    }
    OmniBioTAConfig model = new OmniBioTAConfig(vocab, nEmbd, nLayer, nHead, ctxLen, dropout);
    long bucketBytes = Math.round(bucketMb * (1 << 20));
    DistributedSettings settings =
        new DistributedSettings(
            model,
            miniBatch,
            microBatches,
            steps,
            warmup,
            seed,
            base,
            trainType,
            bucketBytes,
            timeoutSeconds);
    NcclEstimate.Assumptions gpu =
        new NcclEstimate.Assumptions(
            gpus,
            gpuBusGbps,
            gpuLatencyMicros,
            gpuPeakTflops,
            gpuMfu,
            gpuOverlap,
            GradientReducer.DEFAULT_BUCKET_BYTES);
    return new DistributedBenchmark.Options(settings, gpu, gpuStepMs);
  }

  private static void positive(String flag, int value) {
    if (value < 1) {
      throw new UserError(flag + " must be at least 1, got " + value);
    }
  }
}
