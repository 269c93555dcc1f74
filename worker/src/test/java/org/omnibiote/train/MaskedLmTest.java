package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.model.OmniBioTA;

class MaskedLmTest {
  @Test
  void masksAboutFifteenPercentAndNeverPadOrEos() {
    torch.manual_seed(4);
    try (PointerScope scope = new PointerScope()) {
      // Ids 1..4 (PAD, MASK, EOS, <DNA>) over 64 x 512 positions: PAD and EOS are half of them.
      Tensor ids =
          torch.randint(1, 5, new long[] {64, 512}, new TensorOptions(torch.ScalarType.Long));
      MaskedLm.Batch b = MaskedLm.mask(ids, 0.15);
      Tensor masked = b.targets().ne(new Scalar(MaskedLm.IGNORE));
      Tensor eligible =
          ids.ne(new Scalar(OmniBioTA.PAD)).logical_and(ids.ne(new Scalar(OmniBioTA.EOS)));
      assertEquals(
          0, masked.logical_and(eligible.logical_not()).sum().item_long(), "PAD or EOS masked");
      double fraction = (double) masked.sum().item_long() / eligible.sum().item_long();
      assertEquals(0.15, fraction, 0.01);
      // Masked positions become MASK and keep the token as target; the rest pass through.
      assertTrue(torch.equal(b.inputs(), torch.where(masked, new Scalar(MaskedLm.MASK), ids)));
      assertTrue(torch.equal(b.targets().masked_select(masked), ids.masked_select(masked)));
    }
  }

  @Test
  void lossIsTheMeanCrossEntropyOverMaskedPositionsOnly() {
    try (PointerScope scope = new PointerScope()) {
      // Two positions, vocabulary 3; only the first is masked (target 2).
      Tensor logits = Tensor.create(new float[] {0, 1, 2, 5, 5, -5}, 1, 2, 3);
      Tensor targets = Tensor.create(new long[] {2, MaskedLm.IGNORE}, 1, 2);
      double expected = -Math.log(Math.exp(2) / (1 + Math.exp(1) + Math.exp(2)));
      assertEquals(expected, MaskedLm.loss(logits, targets).item_float(), 1e-6);
    }
  }
}
