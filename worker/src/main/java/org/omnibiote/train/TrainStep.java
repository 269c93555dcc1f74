package org.omnibiote.train;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.Precision;

/**
 * The training step, the one every worker, the benchmarks and the tests run: this rank's
 * micro-batches of one global step, each loss divided so that the ranks' gradients add up to the
 * gradient of the step's loss ({@link LossNorm}), gradients summed over the ranks by a {@link Sync}
 * (armed on the last micro-batch only, as DDP's no_sync), then the global grad-norm clip to 1.0 and
 * µP AdamW.
 *
 * <p>Loss of rank r's micro-batch i: {@code CE_i * scale / d_i}, with {@code CE_i} the summed
 * cross-entropy over its masked tokens, {@code d_i} the step's masked-token count over every rank
 * ({@link LossNorm#GLOBAL}) or {@code masked_i * M} with M the step's micro-batches over every rank
 * ({@link LossNorm#ORIGINAL}), and {@code scale} what the sync needs (the world size when it
 * averages, 1 when it sums or there is one rank). The step's loss is the sum over ranks of {@link
 * Result#loss}.
 */
public final class TrainStep {
  public static final double CLIP_NORM = 1.0;
  private static final long SUM = 2; // at::Reduction::Sum

  private TrainStep() {}

  /** Where the 65,536-way readout is computed; the loss is the same either way. */
  public enum Readout {
    /** Only at the masked positions, the only ones the loss uses (about 15%): the default. */
    MASKED,
    /** At every position, as the original does (for comparisons). */
    ALL
  }

  /** How a step computes: loss normalisation, readout, precision, the attention mask. */
  public record Options(
      LossNorm norm, Readout readout, Precision precision, boolean blockDiagonal) {
    /** What training runs: the given normalisation and precision, masked readout. */
    public static Options of(LossNorm norm, Precision precision) {
      return new Options(norm, Readout.MASKED, precision, true);
    }

    public static final Options DEFAULT = of(LossNorm.GLOBAL, Precision.FP32);
  }

  /**
   * How this rank's gradients meet the other ranks' ({@code collective} implements it for a world
   * of several ranks; {@link #ALONE} is a world of one).
   */
  public interface Sync {
    /** The sum over the ranks of {@code local} (the step's masked tokens). */
    long sumOverRanks(long local);

    /** The factor every loss is multiplied by: the world size when the sync averages. */
    double lossScale();

    /** Told before the backward of this rank's last micro-batch, with its loss. */
    void beforeLastBackward(Tensor loss);

    /** Told when every backward of the step is done, before the clip. */
    void afterBackward();

    /** Whether a rank without micro-batches must still take part (with zero gradients). */
    default boolean needsEveryRank() {
      return true;
    }
  }

  /** A world of one: nothing to sum. */
  public static final Sync ALONE =
      new Sync() {
        @Override
        public long sumOverRanks(long local) {
          return local;
        }

        @Override
        public double lossScale() {
          return 1;
        }

        @Override
        public void beforeLastBackward(Tensor loss) {}

        @Override
        public void afterBackward() {}

        @Override
        public boolean needsEveryRank() {
          return false;
        }
      };

  /**
   * What this rank's share of the step did.
   *
   * @param loss this rank's part of the step's loss (the parts add up to it)
   * @param masked this rank's masked tokens
   * @param stepMasked the step's masked tokens over every rank
   * @param gradNorm the global gradient norm before the clip (the same on every rank once the
   *     gradients are summed; NaN from {@link #accumulate}, which does not clip)
   */
  public record Result(double loss, long masked, long stepMasked, double gradNorm) {}

  /**
   * The whole step on this rank: zero the gradients, {@link #accumulate}, clip the global grad norm
   * to 1.0, AdamW at peak lr * {@code lrFactor}.
   */
  public static Result run(
      OmniBioTA model,
      MuAdamW optimizer,
      List<MaskedLm.Batch> microBatches,
      int stepMicroBatches,
      double lrFactor,
      Options o,
      Sync sync) {
    optimizer.zeroGrad();
    model.train(true);
    optimizer.setLrFactor(lrFactor);
    Result r = accumulate(model, microBatches, stepMicroBatches, o, sync);
    double norm;
    try (PointerScope scope = new PointerScope()) {
      norm = torch.clip_grad_norm_(model.parameters(), CLIP_NORM);
    }
    optimizer.step();
    return new Result(r.loss(), r.masked(), r.stepMasked(), norm);
  }

