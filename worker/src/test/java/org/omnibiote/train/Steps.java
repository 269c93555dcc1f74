package org.omnibiote.train;

import java.util.List;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.Precision;

/**
 * Tests' short forms of {@link TrainStep} in a world of one (every micro-batch of the step here).
 */
public final class Steps {
  private Steps() {}

  public static double accumulate(
      OmniBioTA model, List<MaskedLm.Batch> micro, LossNorm norm, boolean blockDiagonal) {
    return accumulate(model, micro, norm, TrainStep.Readout.MASKED, blockDiagonal, Precision.FP32);
  }

  public static double accumulate(
      OmniBioTA model,
      List<MaskedLm.Batch> micro,
      LossNorm norm,
      TrainStep.Readout readout,
      boolean blockDiagonal) {
    return accumulate(model, micro, norm, readout, blockDiagonal, Precision.FP32);
  }

  public static double accumulate(
      OmniBioTA model,
      List<MaskedLm.Batch> micro,
      LossNorm norm,
      TrainStep.Readout readout,
      boolean blockDiagonal,
      Precision precision) {
    return TrainStep.accumulate(
            model,
            micro,
            micro.size(),
            new TrainStep.Options(norm, readout, precision, blockDiagonal),
            TrainStep.ALONE)
        .loss();
  }

  /** A step at the lr factor the optimiser has (tests set it from a Schedule). */
  public static double run(
      OmniBioTA model,
      MuAdamW optimizer,
      List<MaskedLm.Batch> micro,
      LossNorm norm,
      boolean blockDiagonal) {
    return TrainStep.run(
            model,
            optimizer,
            micro,
            optimizer.lrFactor(),
            new TrainStep.Options(norm, TrainStep.Readout.MASKED, Precision.FP32, blockDiagonal))
        .loss();
  }
}
