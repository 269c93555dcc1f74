package org.omnibiote.model;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AutoGradMode;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.omnibiote.train.Autocast;

/**
 * Activation checkpointing by segment recomputation (the original's {@code checkpoint_freq}).
 * libtorch's C++ API has no {@code torch.utils.checkpoint} and Java cannot define autograd
 * Functions through the presets, so the recomputation is explicit:
 *
 * <ul>
 *   <li>{@link #forward}: segments 0..S-2 run without grad, each in its own PointerScope so its
 *       activations are freed at once; only each segment's output (the next one's input) is kept.
 *       The last segment runs with grad from a leaf copy of its input.
 *   <li>after the caller's {@code loss.backward()} has filled that leaf's gradient, {@link
 *       #finishBackward} walks the segments backwards: recompute segment s with grad from its kept
 *       input, {@code out.backward(grad of out)}, and the gradient of its input leaf becomes the
 *       gradient for segment s-1. Segment 0 starts from the token ids (the embedding and its
 *       dropout belong to it), so it has no input gradient.
 * </ul>
 *
 * <p>Dropout draws the same masks in the recomputation: the default CPU generator's state is saved
 * before each segment's first forward and restored for its recomputation; afterwards the generator
 * is put back where it was when finishBackward was called, so the random stream is the one of a run
 * without checkpointing. Likewise the recomputation runs under the autocast state of the forward
 * (bf16 training), its backward under the caller's. The gradients equal those without checkpointing
 * bit for bit (tested, fp32 and bf16 autocast).
 *
 * <p>Peak memory: the kept segment inputs (S-1 tensors of [B, T, N]) plus the activations of one
 * segment, instead of all L blocks' activations.
 */
final class ActivationCheckpoints {
  /** The blocks of one forward pass, cut into segments. */
  interface Segments {
    int count();

    /**
     * Runs segment s on {@code input} (ignored for s = 0, which starts from the ids); {@code
     * recompute} is true for the second run in finishBackward.
     */
    Tensor run(int s, Tensor input, boolean recompute);
  }

  /** A checkpointed forward waiting for its backward. */
  private static final class Pending {
    final Segments segments;

    /** The forward's autocast state, for the recomputation (as torch.utils.checkpoint). */
    final Autocast autocast;

    /** inputs[s] for s >= 1; inputs[S-1] is the leaf that the caller's backward fills. */
    final Tensor[] inputs;

    /** The CPU generator's state before segment s's first forward, s = 0..S-2. */
    final Tensor[] rngStates;

    /** Tensors kept past their PointerScope by an extra reference, released at the end. */
    final List<Pointer> held = new ArrayList<>();

    Pending(Segments segments, DeviceType device) {
      this.segments = segments;
      this.autocast = Autocast.current(device);
      inputs = new Tensor[segments.count()];
      rngStates = new Tensor[segments.count()];
    }

    /**
     * Keeps {@code p} alive past the PointerScope it belongs to. A pointer in no scope (reference
     * count 0) is freed by the GC once unreachable, and this object reaches it.
     */
    <P extends Pointer> P hold(P p) {
      if (p.referenceCount() > 0) {
        p.retainReference();
        held.add(p);
      }
      return p;
    }

    void release() {
      for (Pointer p : held) {
        p.releaseReference();
      }
      held.clear();
    }
  }

  /** Whether autocast is on for a device type, and its dtype (thread-local in libtorch). */
  private record Autocast(DeviceType device, boolean enabled, ScalarType dtype) {
    static Autocast current(DeviceType device) {
      return new Autocast(
          device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device));
    }

    void apply() {
      torch.set_autocast_enabled(device, enabled);
      torch.set_autocast_dtype(device, dtype);
    }
  }

  private Pending pending;

  /** Whether a checkpointed forward still waits for {@link #finishBackward}. */
  boolean pending() {
    return pending != null;
  }

  /**
   * Runs all segments; returns the last one's output, attached to the autograd graph through the
   * last segment only (call {@link #finishBackward} after backward). {@code inputs} are the tensors
   * the segments read besides their input (ids, mask, tables): they are kept alive until
   * finishBackward, whatever scope they were made in. The autocast state of {@code device} now is
   * the one the recomputation will run under, wherever finishBackward is called (backward usually
   * runs outside autocast).
   */
  Tensor forward(Segments segments, DeviceType device, Tensor... inputs) {
    if (pending != null) {
      throw new IllegalStateException(
          "a checkpointed forward pass is still waiting: call finishBackward() after each "
              + "loss.backward() when checkpoint_freq > 0");
    }
    int count = segments.count();
    Pending p = new Pending(segments, device);
    Generator generator = torch.getDefaultCPUGenerator();
    Tensor x = null;
    try {
      for (Tensor t : inputs) {
        p.hold(t);
      }
      for (int s = 0; s < count - 1; s++) {
        try (PointerScope scope = new PointerScope();
            NoGradGuard noGrad = new NoGradGuard()) {
          p.rngStates[s] = p.hold(generator.get_state());
          x = p.hold(segments.run(s, x, false));
          p.inputs[s + 1] = x;
        }
      }
      Tensor leaf = p.inputs[count - 1];
      leaf.requires_grad_(true);
      Tensor out = segments.run(count - 1, leaf, false);
      pending = p;
      return out;
    } catch (RuntimeException | Error e) {
      p.release();
      throw e;
    }
  }

  /** Back-propagates through segments S-2..0 of the pending forward; no-op if none. */
  void finishBackward() {
    Pending p = pending;
    if (p == null) {
      return;
    }
    pending = null;
    Generator generator = torch.getDefaultCPUGenerator();
    Tensor after = generator.get_state();
    Autocast callers = Autocast.current(p.autocast.device());
    boolean callersCache = torch.is_autocast_cache_enabled();
    try (AutoGradMode grad = new AutoGradMode(true)) {
      int last = p.segments.count() - 1;
      // grad() is a reference into the leaf's autograd data: keep owned handles instead.
      Tensor gradOut = p.hold(new Tensor(p.inputs[last].grad()));
      if (!gradOut.defined()) {
        throw new IllegalStateException(
            "finishBackward(): the loss's backward() has not reached the checkpointed blocks");
      }
      for (int s = last - 1; s >= 0; s--) {
        try (PointerScope scope = new PointerScope()) {
          generator.set_state(p.rngStates[s]);
          Tensor in = s == 0 ? null : p.inputs[s].detach();
          if (in != null) {
            in.requires_grad_(true);
          }
          // The recomputation under the forward's autocast, without the weight-cast cache
          // (nothing would clear it, and the forward after the optimiser step would be served
          // the old weights' copies); its backward under the caller's state, as the rest of
          // the backward ran.
          p.autocast.apply();
          torch.set_autocast_cache_enabled(false);
          Tensor out;
          try {
            out = p.segments.run(s, in, true);
          } finally {
            torch.set_autocast_cache_enabled(callersCache);
            callers.apply();
          }
          out.backward(gradOut, new BoolOptional(), false, new TensorArrayRefOptional());
          if (in != null) {
            gradOut = p.hold(new Tensor(in.grad()));
          }
        }
      }
    } finally {
      generator.set_state(after);
      p.release();
    }
  }
}
