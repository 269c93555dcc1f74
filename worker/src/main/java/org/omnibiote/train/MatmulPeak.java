package org.omnibiote.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The matmul rate this process gets from libtorch on the CPU (the denominator of MFU):
 * the best of a few square {@code torch.mm} of size {@link #SIZE} in the given dtype, after
 * one untimed warm-up. Measured, not taken from a datasheet, so MFU is relative to what the
 * same machine, threads and load allow at that moment.
 */
public final class MatmulPeak {
  public static final int SIZE = 2048;
  public static final int REPEATS = 4;

  private MatmulPeak() {}

  /** FLOP/s of an n x n by n x n matmul in {@code dtype} (Float or BFloat16). */
  public static double measure(ScalarType dtype) {
    return measure(dtype, SIZE, REPEATS);
  }

  public static double measure(ScalarType dtype, int n, int repeats) {
    try (PointerScope scope = new PointerScope()) {
      TensorOptions options = new TensorOptions(dtype);
      Tensor a = torch.randn(new long[] {n, n}, options);
      Tensor b = torch.randn(new long[] {n, n}, options);
      Tensor out = torch.zeros(new long[] {n, n}, options);
      torch.mm_out(out, a, b);
      long best = Long.MAX_VALUE;
      for (int i = 0; i < repeats; i++) {
        long start = System.nanoTime();
        torch.mm_out(out, a, b);
        best = Math.min(best, System.nanoTime() - start);
      }
      return 2.0 * n * n * n / (best / 1e9);
    }
  }
}