  /** {@link #run} in a world of one, every micro-batch of the step here. */
  public static Result run(
      OmniBioTA model,
      MuAdamW optimizer,
      List<MaskedLm.Batch> microBatches,
      double lrFactor,
      Options o) {
    return run(model, optimizer, microBatches, microBatches.size(), lrFactor, o, ALONE);
  }

  /**
   * Forward and backward over this rank's micro-batches, adding into the parameters' gradients
   * (each micro-batch's graph freed before the next starts), the sync armed on the last.
   */
  public static Result accumulate(
      OmniBioTA model,
      List<MaskedLm.Batch> microBatches,
      int stepMicroBatches,
      Options o,
      Sync sync) {
    List<Long> masked = new ArrayList<>(microBatches.size());
    long local = 0;
    for (MaskedLm.Batch b : microBatches) {
      long m = maskedCount(b);
      masked.add(m);
      local += m;
    }
    long stepMasked = sync.sumOverRanks(local);
    double scale = sync.lossScale();
    if (microBatches.isEmpty() && sync.needsEveryRank()) {
      // Nothing to train here this step, but the ranks' gradient sums need this rank's zeros.
      try (PointerScope scope = new PointerScope()) {
        Tensor zero = null;
        for (Tensor p : model.parameters().get()) {
          Tensor none = p.sum().mul(new Scalar(0.0));
          zero = zero == null ? none : zero.add(none);
        }
        sync.beforeLastBackward(zero);
        zero.backward();
      }
    }
    DeviceType device = o.precision() == Precision.FP32 ? DeviceType.CPU : deviceOf(model);
    double total = 0;
    for (int i = 0; i < microBatches.size(); i++) {
      try (PointerScope scope = new PointerScope()) {
        Tensor sum;
        try (Autocast cast = Autocast.open(o.precision(), device)) {
          sum = maskedLossSum(model, microBatches.get(i), o.readout(), o.blockDiagonal());
        }
        double divisor =
            o.norm() == LossNorm.GLOBAL
                ? Math.max(stepMasked, 1)
                : Math.max(masked.get(i), 1) * (double) stepMicroBatches;
        Tensor loss = sum.div(new Scalar(divisor / scale));
        if (i == microBatches.size() - 1) {
          sync.beforeLastBackward(loss);
        }
        loss.backward();
        model.finishBackward(); // the checkpointed blocks' share, if checkpoint_freq > 0
        total += sum.item_double() / divisor;
      }
    }
    sync.afterBackward();
    return new Result(total, local, stepMasked, Double.NaN);
  }

  /**
   * The summed cross-entropy over the masked positions of one micro-batch (float32 whatever the
   * precision), with the readout computed where {@code readout} says.
   */
  public static Tensor maskedLossSum(
      OmniBioTA model, MaskedLm.Batch b, Readout readout, boolean blockDiagonal) {
    return lossSum(model, model.hidden(b.inputs(), blockDiagonal), b.targets(), readout);
  }

  /**
   * {@link #maskedLossSum}'s loss from the final hidden states [B, T, N] and the targets [B, T]:
   * the model's readout where {@code readout} says, then the summed cross-entropy.
   */
  public static Tensor lossSum(OmniBioTA model, Tensor hidden, Tensor allTargets, Readout readout) {
    Tensor flat = hidden.reshape(-1, hidden.size(-1));
    Tensor targets = allTargets.reshape(-1);
    if (readout == Readout.MASKED) {
      Tensor at = targets.ne(new Scalar(MaskedLm.IGNORE)).nonzero().squeeze(1);
      flat = flat.index_select(0, at);
      targets = targets.index_select(0, at);
    }
    // Softmax and loss in float32 whatever the precision (bf16 logits lose the small
    // differences the loss is made of); a no-op in fp32.
    return torch.cross_entropy_loss(
        model.logits(flat).to(ScalarType.Float),
        targets,
        new TensorOptional(),
        SUM,
        MaskedLm.IGNORE,
        0.0);
  }

  /** Masked positions of a micro-batch (the loss's token count). */
  public static long maskedCount(MaskedLm.Batch b) {
    try (PointerScope scope = new PointerScope()) {
      return b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
    }
  }

  private static DeviceType deviceOf(OmniBioTA model) {
    return model.parameters().get(0).device().type().intern();
  }
}
