package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.schedule.Schedule;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.OmniBioTAConfig;

class AccumulationTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(64, 32, 2, 4, 16, 0.0);

  @Test
  void globalNormGivesTheLossAndGradientsOfOneBigBatch() {
    torch.manual_seed(8);
    OmniBioTA model = new OmniBioTA(CONFIG);
    try (PointerScope scope = new PointerScope()) {
      MaskedLm.Batch all = batch(4);
      List<MaskedLm.Batch> split = split(all);
      double big = Steps.accumulate(model, List.of(all), LossNorm.GLOBAL, true);
      List<Tensor> bigGrads = grads(model);
      model.zero_grad(true);
      double accumulated = Steps.accumulate(model, split, LossNorm.GLOBAL, true);
      List<Tensor> accGrads = grads(model);
      assertEquals(big, accumulated, 1e-5 * big);
      assertGradsClose(bigGrads, accGrads);
    }
  }

  private static void assertGradsClose(List<Tensor> expected, List<Tensor> actual) {
    for (int i = 0; i < expected.size(); i++) {
      double diff = expected.get(i).sub(actual.get(i)).abs().max().item_float();
      double scale = expected.get(i).abs().max().item_float();
      assertTrue(
          diff <= 1e-5 * scale, "gradient " + i + " differs by " + diff + " (scale " + scale + ")");
    }
  }

  @Test
  void readoutAtMaskedPositionsOnlyGivesTheLossAndGradientsOfTheFullReadout() {
    torch.manual_seed(12);
    OmniBioTA model = new OmniBioTA(CONFIG);
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> split = split(batch(4));
      double full = Steps.accumulate(model, split, LossNorm.GLOBAL, TrainStep.Readout.ALL, true);
      List<Tensor> fullGrads = grads(model);
      model.zero_grad(true);
      double masked =
          Steps.accumulate(model, split, LossNorm.GLOBAL, TrainStep.Readout.MASKED, true);
      assertEquals(full, masked, 1e-5 * full);
      assertGradsClose(fullGrads, grads(model));
    }
  }

  @Test
  void originalNormAveragesTheMicroBatchMeans() {
    torch.manual_seed(9);
    OmniBioTA model = new OmniBioTA(CONFIG);
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> split = split(batch(4));
      double first = Steps.accumulate(model, split.subList(0, 1), LossNorm.GLOBAL, true);
      double second = Steps.accumulate(model, split.subList(1, 2), LossNorm.GLOBAL, true);
      double original = Steps.accumulate(model, split, LossNorm.ORIGINAL, true);
      double global = Steps.accumulate(model, split, LossNorm.GLOBAL, true);
      assertEquals((first + second) / 2, original, 1e-5);
      // Unequal masked counts make the two definitions differ.
      long m0 = masked(split.get(0));
      long m1 = masked(split.get(1));
      assertTrue(m0 != m1, "fixture needs unequal masked counts");
      assertEquals((first * m0 + second * m1) / (m0 + m1), global, 1e-5);
    }
  }

  /** Accumulation completes each micro-batch's checkpointed backward (finishBackward). */
  @Test
  void checkpointedMicroBatchesGiveTheSameGradients() {
    OmniBioTAConfig withDropout = new OmniBioTAConfig(64, 32, 3, 4, 16, 0.1);
    torch.manual_seed(13);
    OmniBioTA plain = new OmniBioTA(withDropout);
    OmniBioTA checkpointed = new OmniBioTA(withDropout);
    checkpointed.setCheckpointFreq(1);
    try (PointerScope scope = new PointerScope()) {
      checkpointed.loadStateDict(plain.stateDict());
      MaskedLm.Batch b = batch(4);
      torch.manual_seed(14);
      Steps.accumulate(plain, split(b), LossNorm.GLOBAL, true);
      torch.manual_seed(14);
      Steps.accumulate(checkpointed, split(b), LossNorm.GLOBAL, true);
      List<Tensor> want = grads(plain);
      List<Tensor> got = grads(checkpointed);
      for (int i = 0; i < want.size(); i++) {
        assertTrue(torch.equal(want.get(i), got.get(i)), "gradient " + i);
      }
    }
  }

  /** The whole step (accumulate, clip, AdamW, schedule) learns: here, to memorise a batch. */
  @Test
  void aFewStepsOnOneBatchLowerTheLoss() {
    torch.manual_seed(10);
    OmniBioTA model = new OmniBioTA(CONFIG);
    Schedule schedule = new Schedule(0.3, 4, 20); // peak lr 0.3 * sqrt(4) / 32 ≈ 0.019
    MuAdamW optimizer =
        new MuAdamW(model, new MuAdamW.Settings(schedule.peakLr(), 0.9, 0.999, 1e-8, 0.01), false);
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> micro = split(batch(4));
      double firstLoss = 0;
      double loss = 0;
      for (int step = 0; step < 10; step++) {
        optimizer.setLrFactor(schedule.factor(step));
        loss = Steps.run(model, optimizer, micro, LossNorm.GLOBAL, true);
        if (step == 0) {
          firstLoss = loss;
        }
      }
      assertTrue(loss < 0.7 * firstLoss, "loss went from " + firstLoss + " to " + loss);
    }
  }

  /** Rows of short packed documents over 40 tokens; masked once, so splits share the masking. */
  private static MaskedLm.Batch batch(int rows) {
    Tensor ids =
        torch.randint(20, 60, new long[] {rows, 16}, new TensorOptions(torch.ScalarType.Long));
    ids.select(1, 7).fill_(new Scalar(OmniBioTA.EOS));
    ids.select(1, 15).fill_(new Scalar(OmniBioTA.EOS));
    return MaskedLm.mask(ids, 0.3);
  }

  private static List<MaskedLm.Batch> split(MaskedLm.Batch b) {
    long half = b.inputs().size(0) / 2;
    return List.of(
        new MaskedLm.Batch(b.inputs().narrow(0, 0, half), b.targets().narrow(0, 0, half)),
        new MaskedLm.Batch(b.inputs().narrow(0, half, half), b.targets().narrow(0, half, half)));
  }

  private static long masked(MaskedLm.Batch b) {
    return b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
  }

  private static List<Tensor> grads(OmniBioTA model) {
    List<Tensor> out = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : model.stateDict().entrySet()) {
      out.add(e.getValue().grad().clone());
    }
    return out;
  }
}
