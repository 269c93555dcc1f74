package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

class RopeTest {
  private static final long T = 12;
  private static final long D = 8;

  @Test
  void scoresDependOnlyOnTheDistanceBetweenPositions() {
    torch.manual_seed(21);
    try (PointerScope scope = new PointerScope()) {
      OmniBioTA.Rope rope = new OmniBioTA.Rope(T, D);
      // The same q and k vector at every position: after RoPE, q_m . k_n is a function of m - n.
      Tensor q = torch.randn(D).expand(1, T, 1, D).contiguous();
      Tensor k = torch.randn(D).expand(1, T, 1, D).contiguous();
      Tensor scores = rope.apply(q).view(T, D).matmul(rope.apply(k).view(T, D).t());
      for (int m = 1; m < T; m++) {
        for (int n = 1; n < T; n++) {
          float shifted = scores.get(m - 1).get(n - 1).item_float();
          assertEquals(
              shifted, scores.get(m).get(n).item_float(), 1e-4, "positions " + m + ", " + n);
        }
      }
      // Position 0 is not rotated; others are, and rotation keeps each pair's length.
      assertTrue(torch.equal(rope.apply(q).select(1, 0), q.select(1, 0)));
      assertTrue(rope.apply(q).select(1, 3).sub(q.select(1, 3)).abs().max().item_float() > 1e-2);
      Tensor pairNorms = rope.apply(q).view(T, D / 2, 2).pow(new Scalar(2)).sum(-1);
      Tensor original = q.view(T, D / 2, 2).pow(new Scalar(2)).sum(-1);
      assertTrue(pairNorms.sub(original).abs().max().item_float() < 1e-5);
    }
  }

  @Test
  void bf16InputIsRotatedInFloat32() {
    torch.manual_seed(22);
    try (PointerScope scope = new PointerScope()) {
      OmniBioTA.Rope rope = new OmniBioTA.Rope(T, D);
      Tensor x = torch.randn(1, T, 2, D).to(ScalarType.BFloat16);
      Tensor rotated = rope.apply(x);
      assertEquals(ScalarType.BFloat16, rotated.scalar_type().intern());
      // Exactly the float32 rotation of the same values, rounded once to bf16.
      Tensor expected = rope.apply(x.to(ScalarType.Float)).to(ScalarType.BFloat16);
      assertTrue(torch.equal(expected, rotated));
    }
  }

  @Test
  void rotaryIsTheDefaultVariant() {
    torch.manual_seed(23);
    try (PointerScope scope = new PointerScope()) {
      Tensor x = torch.randn(2, T, 3, D);
      Tensor byDefault = new OmniBioTA.Rope(T, D).apply(x);
      Tensor rotary = new OmniBioTA.Rope(T, D, OmniBioTAConfig.RopeVariant.ROTARY).apply(x);
      assertTrue(torch.equal(byDefault, rotary));
      assertEquals(
          OmniBioTAConfig.RopeVariant.ROTARY,
          new OmniBioTAConfig(10, 8, 1, 1, (int) T, 0.0).rope());
    }
  }

  /**
   * cos_only: both channels of pair j at position m multiplied by the same c = bf16(cos(m
   * theta_j)), in float32, with no sine term (the original's table after its bf16 cast).
   */
  @Test
  void cosOnlyScalesEachPairByTheBf16RoundedCosine() {
    torch.manual_seed(24);
    try (PointerScope scope = new PointerScope()) {
      OmniBioTA.Rope rope = new OmniBioTA.Rope(T, D, OmniBioTAConfig.RopeVariant.COS_ONLY);
      int heads = 3;
      // Ones show the factor of every channel directly.
      float[] factors = TestTensors.floats(rope.apply(torch.ones(1, T, 1, D))).values();
      Tensor x = torch.randn(1, T, heads, D);
      float[] in = TestTensors.floats(x).values();
      float[] out = TestTensors.floats(rope.apply(x)).values();
      for (int m = 0; m < T; m++) {
        for (int j = 0; j < D / 2; j++) {
          float c = factors[(int) (m * D) + 2 * j];
          assertEquals(c, factors[(int) (m * D) + 2 * j + 1], 0f, "one factor per pair");
          assertEquals(0, Float.floatToRawIntBits(c) & 0xFFFF, "factor " + c + " is a bf16 value");
          double cos = Math.cos(m * Math.pow(10000.0, -2.0 * j / D));
          // Within half a bf16 step of cos (at most 2^-8 relative), plus float32 slack.
          assertEquals(cos, c, Math.abs(cos) * 0x1p-8 + 1e-6, "m " + m + " j " + j);
          for (int h = 0; h < heads; h++) {
            int at = (int) ((m * heads + h) * D) + 2 * j;
            assertEquals(in[at] * c, out[at], 0f, "channel 2j is x_2j * c");
            assertEquals(
                in[at + 1] * c, out[at + 1], 0f, "channel 2j+1 is x_2j+1 * c (no sine term)");
          }
        }
      }
    }
  }
}
