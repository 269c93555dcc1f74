package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.Precision;

class PrecisionTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(256, 64, 2, 4, 32, 0.0);
  private static final int STEPS = 4;

  /**
   * bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 0.2%); through two blocks and a few
   * optimiser steps the masked-LM loss of this tiny model moves by well under 1%.
   */
  private static final double LOSS_TOLERANCE = 0.01;

  @Test
  void theGuardTurnsBf16MatmulsOnAndRestoresTheStateOnClose() {
    try (PointerScope scope = new PointerScope()) {
      Tensor a = torch.randn(8, 8);
      // Whatever earlier code in this JVM chose (Devices turns the CPU flash kernel off).
      boolean flashBefore = torch.globalContext().userEnabledFlashSDP();
      try (Autocast cast = Autocast.open(Precision.BF16, DeviceType.CPU)) {
        assertTrue(torch.is_autocast_enabled(DeviceType.CPU));
        assertFalse(
            torch.globalContext().userEnabledFlashSDP(), "bf16 uses the math attention on CPU");
        assertEquals(ScalarType.BFloat16, torch.mm(a, a).scalar_type().intern());
      }
      assertFalse(torch.is_autocast_enabled(DeviceType.CPU));
      assertEquals(
          flashBefore, torch.globalContext().userEnabledFlashSDP(), "flash setting restored");
      assertEquals(ScalarType.Float, torch.mm(a, a).scalar_type().intern());
      try (Autocast cast = Autocast.open(Precision.FP32, DeviceType.CPU)) {
        assertEquals(ScalarType.Float, torch.mm(a, a).scalar_type().intern());
      }
    }
  }

  @Test
  void theFinalLayerNormOutputStaysFloat32UnderBf16() {
    torch.manual_seed(3);
    OmniBioTA model = new OmniBioTA(CONFIG);
    try (PointerScope scope = new PointerScope()) {
      Tensor ids = torch.randint(20, 256, new long[] {2, 32}, new TensorOptions(ScalarType.Long));
      try (Autocast cast = Autocast.open(Precision.BF16, DeviceType.CPU)) {
        // The residual stream is float32 (embedding + bf16 branch outputs promote to float32),
        // so every LayerNorm runs on float32 input; the readout itself is a bf16 matmul.
        Tensor hidden = model.hidden(ids, true);
        assertEquals(ScalarType.Float, hidden.scalar_type().intern());
        assertEquals(ScalarType.BFloat16, model.logits(hidden).scalar_type().intern());
      }
    }
  }

  @Test
  void bf16StepsKeepFloat32WeightsAndGradientsAndTrackTheFloat32Loss() {
    double[] fp32 = train(Precision.FP32);
    double[] bf16 = train(Precision.BF16);
    for (int i = 0; i < STEPS; i++) {
      assertTrue(Double.isFinite(bf16[i]), "bf16 loss " + bf16[i] + " at step " + i);
      double rel = Math.abs(bf16[i] - fp32[i]) / fp32[i];
      assertTrue(
          rel < LOSS_TOLERANCE,
          "step "
              + i
              + ": bf16 loss "
              + bf16[i]
              + " vs fp32 "
              + fp32[i]
              + " (relative "
              + rel
              + ")");
    }
    // bf16 really ran: its losses are close to fp32's but not the same numbers.
    assertNotEquals(fp32[0], bf16[0]);
  }

  @Test
  void theFlagAcceptsFp32AndBf16Only() {
    assertEquals(Precision.BF16, Precision.parse("bf16"));
    assertEquals(Precision.FP32, Precision.parse("fp32"));
    UserError e = assertThrows(UserError.class, () -> Precision.parse("fp16"));
    assertTrue(e.getMessage().contains("--precision"), e.getMessage());
  }

  /** STEPS optimiser steps on one masked batch from the same initial weights; the losses. */
  private static double[] train(Precision precision) {
    torch.manual_seed(21);
    OmniBioTA model = new OmniBioTA(CONFIG);
    MuAdamW optimizer =
        new MuAdamW(model, new MuAdamW.Settings(3e-3, 0.9, 0.999, 1e-8, 0.01), false);
    double[] losses = new double[STEPS];
    try (PointerScope scope = new PointerScope()) {
      Tensor ids = torch.randint(20, 256, new long[] {4, 32}, new TensorOptions(ScalarType.Long));
      ids.select(1, 15).fill_(new Scalar(OmniBioTA.EOS));
      MaskedLm.Batch all = MaskedLm.mask(ids, 0.3);
      List<MaskedLm.Batch> micro =
          List.of(
              new MaskedLm.Batch(all.inputs().narrow(0, 0, 2), all.targets().narrow(0, 0, 2)),
              new MaskedLm.Batch(all.inputs().narrow(0, 2, 2), all.targets().narrow(0, 2, 2)));
      for (int step = 0; step < STEPS; step++) {
        optimizer.zeroGrad();
        losses[step] =
            Steps.accumulate(
                model, micro, LossNorm.GLOBAL, TrainStep.Readout.MASKED, true, precision);
        for (Map.Entry<String, Tensor> e : model.stateDict().entrySet()) {
          assertEquals(ScalarType.Float, e.getValue().scalar_type().intern(), e.getKey());
          assertEquals(
              ScalarType.Float, e.getValue().grad().scalar_type().intern(), e.getKey() + ".grad");
        }
        torch.clip_grad_norm_(model.parameters(), TrainStep.CLIP_NORM);
        optimizer.step();
      }
    }
    return losses;
  }
}
