package org.omnibiote.train;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.model.OmniBioTA;

/** One optimiser step: accumulate over micro-batches, clip the global grad norm to 1, AdamW. */
public final class TrainStep {
  public static final double CLIP_NORM = 1.0;

  private TrainStep() {}

  /** Returns the step's loss (see {@link Accumulation.LossNorm}). */
  public static double run(
      OmniBioTA model,
      MuAdamW optimizer,
      List<MaskedLm.Batch> microBatches,
      Accumulation.LossNorm norm,
      boolean blockDiagonal) {
    return run(model, optimizer, microBatches, norm, Precision.FP32, blockDiagonal);
  }

  /** As above, forward and loss under {@code precision} (fp32 master weights either way). */
  public static double run(
      OmniBioTA model,
      MuAdamW optimizer,
      List<MaskedLm.Batch> microBatches,
      Accumulation.LossNorm norm,
      Precision precision,
      boolean blockDiagonal) {
    optimizer.zeroGrad();
    double loss = Accumulation.accumulate(
        model, microBatches, norm, Accumulation.Readout.MASKED, blockDiagonal, precision);
    try (PointerScope scope = new PointerScope()) {
      torch.clip_grad_norm_(model.parameters(), CLIP_NORM);
    }
    optimizer.step();
    return loss;
  }
}
