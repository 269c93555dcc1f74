package org.omnibiote.train;

import java.util.Locale;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.omnibiote.UserError;

/**
 * The --precision flag. {@code bf16} is mixed precision as {@code torch.autocast} does it:
 * parameters, gradients and optimiser state stay float32 (the original instead casts the whole
 * model to bf16); inside {@link #autocast} the matmuls (linear, SDPA) run in bfloat16 while
 * the ops on torch's float32 list (cross-entropy among them) run in float32. Only forward and
 * loss go inside the guard; backward follows the recorded dtypes.
 */
public enum Precision {
  FP32(ScalarType.Float),
  BF16(ScalarType.BFloat16);

  private final ScalarType matmulType;

  Precision(ScalarType matmulType) {
    this.matmulType = matmulType;
  }

  /** The dtype the matmuls run in (what {@link org.omnibiote.train.Flops}' peak is measured in). */
  public ScalarType matmulType() {
    return matmulType;
  }

  public String flag() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Precision parse(String flag) {
    for (Precision p : values()) {
      if (p.flag().equals(flag)) {
        return p;
      }
    }
    throw new UserError("--precision: '" + flag + "' is neither fp32 nor bf16");
  }

  /**
   * Opens autocast for {@code device} (CPU or CUDA) with this precision; FP32 returns a guard
   * that changes nothing. Close it on the thread that opened it (autocast state is
   * thread-local), after the loss and before backward.
   */
  public Autocast autocast(DeviceType device) {
    return this == FP32 ? Autocast.NONE : new Autocast(device, matmulType);
  }

  /**
   * torch.autocast's enter and exit: sets the device's autocast flag and dtype and turns the
   * weight-cast cache on; on close restores the previous state and, when the outermost guard
   * closes, clears the cache (it holds the bf16 copies of the weights for this forward only,
   * so a later optimiser step is never served stale copies).
   */
  public static final class Autocast implements AutoCloseable {
    static final Autocast NONE = new Autocast();

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
      flashOff = device == DeviceType.CPU && type == ScalarType.BFloat16
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
}
