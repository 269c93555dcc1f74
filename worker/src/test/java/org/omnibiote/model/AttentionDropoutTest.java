package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** Attention with our cheaper dropout: SDPA's result without drops, inverted dropout's law. */
class AttentionDropoutTest {

  @Test
  void withoutDropsItIsScaledDotProductAttention() {
    try (PointerScope scope = new PointerScope()) {
      torch.manual_seed(5);
      Tensor q = torch.randn(2, 3, 16, 8);
      Tensor k = torch.randn(2, 3, 16, 8);
      Tensor v = torch.randn(2, 3, 16, 8);
      Tensor ids = torch.randint(4, 50, new long[] {2, 16});
      ids.select(1, 6).fill_(new Scalar(OmniBioTA.EOS));
      Tensor mask = OmniBioTA.AttentionMask.build(ids, true);
      Tensor ours = OmniBioTA.attentionWithDropout(q, k, v, mask, 0.3, 1e-9); // p rounds to 0
      Tensor sdpa =
          torch.scaled_dot_product_attention(
              q, k, v, new TensorOptional(mask), 0.0, false, new DoubleOptional(0.3), false);
      assertTrue(ours.sub(sdpa).abs().max().item_double() < 1e-5);
    }
  }

  @Test
  void keepScaleDropsAboutPAndKeepsTheExpectationAtOne() {
    try (PointerScope scope = new PointerScope()) {
      Tensor like = torch.ones(1 << 20);
      Tensor m = OmniBioTA.keepScale(like, 0.1);
      double dropped = m.eq(new Scalar(0.0)).sum().item_long() / (double) (1 << 20);
      assertEquals(0.1, dropped, 2e-3);
      assertEquals(1.0, m.mean().item_double(), 3e-3);
      assertEquals(1.0 / (1.0 - 6554 / 65536.0), m.max().item_double(), 1e-6);
    }
  }
}
