package org.omnibiote.train;

import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.omnibiote.settings.Precision;

/**
 * torch.autocast's enter and exit: sets the device's autocast flag and dtype and turns the
 * weight-cast cache on; on close restores the previous state and, when the outermost guard closes,
 * clears the cache (it holds the bf16 copies of the weights for this forward only, so a later
 * optimiser step is never served stale copies).
 */
public final class Autocast implements AutoCloseable {
  static final Autocast NONE = new Autocast();

  /**
   * Opens autocast for {@code device} (CPU or CUDA) with {@code precision}; FP32 returns a guard
   * that changes nothing. Close it on the thread that opened it (autocast state is thread-local),
   * after the loss and before backward. Forward and loss go inside the guard; backward follows the
   * recorded dtypes, and ops on torch's float32 list (cross-entropy among them) stay float32.
   */
  public static Autocast open(Precision precision, DeviceType device) {
    return precision == Precision.FP32 ? NONE : new Autocast(device, matmulType(precision));
  }

  /** The dtype the matmuls run in (what the matmul peak of the mfu is measured in). */
  public static ScalarType matmulType(Precision precision) {
    return precision == Precision.FP32 ? ScalarType.Float : ScalarType.BFloat16;
  }

  private final DeviceType device;
  private final boolean flashOff;
  private final boolean wasEnabled;
  private final ScalarType previousType;
  private final boolean previousCache;
  private boolean closed;

  private Autocast() {
    device = null;
    flashOff = false;
    wasEnabled = false;
    previousType = null;
    previousCache = false;
  }

  Autocast(DeviceType device, ScalarType type) {
    this.device = device;
    wasEnabled = torch.is_autocast_enabled(device);
    previousType = torch.get_autocast_dtype(device).intern();
    previousCache = torch.is_autocast_cache_enabled();
    torch.set_autocast_enabled(device, true);
    torch.set_autocast_dtype(device, type);
    torch.set_autocast_cache_enabled(true);
    torch.increment_nesting();
    // libtorch's CPU flash-attention kernel is about 4x slower than the math path in bf16
    // here (it is the faster one in fp32); SDPA picks it whenever dropout is off (eval,
    // val loss). The switch is process-wide: it is restored on close.
    flashOff =
        device == DeviceType.CPU
            && type == ScalarType.BFloat16
            && torch.globalContext().userEnabledFlashSDP();
    if (flashOff) {
      torch.globalContext().setSDPUseFlash(false);
    }
  }

  @Override
  public void close() {
    if (device == null || closed) {
      return;
    }
    closed = true;
    if (torch.decrement_nesting() == 0) {
      torch.clear_cache();
    }
    torch.set_autocast_enabled(device, wasEnabled);
    torch.set_autocast_dtype(device, previousType);
    torch.set_autocast_cache_enabled(previousCache);
    if (flashOff) {
      torch.globalContext().setSDPUseFlash(true);
    }
  }
}
