package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertNull;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

/** Micro-batches of single-document rows skip the mask; the output must not change. */
class MaskFastPathTest {
  private static final long E = OmniBioTA.EOS;

  @Test
  void singleDocumentRowsGiveTheSameOutputWithoutTheMask() {
    torch.manual_seed(31);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(64, 32, 2, 4, 8, 0.1));
    model.eval();
    try (PointerScope scope = new PointerScope()) {
      // A row ending in EOS and a row without EOS (a document cut by the row's end).
      Tensor ids =
          TestTensors.ids(
              new long[][] {{4, 20, 21, 22, 23, 24, 25, E}, {18, 30, 31, 32, 33, 34, 35, 36}});
      assertNull(OmniBioTA.AttentionMask.of(ids, true));
      Tensor fast = model.hidden(ids, true);
      Tensor masked = model.hidden(ids, OmniBioTA.AttentionMask.build(ids, true), null);
      // Different SDPA kernels (fused without mask, masked otherwise): equal up to float32
      // summation order.
      TestTensors.assertClose(TestTensors.floats(masked), TestTensors.floats(fast), 1e-5, "hidden");
    }
  }
}
