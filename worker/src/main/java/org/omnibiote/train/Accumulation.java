package org.omnibiote.train;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.omnibiote.model.OmniBioTA;

/**
 * Gradient accumulation over the micro-batches of one optimiser step, with the loss
 * normalisation of {@link LossNorm}.
 */
public final class Accumulation {
  private static final long SUM = 2; // at::Reduction::Sum

  /** How the masked-token losses of the micro-batches are weighed. */
  public enum LossNorm {
    /**
     * The mean over every masked token of the step: the same loss and gradient as one big
     * batch, whatever the split into micro-batches (the default).
     */
    GLOBAL,
    /**
     * The original's: each micro-batch's masked-token mean divided by the number of
     * micro-batches, so a micro-batch with few masked tokens weighs as much as a full one.
     */
    ORIGINAL
  }

  /** Where the 65,536-way readout is computed; the loss is the same either way. */
  public enum Readout {
    /** Only at the masked positions, the only ones the loss uses (about 15%): the default. */
    MASKED,
    /** At every position, as the original does (for comparisons). */
    ALL
  }

  private Accumulation() {}

  /**
   * Runs forward and backward over the micro-batches, adding into the parameters' gradients,
   * and returns the step's loss as {@code norm} defines it. Each micro-batch's graph is freed
   * before the next one starts.
   */
  public static double accumulate(
      OmniBioTA model, List<MaskedLm.Batch> microBatches, LossNorm norm, boolean blockDiagonal) {
    return accumulate(model, microBatches, norm, Readout.MASKED, blockDiagonal);
  }

  public static double accumulate(
      OmniBioTA model,
      List<MaskedLm.Batch> microBatches,
      LossNorm norm,
      Readout readout,
      boolean blockDiagonal) {
    return accumulate(model, microBatches, norm, readout, blockDiagonal, Precision.FP32);
  }

  /**
   * As above, with forward and loss under {@code precision}'s autocast (backward outside it,
   * as with torch.autocast): parameters and their gradients stay float32.
   */
  public static double accumulate(
      OmniBioTA model,
      List<MaskedLm.Batch> microBatches,
      LossNorm norm,
      Readout readout,
      boolean blockDiagonal,
      Precision precision) {
    long masked = 0;
    for (MaskedLm.Batch b : microBatches) {
      masked += maskedCount(b);
    }
    long stepMasked = masked;
    int count = microBatches.size();
    return run(model, microBatches, readout, blockDiagonal, precision, NO_LISTENER,
        b -> norm == LossNorm.GLOBAL
            ? Math.max(stepMasked, 1)
            : Math.max(maskedCount(b), 1) * (double) count);
  }

  /** Told before each micro-batch's backward (a data-parallel worker syncs only the last). */
  @FunctionalInterface
  public interface BackwardListener {
    void beforeBackward(int index, boolean last);
  }

  private static final BackwardListener NO_LISTENER = (index, last) -> {};

  /**
   * One worker's share of a data-parallel step: its micro-batches, each loss divided by the
   * masked-token count of the WHOLE step ({@code stepMasked}, over every worker), so that the
   * sum of the workers' gradients (what the all-reduce computes) equals the gradient of
   * {@link LossNorm#GLOBAL} over the whole step in one process. Returns this share's part of
   * the step's loss (the parts sum to the step's loss).
   */
  public static double accumulateShare(
      OmniBioTA model,
      List<MaskedLm.Batch> microBatches,
      long stepMasked,
      Readout readout,
      boolean blockDiagonal,
      Precision precision,
      BackwardListener listener) {
    return run(model, microBatches, readout, blockDiagonal, precision, listener,
        b -> Math.max(stepMasked, 1));
  }

  private static double run(
      OmniBioTA model,
      List<MaskedLm.Batch> microBatches,
      Readout readout,
      boolean blockDiagonal,
      Precision precision,
      BackwardListener listener,
      java.util.function.ToDoubleFunction<MaskedLm.Batch> divisor) {
    DeviceType device = precision == Precision.FP32 ? DeviceType.CPU : deviceOf(model);
    double total = 0;
    for (int i = 0; i < microBatches.size(); i++) {
      MaskedLm.Batch b = microBatches.get(i);
      try (PointerScope scope = new PointerScope()) {
        Tensor sum;
        try (Precision.Autocast cast = precision.autocast(device)) {
          sum = maskedLossSum(model, b, readout, blockDiagonal);
        }
        Tensor loss = sum.div(new Scalar(divisor.applyAsDouble(b)));
        listener.beforeBackward(i, i == microBatches.size() - 1);
        loss.backward();
        model.finishBackward(); // the checkpointed blocks' share, if checkpoint_freq > 0
        total += loss.item_double();
      }
    }
    return total;
  }

  /**
   * The summed cross-entropy over the masked positions of one micro-batch (float32 whatever
   * the precision), with the readout computed where {@code readout} says.
   */
  public static Tensor maskedLossSum(
      OmniBioTA model, MaskedLm.Batch b, Readout readout, boolean blockDiagonal) {
    Tensor hidden = model.hidden(b.inputs(), blockDiagonal);
    Tensor flat = hidden.reshape(-1, hidden.size(-1));
    Tensor targets = b.targets().reshape(-1);
    if (readout == Readout.MASKED) {
      Tensor at = targets.ne(new Scalar(MaskedLm.IGNORE)).nonzero().squeeze(1);
      flat = flat.index_select(0, at);
      targets = targets.index_select(0, at);
    }
    // Softmax and loss in float32 whatever the precision (bf16 logits lose the small
    // differences the loss is made of); a no-op in fp32.
    return torch.cross_entropy_loss(
        model.logits(flat).to(ScalarType.Float), targets, new TensorOptional(), SUM,
        MaskedLm.IGNORE, 0.0);
  }

  private static DeviceType deviceOf(OmniBioTA model) {
    return model.parameters().get(0).device().type().intern();
  }

  /** Masked positions of a micro-batch (the loss's token count). */
  public static long maskedCount(MaskedLm.Batch b) {
    try (PointerScope scope = new PointerScope()) {
      return b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
    }
  }
}
