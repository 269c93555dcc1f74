package org.omnibiote.collective;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.BoolVector;
import org.bytedeco.pytorch.Reducer;
import org.bytedeco.pytorch.SizeTStringMap;
import org.bytedeco.pytorch.SizeTVector;
import org.bytedeco.pytorch.SizeTVectorVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.omnibiote.model.OmniBioTA;

/**
 * Gradient all-reduce of one model's parameters through the c10d {@link Reducer} (the engine of
 * PyTorch's DDP): autograd hooks hand each bucket to Gloo as soon as its gradients are ready, so
 * communication overlaps the rest of backward.
 *
 * <p>Semantics: after a {@link #syncNext(Tensor) synced} backward every rank's gradients are the
 * MEAN over ranks of what each rank accumulated: the Reducer divides by the world size while
 * copying into its buckets (DDP's behaviour; no summing comm hook is bound in these presets, and
 * the built-in ALLREDUCE hook divides as well). Each rank therefore scales its loss by {@link
 * #lossScale()} (the world size): with the loss of rank r written as {@code sum of masked CE on r *
 * size / global masked tokens of the step}, the mean over ranks is exactly the gradient of the
 * global masked-token mean, the one a single process gets with {@code LossNorm.GLOBAL} over all the
 * step's micro-batches.
 *
 * <p>Accumulation (DDP's no_sync): call {@link #syncNext(Tensor)} only before the backward of the
 * LAST micro-batch of a step. Backwards without it add into {@code param.grad} locally and
 * communicate nothing; the synced backward then reduces the accumulated gradients.
 *
 * <p>Gradients are NOT bucket views ({@code gradient_as_bucket_view=false}), so the usual zero-grad
 * of the optimiser works. Activation checkpointing (checkpoint_freq &gt; 0) is refused: the
 * checkpointed blocks' backward runs after the Reducer has finalised. Failures of a peer surface as
 * a RuntimeException from the backward that triggered the reduction (see {@link CollectiveGroup}).
 *
 * <p>Lifetime: one Reducer serves a model across world generations ({@link #moveTo}), as
 * fault-tolerant DDP does. Neither a Reducer nor a group a Reducer has held may be freed (Bytedeco
 * 2.10.0-1.5.13): freeing a Reducer and then its group, or a group whose last reference the Reducer
 * dropped, corrupted the native heap within a few generations in most trials of a 40-generation
 * loop; closing a group only after the Reducer had moved to the next one passed that loop but still
 * crashed a worker in one of three CI-like runs ("corrupted double-linked list" after the singleton
 * moved). Groups no Reducer touched free cleanly. {@link #close()} therefore only takes the hooks
 * off, and callers keep the object and its groups reachable.
 */
public final class GradientReducer implements AutoCloseable {
  /** DDP's default bucket size. */
  public static final long DEFAULT_BUCKET_BYTES = 4L << 20;

  private final Reducer reducer;
  // The Reducer's hooks point into these; keep them reachable as long as it lives.
  private final TensorVector params;
  private CollectiveGroup group;
  private final OmniBioTA model;
  private final List<List<Integer>> buckets;

  public GradientReducer(OmniBioTA model, CollectiveGroup group) {
    this(model, group, DEFAULT_BUCKET_BYTES);
  }

  public GradientReducer(OmniBioTA model, CollectiveGroup group, long bucketBytes) {
    refuseCheckpointing(model);
    this.model = model;
    this.group = group;
    this.params = new TensorVector();
    List<Long> bytes = new ArrayList<>();
    for (Tensor p : model.parameters().get()) {
      params.push_back(p);
      bytes.add(p.numel() * p.element_size());
    }
    this.buckets = buckets(bytes, bucketBytes);
    SizeTVectorVector indices = new SizeTVectorVector();
    for (List<Integer> b : buckets) {
      SizeTVector v = new SizeTVector();
      for (int i : b) {
        v.push_back(i);
      }
      indices.push_back(v);
    }
    BoolVector sparse = new BoolVector();
    for (long i = 0; i < params.size(); i++) {
      sparse.push_back(false);
    }
    this.reducer =
        new Reducer(
            params,
            indices,
            group.processGroup(),
            sparse,
            bucketBytes,
            false, // find_unused_parameters: every parameter gets a gradient each step
            false, // gradient_as_bucket_view: off, so zero_grad and the optimiser stay as they are
            new SizeTStringMap(),
            bucketBytes,
            false,
            false);
  }

