package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * With the block-diagonal mask, changing the tokens of one document changes the encodings of that
 * document only; without it, the change leaks into its neighbours.
 */
class DocumentIsolationTest {
  private static final long E = OmniBioTA.EOS;

  @Test
  void perturbingOneDocumentLeavesTheOthersOfItsRowUnchanged() {
    torch.manual_seed(3);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(64, 32, 2, 4, 12, 0.1));
    model.eval();
    // Documents: positions 0-3, 4-8, 9-11 (the last one cut off, as in a packed row).
    long[][] base = {{4, 20, 21, E, 18, 22, 23, 24, E, 4, 25, 26}};
    long[][] perturbed = {{4, 20, 21, E, 18, 40, 41, 42, E, 4, 25, 26}};
    try (PointerScope scope = new PointerScope()) {
      float[] a = encodeAll(model, base, true);
      float[] b = encodeAll(model, perturbed, true);
      int n = 32;
      for (int pos = 0; pos < 12; pos++) {
        double diff = maxDiff(a, b, pos, n);
        if (pos >= 4 && pos <= 8) {
          assertTrue(diff > 1e-3, "the perturbed document itself must change, position " + pos);
        } else {
          assertTrue(diff < 1e-6, "position " + pos + " saw another document (diff " + diff + ")");
        }
      }
      // The same perturbation without the mask reaches the other documents: the test can fail.
      float[] c = encodeAll(model, base, false);
      float[] d = encodeAll(model, perturbed, false);
      assertTrue(maxDiff(c, d, 0, n) > 1e-3 && maxDiff(c, d, 11, n) > 1e-3);
    }
  }

  private static float[] encodeAll(OmniBioTA model, long[][] rows, boolean blockDiagonal) {
    return TestTensors.floats(model.encode(TestTensors.ids(rows), Pooling.ALL, blockDiagonal))
        .values();
  }

  private static double maxDiff(float[] a, float[] b, int pos, int n) {
    double worst = 0;
    for (int c = 0; c < n; c++) {
      worst = Math.max(worst, Math.abs(a[pos * n + c] - b[pos * n + c]));
    }
    return worst;
  }
}
