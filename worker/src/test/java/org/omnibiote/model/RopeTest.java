package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

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
          assertEquals(shifted, scores.get(m).get(n).item_float(), 1e-4, "positions " + m + ", " + n);
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
}
