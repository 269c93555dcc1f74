package org.omnibiote.collective;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.train.TrainStep;

/**
 * A training step's gradient sum over the ranks of a world of several: the step's masked-token
 * count summed first (one small all-reduce), then the gradients, either through the c10d Reducer
 * during the last micro-batch's backward (overlapped, DDP's way) or, when the model recomputes
 * activations in backward (checkpoint_freq &gt; 0, which the Reducer cannot serve: see {@link
 * GradientReducer}), by one all-reduce of all gradients after the last backward.
 *
 * <p>The int64 scalar of the small collective belongs to the world: a collective that timed out may
 * still hold its address, so whoever abandons a failed world keeps it allocated.
 */
public final class WorldSync implements TrainStep.Sync {
  private final CollectiveGroup group;
  private final GradientReducer reducer;
  private final OmniBioTA model;
  // cpu-only: the step's token count is summed by Gloo, the group's backend for CPU tensors.
  private final Tensor scalar = Tensor.create(new long[] {0}, 1);

  /** Time spent waiting on collectives since the last {@link #takeCommSeconds}. */
  private long commNanos;

  private WorldSync(CollectiveGroup group, GradientReducer reducer, OmniBioTA model) {
    this.group = group;
    this.reducer = reducer;
    this.model = model;
  }

  /** Gradients averaged by {@code reducer} during the last backward. */
  public static WorldSync overlapped(CollectiveGroup group, GradientReducer reducer) {
    return new WorldSync(group, reducer, null);
  }

  /** Gradients of {@code model} summed after the last backward. */
  public static WorldSync afterBackward(CollectiveGroup group, OmniBioTA model) {
    return new WorldSync(group, null, model);
  }

  /** The buffer a failed collective may still write into (keep it allocated). */
  public Tensor scalar() {
    return scalar;
  }

  /**
   * Seconds this rank waited on collectives since the last call: the communication a step did not
   * hide behind its backward (the reducer's buckets overlap it; what is left is waited for here).
   */
  public double takeCommSeconds() {
    double s = commNanos / 1e9;
    commNanos = 0;
    return s;
  }

  @Override
  public long sumOverRanks(long local) {
    long t0 = System.nanoTime();
    try (PointerScope scope = new PointerScope()) {
      scalar.fill_(new Scalar(local));
      group.allReduceSum(scalar);
      return scalar.item_long();
    } finally {
      commNanos += System.nanoTime() - t0;
    }
  }

  @Override
  public double lossScale() {
    return reducer != null ? reducer.lossScale() : 1.0;
  }

  @Override
  public void beforeLastBackward(Tensor loss) {
    if (reducer != null) {
      reducer.syncNext(loss); // no all-reduce on the earlier micro-batches (DDP's no_sync)
    }
  }

  @Override
  public void afterBackward() {
    long t0 = System.nanoTime();
    try {
      reduce();
    } finally {
      commNanos += System.nanoTime() - t0;
    }
  }

  private void reduce() {
    if (reducer != null) {
      reducer.awaitReduction(); // on CUDA: a failed reduction throws here, before the update
      return;
    }
    try (PointerScope scope = new PointerScope()) {
      List<Tensor> grads = new ArrayList<>();
      for (Tensor p : model.parameters().get()) {
        grads.add(p.grad());
      }
      TensorVector flat = new TensorVector();
      for (Tensor g : grads) {
        flat.push_back(g.reshape(-1));
      }
      Tensor all = torch.cat(flat);
      group.allReduceSum(all);
      long at = 0;
      for (Tensor g : grads) {
        long n = g.numel();
        g.copy_(all.narrow(0, at, n).view_as(g));
        at += n;
      }
    }
  }
}
