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
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.OmniBioTAConfig;

/**
 * The arithmetic under data-parallel training: workers that each accumulate their share of a
 * step, dividing by the step's total masked count, hold gradients whose sum (what the
 * all-reduce computes) is the gradient of the whole step in one process.
 */
class ShareAccumulationTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(96, 32, 2, 2, 24, 0.0);

  private static OmniBioTA fresh() {
    torch.manual_seed(3);
    OmniBioTA model = new OmniBioTA(CONFIG);
    model.train(true);
    return model;
  }

  @Test
  void theSumOfTheSharesGradientsIsTheWholeStepsGradient() {
    try (PointerScope scope = new PointerScope()) {
      torch.manual_seed(9);
      List<MaskedLm.Batch> micro = new ArrayList<>();
      long stepMasked = 0;
      for (int i = 0; i < 4; i++) {
        Tensor ids = torch.randint(4, 96, new long[] {2, 24});
        ids.select(1, 10).fill_(new Scalar(OmniBioTA.EOS));
        MaskedLm.Batch b = MaskedLm.mask(ids, 0.15 + 0.1 * i); // unequal masked counts
        micro.add(b);
        stepMasked += Accumulation.maskedCount(b);
      }
      OmniBioTA whole = fresh();
      double loss = Accumulation.accumulate(whole, micro, Accumulation.LossNorm.GLOBAL, true);

      OmniBioTA first = fresh();
      OmniBioTA second = fresh();
      List<String> calls = new ArrayList<>();
      double a = Accumulation.accumulateShare(first, micro.subList(0, 3), stepMasked,
          Accumulation.Readout.MASKED, true, Precision.FP32, (i, last) -> calls.add(i + ":" + last));
      double b = Accumulation.accumulateShare(second, micro.subList(3, 4), stepMasked,
          Accumulation.Readout.MASKED, true, Precision.FP32, (i, last) -> {});
      assertEquals(List.of("0:false", "1:false", "2:true"), calls, "only the last backward syncs");
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
}