  /**
   * Bucket assignment as DDP does it: parameters in reverse order (the order backward produces
   * their gradients), cut into buckets of at least {@code cap} bytes (a parameter never split).
   */
  static List<List<Integer>> buckets(List<Long> paramBytes, long cap) {
    List<List<Integer>> out = new ArrayList<>();
    List<Integer> current = new ArrayList<>();
    long filled = 0;
    for (int i = paramBytes.size() - 1; i >= 0; i--) {
      current.add(i);
      filled += paramBytes.get(i);
      if (filled >= cap) {
        out.add(current);
        current = new ArrayList<>();
        filled = 0;
      }
    }
    if (!current.isEmpty()) {
      out.add(current);
    }
    return out;
  }

  /** The bucket assignment in use (parameter indices in {@code model.parameters()} order). */
  public List<List<Integer>> bucketAssignment() {
    return buckets;
  }

  /**
   * Arms the all-reduce for the next backward: call it after the last micro-batch's forward with
   * its loss (or output), before its backward. Without it, backward stays local.
   */
  public void syncNext(Tensor output) {
    refuseCheckpointing(model);
    // Until rebuild_buckets() runs (DDP calls it from Python, we keep our own assignment) every
    // synced backward appends each parameter to the Reducer's rebuilt_params_: without this
    // reset, that list grows by the parameter count each step for the life of the run. Between
    // steps the reset changes nothing else (the previous reduction has finished).
    reducer.reset_state();
    reducer.prepare_for_forward();
    reducer.prepare_for_backward(new TensorVector(output));
  }

  /**
   * Activation checkpointing runs the backward of the checkpointed blocks as separate autograd
   * passes (OmniBioTA.finishBackward) after the loss's backward has ended, but the Reducer
   * finalises its reduction at the end of the first pass: their gradients would miss it.
   */
  private static void refuseCheckpointing(OmniBioTA model) {
    if (model.checkpointFreq() > 0) {
      throw new IllegalStateException(
          "gradient all-reduce through the c10d Reducer does not "
              + "support activation checkpointing yet (checkpoint_freq="
              + model.checkpointFreq()
              + "): train distributed with checkpoint_freq 0");
    }
  }

  /**
   * Serves the next world generation: from now on the Reducer all-reduces through {@code next},
   * dividing by its size (its per-step state is reset by every {@link #syncNext}). Call it on every
   * rank of the new world before its first step. The previous group must stay allocated (see the
   * class comment).
   */
  public void moveTo(CollectiveGroup next) {
    reducer.update_process_group(next.processGroup());
    this.group = next;
  }

  /**
   * Returns once the synced backward's bucket all-reduces have finished, or throws within about the
   * collective timeout if they cannot: on CUDA the Reducer waits on NCCL's work without a timeout
   * (the GPU stream waits, not this thread), so a dead peer would surface only as a hang at the
   * next synchronisation, possibly after the optimiser step had used half-reduced gradients; this
   * makes it an exception before the clip. On Gloo a no-op: the reduction had finished, or thrown,
   * when backward returned.
   */
  public void awaitReduction() {
    group.fence(params.get(0));
  }

  /**
   * Drops the bucket buffers of a Reducer that will never run again (about the size of the
   * gradients), back to libtorch's allocator. Only after the NCCL communicators of every group it
   * held were aborted ({@link CollectiveGroup#abortNccl}), when no kernel can write into them any
   * more; never on Gloo, whose threads may still write into a timed-out operation's buffers. The
   * Reducer itself stays allocated (see the class comment): {@code reset_state} ends a backward the
   * failure left half-way, and {@code initialize_buckets} with no bucket (the call DDP's
   * rebuild_buckets makes with a new assignment) empties its bucket list.
   */
  public void releaseBuckets() {
    reducer.reset_state();
    reducer.initialize_buckets(new SizeTVectorVector());
  }

  /** The factor each rank multiplies its loss by before backward (see the class comment). */
  public double lossScale() {
    return group.size();
  }

  public CollectiveGroup group() {
    return group;
  }

  /** Takes the autograd hooks off the parameters; the native Reducer stays allocated. */
  @Override
  public void close() {
    reducer.remove_autograd_hooks();
  }
}
