package org.omnibiote.model;

import java.util.Arrays;
import java.util.Locale;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Times attention with dropout on the CPU, forward and backward, by our cheap-dropout math path and
 * by SDPA with dropout_p, interleaved in one JVM (so both see the same machine state), and prints
 * the medians and their ratio. The measurement behind {@link AttentionKernels}' CPU choice.
 *
 * <p>Usage: {@code OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 java -cp ... AttentionDropoutTiming
 * [rounds [B H T d]]}.
 */
public final class AttentionDropoutTiming {
  private AttentionDropoutTiming() {}

  public static void main(String[] args) {
    TorchNatives.load();
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    long b = args.length > 1 ? Long.parseLong(args[1]) : 4;
    long h = args.length > 2 ? Long.parseLong(args[2]) : 8;
    long t = args.length > 3 ? Long.parseLong(args[3]) : 512;
    long d = args.length > 4 ? Long.parseLong(args[4]) : 32;
    double p = 0.1;
    double scale = 8.0 / (h * d);
    torch.globalContext().setSDPUseFlash(false); // as Devices.parse("cpu") leaves it
    System.out.printf(
        Locale.ROOT,
        "attention forward+backward, dropout %.1f, [%d, %d, %d, %d], %d threads, %d rounds%n",
        p,
        b,
        h,
        t,
        d,
        torch.get_num_threads(),
        rounds);
    for (boolean masked : new boolean[] {false, true}) {
      AttentionKernels.Path[] paths = {
        AttentionKernels.Path.CHEAP_DROPOUT_MATH, AttentionKernels.Path.SDPA_DROPOUT
      };
      double[][] wall = new double[paths.length][rounds];
      double[][] cpu = new double[paths.length][rounds];
      for (int r = -2; r < rounds; r++) { // two warm-up rounds
        for (int i = 0; i < paths.length; i++) {
          double[] took = once(paths[i], b, h, t, d, masked, scale, p);
          if (r >= 0) {
            wall[i][r] = took[0];
            cpu[i][r] = took[1];
          }
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%s: cheap-dropout math %.1f ms (cpu %.1f), SDPA dropout_p %.1f ms (cpu %.1f), medians;"
              + " SDPA / cheap = %.2f wall, %.2f cpu%n",
          masked ? "block-diagonal mask" : "no mask",
          median(wall[0]),
          median(cpu[0]),
          median(wall[1]),
          median(cpu[1]),
          median(wall[1]) / median(wall[0]),
          median(cpu[1]) / median(cpu[0]));
    }
  }

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean();

  /** Wall and process CPU milliseconds of one forward and backward. */
  private static double[] once(
      AttentionKernels.Path path,
      long b,
      long h,
      long t,
      long d,
      boolean masked,
      double scale,
      double p) {
    try (PointerScope scope = new PointerScope()) {
      Tensor q = torch.randn(b, h, t, d).requires_grad_(true);
      Tensor k = torch.randn(b, h, t, d).requires_grad_(true);
      Tensor v = torch.randn(b, h, t, d).requires_grad_(true);
      Tensor mask = null;
      if (masked) {
        Tensor ids = torch.randint(4, 50, new long[] {b, t});
        for (long at = 100; at < t; at += 150) {
          ids.select(1, at).fill_(new Scalar(OmniBioTA.EOS));
        }
        mask = OmniBioTA.AttentionMask.build(ids, true);
      }
      long start = System.nanoTime();
      long cpuStart = OS.getProcessCpuTime();
      Tensor y = OmniBioTA.attend(path, q, k, v, mask, scale, p);
      y.sum().backward();
      return new double[] {
        (System.nanoTime() - start) / 1e6, (OS.getProcessCpuTime() - cpuStart) / 1e6
      };
    }
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
