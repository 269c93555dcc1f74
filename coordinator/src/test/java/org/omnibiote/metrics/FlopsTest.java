package org.omnibiote.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

class FlopsTest {
  /** V 10, N 4, L 1, H 2, T 3: small enough to count every matmul by hand. */
  private static final OmniBioTAConfig TINY = new OmniBioTAConfig(10, 4, 1, 2, 3, 0.0);

  @Test
  void stepFlopsCountEveryMatmulOfTheBlocksAndTheReadoutAtMaskedPositionsOnly() {
    // Forward, one row of T=3 tokens, 2 FLOPs per multiply-add:
    long cAttn = 2 * 3 * 4 * 12; // [3,4] x [4,12]
    long attnProj = 2 * 3 * 4 * 4;
    long cFc = 2 * 3 * 4 * 16;
    long mlpProj = 2 * 3 * 16 * 4;
    long scores = 2 * 2 * (3 * 3 * 2); // 2 heads of [3,2] x [2,3]
    long weighted = 2 * 2 * (3 * 3 * 2); // 2 heads of [3,3] x [3,2]
    long row = cAttn + attnProj + cFc + mlpProj + scores + weighted; // 1296
    long readoutPerMasked = 2 * 4 * 10;
    // 2 rows, 1 masked token; backward costs twice the forward.
    assertEquals(3.0 * (2 * row + readoutPerMasked), Flops.perStepFlops(TINY, 2, 1));
    assertEquals(8016.0, Flops.perStepFlops(TINY, 2, 1));
  }

  @Test
  void mfuIsTheAchievedRateOverThePeak() {
    assertEquals(0.25, Flops.mfu(1e12, 4.0, 1e12), 1e-12);
  }
}
