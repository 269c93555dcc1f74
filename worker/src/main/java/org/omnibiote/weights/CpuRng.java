package org.omnibiote.weights;

import static org.bytedeco.pytorch.global.torch.ScalarType.Byte;

import java.util.Base64;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;

/**
 * The state of torch's default CPU generator (what torch.manual_seed seeds and torch.rand, dropout
 * and the masking draw from) as base64 text, the form Python's {@code torch.get_rng_state()}
 * returns as bytes.
 */
public final class CpuRng {
  private CpuRng() {}

  /** The generator's state now. */
  public static String state() {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = torch.getDefaultCPUGenerator().get_state().contiguous();
      byte[] bytes = new byte[(int) t.numel()];
      new BytePointer(t.data_ptr()).capacity(bytes.length).get(bytes);
      return Base64.getEncoder().encodeToString(bytes);
    }
  }

  /** Puts the generator back into a state {@link #state} returned. */
  public static void restore(String base64) {
    byte[] bytes;
    try {
      bytes = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new UserError("RNG state is not base64: " + e.getMessage());
    }
    try (PointerScope scope = new PointerScope()) {
      // cpu-only: the CPU generator's state is a CPU byte tensor.
      Tensor t = torch.zeros(new long[] {bytes.length}, new TensorOptions(Byte));
      new BytePointer(t.data_ptr()).capacity(bytes.length).put(bytes);
      torch.getDefaultCPUGenerator().set_state(t);
    } catch (RuntimeException e) {
      if (e instanceof UserError) {
        throw e;
      }
      throw new UserError(
          "RNG state of "
              + bytes.length
              + " bytes is not a CPU generator state: "
              + e.getMessage());
    }
  }
}
