package org.omnibiote.train;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.data.TrainingData;
import org.omnibiote.model.OmniBioTA;

/**
 * One model replica on one device with its optimiser and its view of the data: it runs the
 * steps it is told to run (which samples, at which lr) and evaluates. It decides nothing about
 * the schedule; {@link RunPlan} does. Not thread-safe: one thread drives it (libtorch modules
 * are not thread-safe).
 */
public final class Replica {
  private final OmniBioTA model;
  private final MuAdamW optimizer;
  private final TrainingData data;
  private final Device device;
  private final Accumulation.LossNorm lossNorm;
  private final Precision precision;
  private final int miniBatch;

  /** What a step did: its loss and what it saw. */
  public record StepResult(double loss, long maskedTokens, long nonPadTokens, double seconds) {}

  public Replica(
      OmniBioTA model,
      MuAdamW optimizer,
      TrainingData data,
      Device device,
      Accumulation.LossNorm lossNorm,
      Precision precision,
      int miniBatch) {
    this.model = model;
    this.optimizer = optimizer;
    this.data = data;
    this.device = device;
    this.lossNorm = lossNorm;
    this.precision = precision;
    this.miniBatch = miniBatch;
  }

  public OmniBioTA model() {
    return model;
  }

  public MuAdamW optimizer() {
    return optimizer;
  }

  /**
   * One optimiser step over global samples [firstSample, firstSample + rows): accumulation
   * over micro-batches of mini_batch_size rows, clip to 1.0, AdamW at peak * lrFactor.
   */
  public StepResult step(long firstSample, int rows, double lrFactor) {
    long start = System.nanoTime();
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> micro = new ArrayList<>();
      long masked = 0;
      long nonPad = 0;
      for (int r = 0; r < rows; r += miniBatch) {
        MaskedLm.Batch b = data.batch(firstSample + r, Math.min(miniBatch, rows - r));
        masked += b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
        nonPad += b.inputs().ne(new Scalar(OmniBioTA.PAD)).sum().item_long();
        micro.add(onDevice(b));
      }
      model.train(true);
      optimizer.setLrFactor(lrFactor);
      double loss = TrainStep.run(model, optimizer, micro, lossNorm, precision, true);
      return new StepResult(loss, masked, nonPad, (System.nanoTime() - start) / 1e9);
    }
  }

  /** Masked-LM loss on the fixed val batch (mini_batch_size rows) of each dataset trained on. */
  public Map<String, Double> evaluate() {
    Map<String, Double> losses = new LinkedHashMap<>();
    model.eval();
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (String set : data.valSets()) {
        try (PointerScope scope = new PointerScope();
            Precision.Autocast autocast = precision.autocast(device.type())) {
          MaskedLm.Batch b = onDevice(data.valBatch(set, miniBatch));
          Tensor sum = Accumulation.maskedLossSum(model, b, Accumulation.Readout.MASKED, true);
          long masked = b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
          losses.put(set, sum.to(Float).item_double() / Math.max(masked, 1));
        }
      }
    } finally {
      model.train(true);
    }
    return losses;
  }

  private MaskedLm.Batch onDevice(MaskedLm.Batch b) {
    return onDevice(b, device);
  }

  /** The batch's tensors on {@code device} (the batch itself on the CPU). */
  static MaskedLm.Batch onDevice(MaskedLm.Batch b, Device device) {
    if (device.is_cpu()) {
      return b;
    }
    return new MaskedLm.Batch(b.inputs().to(device, torch.ScalarType.Long), b.targets().to(device, torch.ScalarType.Long));
  }
}
