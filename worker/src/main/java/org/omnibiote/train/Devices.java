package org.omnibiote.train;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;

/** The --devices flag: {@code cpu} or {@code cuda:N}, checked against this host. */
public final class Devices {
  private static final Pattern CUDA = Pattern.compile("cuda:(\\d+)");

  private Devices() {}

  /**
   * Keeps SDPA off libtorch's CPU flash-attention kernel, which this build runs 3-4x slower than
   * the math path (B's shape [4, 8, 512, 32], forward + backward: 462 ms against 123 ms without
   * dropout); on CUDA the flash kernel is the fast one and is left alone. A process-wide libtorch
   * setting.
   */
  public static void useFastCpuAttention() {
    torch.globalContext().setSDPUseFlash(false);
  }

  /** The device of the flag; for {@code cpu} also {@link #useFastCpuAttention()}. */
  public static Device parse(String spec) {
    if (spec.equals("cpu")) {
      useFastCpuAttention();
      return new Device("cpu");
    }
    Matcher m = CUDA.matcher(spec);
    if (!m.matches()) {
      throw new UserError("--devices: '" + spec + "' is neither cpu nor cuda:N");
    }
    int index = Integer.parseInt(m.group(1));
    if (!torch.cuda_is_available()) {
      throw new UserError(
          "--devices "
              + spec
              + ": this host has no usable CUDA (build with -Pgpu for the CUDA "
              + "natives and install CUDA 13.1, cuDNN 9 and NCCL on the host), or use --devices cpu");
    }
    int count = torch.cuda_device_count();
    if (index >= count) {
      throw new UserError("--devices " + spec + ": this host has " + count + " CUDA device(s)");
    }
    return new Device(spec);
  }
}
