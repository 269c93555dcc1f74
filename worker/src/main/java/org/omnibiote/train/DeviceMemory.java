package org.omnibiote.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.cuda.DeviceStats;
import org.bytedeco.pytorch.global.torch;

/**
 * GPU memory of a CUDA device as libtorch's caching allocator counts it: bytes held by live tensors
 * (allocated) and bytes the allocator took from the driver (reserved, what other processes and NCCL
 * cannot have). Through libtorch's device-generic accelerator API (at::accelerator, in the main
 * presets class), so no CUDA Java presets are needed. On any other device every figure is 0 and
 * nothing touches libtorch's accelerator functions, which throw on a build without one.
 */
public final class DeviceMemory {
  private static final double MB = 1024.0 * 1024.0;

  /** Peaks in MiB since the last {@link #resetPeak}. */
  public record Peak(double allocatedMb, double reservedMb) {
    public static final Peak NONE = new Peak(0, 0);
  }

  private DeviceMemory() {}

  /** Starts a new peak window on {@code device} (a no-op off CUDA). */
  public static void resetPeak(Device device) {
    if (device.is_cuda()) {
      torch.resetPeakStats(device.index());
    }
  }

  /** The peaks since the last {@link #resetPeak} ({@link Peak#NONE} off CUDA). */
  public static Peak peak(Device device) {
    if (!device.is_cuda()) {
      return Peak.NONE;
    }
    try (PointerScope scope = new PointerScope()) {
      DeviceStats s = torch.getDeviceStats(device.index());
      // allocated_bytes() and reserved_bytes() are StatArrays: element 0 is the aggregate over
      // the small and large pools.
      return new Peak(s.allocated_bytes().peak() / MB, s.reserved_bytes().peak() / MB);
    }
  }

  /** Bytes held by live tensors on {@code device} now (0 off CUDA). */
  public static long allocatedBytes(Device device) {
    if (!device.is_cuda()) {
      return 0;
    }
    try (PointerScope scope = new PointerScope()) {
      return torch.getDeviceStats(device.index()).allocated_bytes().current();
    }
  }

  /**
   * Hands the allocator's cached, unused blocks back to the driver (a no-op off CUDA), so memory a
   * past world generation freed is free for the next one's NCCL communicators, which allocate
   * outside the caching allocator.
   */
  public static void releaseCached(Device device) {
    if (device.is_cuda()) {
      torch.emptyCache();
    }
  }
}
