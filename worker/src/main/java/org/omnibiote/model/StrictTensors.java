package org.omnibiote.model;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.omnibiote.UserError;

/**
 * PyTorch's {@code load_state_dict(strict=True)} for any named tensors (weights, optimiser
 * moments): every name present, none extra, shapes equal, else a UserError saying which.
 */
public final class StrictTensors {
  private StrictTensors() {}

  /** Checks {@code given} against {@code own}; {@code what} names them in messages ("weight"). */
  public static void check(Map<String, Tensor> own, Map<String, Tensor> given, String what) {
    Set<String> missing = new TreeSet<>(own.keySet());
    missing.removeAll(given.keySet());
    Set<String> unexpected = new TreeSet<>(given.keySet());
    unexpected.removeAll(own.keySet());
    if (!missing.isEmpty() || !unexpected.isEmpty()) {
      throw new UserError(
          what + "s do not fit the model: missing " + missing + ", unexpected " + unexpected);
    }
    for (Map.Entry<String, Tensor> e : own.entrySet()) {
      long[] want = e.getValue().shape();
      long[] got = given.get(e.getKey()).shape();
      if (!Arrays.equals(want, got)) {
        throw new UserError(
            what
                + " "
                + e.getKey()
                + " has shape "
                + Arrays.toString(got)
                + ", the model needs "
                + Arrays.toString(want));
      }
    }
  }

  /** {@link #check}, then copies {@code given} into {@code own} (outside autograd). */
  public static void copyInto(Map<String, Tensor> own, Map<String, Tensor> given, String what) {
    check(own, given, what);
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (Map.Entry<String, Tensor> e : own.entrySet()) {
        e.getValue().copy_(given.get(e.getKey()));
      }
    }
  }
}
