package org.omnibiote.train;

import java.lang.management.ManagementFactory;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The matmul rate this process gets from libtorch on its device (the denominator of MFU): on the
 * CPU the best of a few square {@code torch.mm} of size {@link #SIZE} in the given dtype, after one
 * untimed warm-up; on a CUDA device the same idea at a GPU's scale ({@link #measureCuda}).
 * Measured, not taken from a datasheet, so MFU is relative to what the same machine and threads
 * allow; under other load the best of several is the closest to the machine's real peak (the MFU
 * against it is then an underestimate, never flattering).
 */
public final class MatmulPeak {
  public static final int SIZE = 2048;

  /**
   * Timed repeats after the warm-up. Each worker measures once when it first joins a world, on a
   * world's critical path; 1024 would cost an eighth but reads about 5% below 2048's rate (so the
   * MFU would flatter); the best of 3 read on average 1% (4 threads) and 3% (1 thread) below the
   * best of 8 in four paired trials here (2026-12-07), at less than half the time.
   */
  public static final int REPEATS = 3;

  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  /**
   * FLOP/s per second of wall clock and per second of process CPU time (the latter is what one
   * thread gets while it runs, less sensitive to other processes taking the cores).
   */
  public record Rate(double wall, double cpu) {
    public Rate max(Rate other) {
      return new Rate(Math.max(wall, other.wall), Math.max(cpu, other.cpu));
    }
  }

  private MatmulPeak() {}

  /**
   * On CUDA: the matrix size and the matmuls per timed window. A 2048 matmul takes tens of
   * microseconds on a recent GPU, the order of a launch and a synchronisation, so the CPU's size
   * would measure overheads; 8192 (1.1 TFLOP) keeps a window of 8 at several milliseconds even at
   * the bf16 rate of an H100, where launches and the one synchronisation are a fraction of a
   * percent.
   */
  public static final int CUDA_SIZE = 8192;

  public static final int CUDA_MATMULS_PER_WINDOW = 8;

  /** FLOP/s (wall clock) of a SIZE x SIZE matmul in {@code dtype} (Float or BFloat16). */
  public static double measure(ScalarType dtype) {
    return measureRate(dtype, SIZE, REPEATS).wall();
  }

  /**
   * FLOP/s of a square matmul in {@code dtype} on {@code device}: the CPU's as {@link
   * #measure(ScalarType)}, a CUDA device's by {@link #measureCuda}, so the mfu of a GPU worker is a
   * fraction of what its own GPU does in the run's precision (with libtorch's settings of this
   * process: fp32 matmuls stay full fp32 unless TF32 was allowed).
   */
  public static double measure(ScalarType dtype, Device device) {
    return device.is_cuda()
        ? measureCuda(dtype, device, CUDA_SIZE, CUDA_MATMULS_PER_WINDOW, REPEATS)
        : measure(dtype);
  }

  /**
   * The best of {@code windows} timed windows of {@code perWindow} back-to-back n x n matmuls on a
   * CUDA device, after an untimed warm-up (cuBLAS picks its kernel and allocates its workspace on
   * the first call). Kernels run asynchronously: the device is synchronised before the clock starts
   * and before it is read, so a window times the GPU's work, not the launches.
   */
  static double measureCuda(ScalarType dtype, Device device, int n, int perWindow, int windows) {
    try (PointerScope scope = new PointerScope()) {
      TensorOptions options =
          new TensorOptions(device).dtype(new org.bytedeco.pytorch.ScalarTypeOptional(dtype));
      Tensor a = torch.randn(new long[] {n, n}, options);
      Tensor b = torch.randn(new long[] {n, n}, options);
      Tensor out = torch.zeros(new long[] {n, n}, options);
      torch.mm_out(out, a, b);
      torch.mm_out(out, a, b);
      long index = device.index();
      torch.cuda_synchronize(index);
      long best = Long.MAX_VALUE;
      for (int w = 0; w < windows; w++) {
        long start = System.nanoTime();
        for (int i = 0; i < perWindow; i++) {
          torch.mm_out(out, a, b);
        }
        torch.cuda_synchronize(index);
        best = Math.min(best, System.nanoTime() - start);
      }
      return 2.0 * n * n * n * perWindow / (best / 1e9);
    }
  }

  public static Rate measureRate(ScalarType dtype, int n, int repeats) {
    try (PointerScope scope = new PointerScope()) {
      TensorOptions options = new TensorOptions(dtype); // cpu-only: the CPU's rate, by design
      Tensor a = torch.randn(new long[] {n, n}, options);
      Tensor b = torch.randn(new long[] {n, n}, options);
      Tensor out = torch.zeros(new long[] {n, n}, options);
      torch.mm_out(out, a, b);
      long bestWall = Long.MAX_VALUE;
      long bestCpu = Long.MAX_VALUE;
      for (int i = 0; i < repeats; i++) {
        long start = System.nanoTime();
        long cpuStart = OS.getProcessCpuTime();
        torch.mm_out(out, a, b);
        bestWall = Math.min(bestWall, System.nanoTime() - start);
        bestCpu = Math.min(bestCpu, Math.max(1, OS.getProcessCpuTime() - cpuStart));
      }
      double flops = 2.0 * n * n * n;
      return new Rate(flops / (bestWall / 1e9), flops / (bestCpu / 1e9));
    }
  }
}
