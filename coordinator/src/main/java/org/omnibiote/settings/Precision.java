package org.omnibiote.settings;

import java.util.Locale;
import org.omnibiote.UserError;

/**
 * The --precision flag. {@code bf16} is mixed precision as {@code torch.autocast} does it:
 * parameters, gradients and optimiser state stay float32 (the original instead casts the whole
 * model to bf16); the matmuls run in bfloat16 (the worker's org.omnibiote.train.Autocast).
 */
public enum Precision {
  FP32,
  BF16;

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
}
