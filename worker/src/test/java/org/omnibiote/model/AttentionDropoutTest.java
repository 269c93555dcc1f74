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

/**
 * Attention with dropout: our cheaper dropout gives SDPA's result without drops and keeps inverted
 * dropout's law; SDPA's own dropout_p (the CUDA path, called the same way here on the CPU) keeps
 * the expectation of the output at the output without dropout.
 */
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
  void sdpaWithDropoutPKeepsTheOutputsExpectationAtTheOutputWithoutDropout() {
    try (PointerScope scope = new PointerScope()) {
      torch.manual_seed(11);
      int draws = 4000;
      Tensor q = torch.randn(2, 3, 16, 8);
      Tensor k = torch.randn(2, 3, 16, 8);
      Tensor v = torch.randn(2, 3, 16, 8);
      Tensor ids = torch.randint(4, 50, new long[] {2, 16});
      ids.select(1, 6).fill_(new Scalar(OmniBioTA.EOS));
      ids.select(1, 15).fill_(new Scalar(OmniBioTA.PAD));
      Tensor mask = OmniBioTA.AttentionMask.build(ids, true);
      double scale = 0.3;
      Tensor plain = OmniBioTA.attend(AttentionKernels.Path.SDPA, q, k, v, mask, scale, 0.0);
      // Every draw in one call: the batch repeated, each copy with its own dropout.
      Tensor y =
          OmniBioTA.attend(
                  AttentionKernels.Path.SDPA_DROPOUT,
                  q.repeat(draws, 1, 1, 1),
                  k.repeat(draws, 1, 1, 1),
                  v.repeat(draws, 1, 1, 1),
                  mask.repeat(draws, 1, 1, 1),
                  scale,
                  0.3)
              .view(draws, 2, 3, 16, 8);
      Tensor mean = y.mean(0);
      Tensor sd = y.std(new long[] {0}, true, false);
      // Dropout happened: the draws differ from the plain output.
      assertTrue(y.select(0, 0).sub(plain).abs().max().item_double() > 0.05, "no dropout");
      // Each mean within 5 of its standard errors of the plain output (768 elements: a false
      // alarm has odds of about 1 in 2,000 for a fresh seed; the seed is fixed).
      Tensor z =
          mean.sub(plain).abs().div(sd.div(new Scalar(Math.sqrt(draws))).add(new Scalar(1e-9)));
      double worst = z.max().item_double();
      assertTrue(worst < 5, "worst |mean - plain| / standard error = " + worst);
      assertTrue(mean.sub(plain).abs().max().item_double() < 0.05);
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
