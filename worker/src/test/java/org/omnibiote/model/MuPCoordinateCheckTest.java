package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MuAdamW;

/**
 * The coordinate check of the µP paper: train models of widths 64..512 for a few AdamW steps on the
 * same masked-LM data and measure each layer's mean |activation|. Under µP the log-log slope
 * against the width stays within ±0.1 for every layer; under the standard parameterisation (one lr
 * for all, default readout init, no 24/N readout multiplier) some layer's slope exceeds 0.3
 * (measured here: about 2 for the attention and MLP outputs).
 *
 * <p>The logits are measured at the masked positions, the only ones the readout serves in training.
 * At the other positions they are still dominated by the original's non-zero readout init, whose
 * contribution shrinks as N^-1/2 by design (slope about -0.25 after these 4 steps); the learned
 * part, which µP keeps width-independent, dominates only where the loss trains the readout. Tokens
 * come from a 40-token subset of the vocabulary so that a few steps learn something consistent.
 */
class MuPCoordinateCheckTest {
  private static final int[] WIDTHS = {64, 128, 256, 512};
  private static final int VOCAB = 1024;
  private static final int STEPS = 4;
  private static final double LR = 1e-2;

  @Test
  void activationsStayWidthIndependentUnderMuPButNotUnderStandardParameterisation() {
    Map<String, Double> mup = slopes(true);
    Map<String, Double> sp = slopes(false);
    mup.forEach(
        (layer, slope) ->
            assertTrue(Math.abs(slope) <= 0.1, "µP slope of " + layer + " in " + mup));
    assertTrue(
        sp.values().stream().anyMatch(s -> s > 0.3), "standard parameterisation slopes " + sp);
  }

  /** Least-squares slope of log mean|activation| against log width, per layer. */
  private static Map<String, Double> slopes(boolean mup) {
    Map<String, double[]> logs = new LinkedHashMap<>();
    for (int w = 0; w < WIDTHS.length; w++) {
      Map<String, Double> coords = coordinates(WIDTHS[w], mup);
      for (Map.Entry<String, Double> e : coords.entrySet()) {
        logs.computeIfAbsent(e.getKey(), k -> new double[WIDTHS.length])[w] =
            Math.log(e.getValue());
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    logs.forEach((layer, y) -> out.put(layer, slope(y)));
    return out;
  }

  private static double slope(double[] y) {
    double mx = 0, my = 0;
    for (int i = 0; i < y.length; i++) {
      mx += Math.log(WIDTHS[i]) / y.length;
      my += y[i] / y.length;
    }
    double num = 0, den = 0;
    for (int i = 0; i < y.length; i++) {
      double dx = Math.log(WIDTHS[i]) - mx;
      num += dx * (y[i] - my);
      den += dx * dx;
    }
    return num / den;
  }

  /** Mean |activation| per layer in the forward pass after STEPS training steps. */
  private static Map<String, Double> coordinates(int width, boolean mup) {
    torch.manual_seed(1234);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(VOCAB, width, 2, 4, 64, 0.0));
    if (!mup) {
      try (NoGradGuard g = new NoGradGuard()) { // back to PyTorch's default readout init
        model
            .stateDict()
            .get("lm_head.weight")
            .mul_(new Scalar(Math.sqrt(OmniBioTA.BASE_WIDTH / width)));
      }
    }
    MuAdamW optimizer = new MuAdamW(model, new MuAdamW.Settings(LR, 0.9, 0.999, 1e-8, 0.0), !mup);
    Map<String, Double> coords = new LinkedHashMap<>();
    torch.manual_seed(99); // the same data for every width
    for (int step = 0; step <= STEPS; step++) {
      try (PointerScope scope = new PointerScope()) {
        Tensor ids =
            torch.randint(20, 60, new long[] {8, 64}, new TensorOptions(torch.ScalarType.Long));
        MaskedLm.Batch batch = MaskedLm.mask(ids, 0.15);
        boolean last = step == STEPS;
        Tensor hidden =
            model.hidden(
                batch.inputs(), false, last ? (layer, a) -> coords.put(layer, meanAbs(a)) : null);
        Tensor logits =
            mup ? model.logits(hidden) : hidden.matmul(model.stateDict().get("lm_head.weight").t());
        if (last) {
          // The readout only ever serves the loss, at masked positions: measure it there.
          Tensor masked =
              batch
                  .targets()
                  .ne(new Scalar(MaskedLm.IGNORE))
                  .unsqueeze(-1)
                  .to(logits.scalar_type());
          coords.put(
              "lm_head",
              (double) logits.detach().abs().mul(masked).sum().item_float()
                  / (masked.sum().item_float() * VOCAB));
          break;
        }
        optimizer.zeroGrad();
        MaskedLm.loss(logits, batch.targets()).backward();
        optimizer.step();
      }
    }
    return coords;
  }

  private static double meanAbs(Tensor a) {
    return a.detach().abs().mean().item_float();
  }
}
