package org.omnibiote.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.data.DataSettings;
import org.omnibiote.data.TrainType;
import org.omnibiote.data.TrainingData;
import org.omnibiote.train.MaskedLm;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The trainer's data path: opening an ingest output (one scan of every train and val shard to build
 * the row index), then making one batch. Our batch (rows read from the mapped shards, masked in
 * Java by a per-sample RNG, copied into the tensors in one bulk put) is compared with the same rows
 * masked by torch's generator (MaskedLm.mask), which is not reproducible per sample but is the
 * obvious alternative.
 */
@Command(
    name = "data",
    mixinStandardHelpOptions = true,
    description =
        "Open time of an ingest output and the time to build one [rows, ctx_len]"
            + " masked batch: ours (deterministic per-sample mask in Java) against torch masking"
            + " of the same rows, with the ratio.")
public final class BenchDataCommand implements Callable<Integer>, NeedsLibtorch {

  @Option(
      names = "--base_dir",
      required = true,
      paramLabel = "DIR",
      description = "An ingest output folder (manifest.json and the shard folders).")
  Path baseDir;

  @Option(
      names = "--train_type",
      defaultValue = "mixed",
      description = "protein | nucleotide | mixed | halfnhalf (default: ${DEFAULT-VALUE}).")
  String trainType;

  @Option(
      names = "--ctx_len",
      defaultValue = "512",
      description = "Row length (default: ${DEFAULT-VALUE}).")
  int ctxLen;

  @Option(
      names = "--rows",
      defaultValue = "32",
      description = "Rows per batch (default: ${DEFAULT-VALUE}).")
  int rows;

  @Option(names = "--use_padding", description = "Pack whole documents and pad.")
  boolean usePadding;

  @Option(
      names = "--repeats",
      defaultValue = "200",
      description = "Batches timed per side; the median is printed (default: ${DEFAULT-VALUE}).")
  int repeats;

  @Override
  public Integer call() {
    if (rows < 1 || repeats < 1) {
      throw new UserError("--rows and --repeats must be positive");
    }
    DataSettings settings =
        new DataSettings(TrainType.parse(trainType), usePadding, ctxLen, null, 1234);
    long t0 = System.nanoTime();
    try (TrainingData data = TrainingData.open(baseDir, settings)) {
      double openMs = (System.nanoTime() - t0) / 1e6;
      System.out.println(data.describe());
      // Opened again with a warm JIT and page cache: what the scan itself costs.
      double againMs = Double.MAX_VALUE;
      for (int k = 0; k < 10; k++) {
        long t1 = System.nanoTime();
        TrainingData.open(baseDir, settings).close();
        againMs = Math.min(againMs, (System.nanoTime() - t1) / 1e6);
      }
      System.out.printf(
          Locale.ROOT,
          "open (read the manifest, check and scan every shard, build"
              + " the row index): %.1f ms in a fresh JVM, best of 10 more %.1f ms (%.0f M tokens/s)%n",
          openMs,
          againMs,
          data.scannedTokens() / againMs / 1e3);
      // Warm both paths up (JIT, libtorch's first allocations), then alternate them.
      double[] ours = new double[repeats];
      double[] torchMask = new double[repeats];
      for (int w = 0; w < 20; w++) {
        oursOnce(data, w);
        torchOnce(data, w);
      }
      for (int i = 0; i < repeats; i++) {
        long first = (long) i * rows;
        ours[i] = oursOnce(data, first);
        torchMask[i] = torchOnce(data, first);
      }
      double a = median(ours);
      double b = median(torchMask);
      System.out.printf(
          Locale.ROOT,
          "batch [%d, %d]: ours (Java per-sample mask + bulk copy) %.3f ms, rows + torch"
              + " mask %.3f ms, ratio %.2fx (median of %d)%n",
          rows,
          ctxLen,
          a,
          b,
          b / a,
          repeats);
    }
    return 0;
  }

  private double oursOnce(TrainingData data, long first) {
    long t = System.nanoTime();
    try (PointerScope scope = new PointerScope()) {
      MaskedLm.Batch batch = MaskedLm.batch(data, first, rows);
      batch.targets().size(0);
    }
    return (System.nanoTime() - t) / 1e6;
  }

  private double torchOnce(TrainingData data, long first) {
    long t = System.nanoTime();
    try (PointerScope scope = new PointerScope()) {
      long[] ids = new long[rows * ctxLen];
      for (int r = 0; r < rows; r++) {
        System.arraycopy(data.row(first + r), 0, ids, r * ctxLen, ctxLen);
      }
      Tensor t0 = Tensor.create(ids, rows, ctxLen);
      MaskedLm.Batch batch = MaskedLm.mask(t0, 0.15);
      batch.targets().size(0);
    }
    return (System.nanoTime() - t) / 1e6;
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  static {
    torch.manual_seed(1);
  }
}
