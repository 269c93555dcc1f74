package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.Precision;

/**
 * The arithmetic under data-parallel training, on the production step ({@link TrainStep}): ranks
 * that each run their share of a step, with the step's masked count summed over the ranks, hold
 * gradients whose sum (what the all-reduce computes) is the gradient of the whole step in one
 * process, for both loss normalisations; the sync is armed on the last micro-batch only.
 */
class ShareAccumulationTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(96, 32, 2, 2, 24, 0.0);

  private static OmniBioTA fresh() {
    torch.manual_seed(3);
    OmniBioTA model = new OmniBioTA(CONFIG);
    model.train(true);
    return model;
  }

  /** A rank of a two-rank world whose sums are known in advance; it records when it is armed. */
  private static TrainStep.Sync rank(long stepMasked, List<String> calls) {
    return new TrainStep.Sync() {
      @Override
      public long sumOverRanks(long local) {
        return stepMasked;
      }

      @Override
      public double lossScale() {
        return 1; // gradients summed, as the all-reduce after backward does
      }

      @Override
      public void beforeLastBackward(Tensor loss) {
        calls.add("armed");
      }

      @Override
      public void afterBackward() {
        calls.add("done");
      }
    };
  }

  @ParameterizedTest
  @EnumSource(LossNorm.class)
  void theSumOfTheSharesGradientsIsTheWholeStepsGradient(LossNorm norm) {
    try (PointerScope scope = new PointerScope()) {
      torch.manual_seed(9);
      List<MaskedLm.Batch> micro = new ArrayList<>();
      long stepMasked = 0;
      for (int i = 0; i < 4; i++) {
        Tensor ids = torch.randint(4, 96, new long[] {2, 24});
        ids.select(1, 10).fill_(new Scalar(OmniBioTA.EOS));
        MaskedLm.Batch b = MaskedLm.mask(ids, 0.15 + 0.1 * i); // unequal masked counts
        micro.add(b);
        stepMasked += TrainStep.maskedCount(b);
      }
      TrainStep.Options o =
          new TrainStep.Options(norm, TrainStep.Readout.MASKED, Precision.FP32, true);
      OmniBioTA whole = fresh();
      double loss = TrainStep.accumulate(whole, micro, 4, o, TrainStep.ALONE).loss();

      OmniBioTA first = fresh();
      OmniBioTA second = fresh();
      List<String> calls = new ArrayList<>();
      double a =
          TrainStep.accumulate(first, micro.subList(0, 3), 4, o, rank(stepMasked, calls)).loss();
      double b =
          TrainStep.accumulate(
                  second, micro.subList(3, 4), 4, o, rank(stepMasked, new ArrayList<>()))
              .loss();
      assertEquals(List.of("armed", "done"), calls, "armed once, before the last backward");
      assertEquals(loss, a + b, 1e-6 * Math.abs(loss));

      Map<String, Tensor> w = whole.stateDict();
      Map<String, Tensor> f = first.stateDict();
      Map<String, Tensor> s = second.stateDict();
      for (String name : w.keySet()) {
        Tensor expected = w.get(name).grad();
        Tensor sum = f.get(name).grad().add(s.get(name).grad());
        double err = sum.sub(expected).abs().max().item_double();
        double scale = expected.abs().max().item_double();
        assertTrue(err <= 1e-5 * Math.max(scale, 1e-12), name + ": " + err + " of " + scale);
      }
    }
  }

  @Test
  void aScaledLossFailsTheComparison() {
    // The comparison above can fail: a share whose loss is off by a constant factor (the
    // world size applied twice, say) gives gradients that no longer add up.
    try (PointerScope scope = new PointerScope()) {
      torch.manual_seed(9);
      List<MaskedLm.Batch> micro = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        Tensor ids = torch.randint(4, 96, new long[] {2, 24});
        micro.add(MaskedLm.mask(ids, 0.3));
      }
      long stepMasked = TrainStep.maskedCount(micro.get(0)) + TrainStep.maskedCount(micro.get(1));
      TrainStep.Options o = TrainStep.Options.DEFAULT;
      OmniBioTA whole = fresh();
      TrainStep.accumulate(whole, micro, 2, o, TrainStep.ALONE);
      OmniBioTA first = fresh();
      TrainStep.Sync doubled =
          new TrainStep.Sync() {
            @Override
            public long sumOverRanks(long local) {
              return stepMasked;
            }

            @Override
            public double lossScale() {
              return 2;
            }

            @Override
            public void beforeLastBackward(Tensor loss) {}

            @Override
            public void afterBackward() {}
          };
      TrainStep.accumulate(first, micro.subList(0, 1), 2, o, doubled);
      OmniBioTA second = fresh();
      TrainStep.accumulate(second, micro.subList(1, 2), 2, o, doubled);
      Tensor expected = whole.stateDict().get("lm_head.weight").grad();
      Tensor sum =
          first
              .stateDict()
              .get("lm_head.weight")
              .grad()
              .add(second.stateDict().get("lm_head.weight").grad());
      double err = sum.sub(expected).abs().max().item_double();
      assertTrue(
          err > 0.5 * expected.abs().max().item_double(), "a doubled loss must show: " + err);
    }
  }
}
