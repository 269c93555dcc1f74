package org.omnibiote.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

class NcclEstimateTest {
  // train_encoder.py's defaults: V 65,536, N 1024, L 8, H 8, T 2048.
  private static final OmniBioTAConfig ORIGINAL =
      new OmniBioTAConfig(65_536, 1024, 8, 8, 2048, 0.1);
  private static final NcclEstimate.Assumptions A100_NODE =
      new NcclEstimate.Assumptions(8, 150, 20, 312, 0.4, 0.8, 4L << 20);

  @Test
  void parametersAreBothEmbeddingMatricesPlusTheBlocks() {
    // 2VN (wte, lm_head) + L(12N^2 + 2N) (matrices, two LayerNorm gains) + N (ln_f).
    assertEquals(
        2L * 65_536 * 1024 + 8L * (12L * 1024 * 1024 + 2 * 1024) + 1024,
        NcclEstimate.parameters(ORIGINAL));
    assertEquals(234_898_432L, NcclEstimate.parameters(ORIGINAL));
  }

  @Test
  void ringAllReduceTimeIsLatencyPerBucketPlusBytesTimesTwoNMinusOneOverNOverBusBandwidth() {
    NcclEstimate.Estimate e = NcclEstimate.estimate("o", ORIGINAL, 1024, 128, 2, 14.0, A100_NODE);
    double g = 234_898_432.0 * 2;
    assertEquals(g, e.gradientBytes());
    double wte = 65_536.0 * 1024 * 2;
    // (G - wte) / 4 MiB = 80.01 -> 81 buckets before wte's.
    assertEquals(82, e.buckets());
    assertEquals(82 * 20e-6 + g * 1.75 / 150e9, e.commSeconds(), 1e-12);
    assertEquals(20e-6 + wte * 1.75 / 150e9, e.lastBucketSeconds(), 1e-12);
    // A 14 s step in 128 micro-batches: the window (2/3 of one micro-batch's compute, 73 ms)
    // hides all but wte's bucket.
    assertEquals(2.0 / 3 * 14 / 128, e.windowSeconds(), 1e-12);
    assertEquals(e.lastBucketSeconds(), e.exposedSeconds());
  }

  @Test
  void aShortWindowLeavesTheUnhiddenRestExposed() {
    NcclEstimate.Estimate e = NcclEstimate.estimate("o", ORIGINAL, 1024, 1, 2, 0.01, A100_NODE);
    double hidden = 0.8 * 2.0 / 3 * 0.01;
    assertEquals(e.commSeconds() - hidden, e.exposedSeconds(), 1e-12);
    assertTrue(e.exposedSeconds() > e.lastBucketSeconds());
    assertEquals(e.exposedSeconds() / (0.01 + e.exposedSeconds()), e.overheadFraction(), 1e-12);
    assertEquals(8 * 0.01 / (0.01 + e.exposedSeconds()), e.speedup(8), 1e-12);
  }

  @Test
  void computeComesFromTheStepsFlopsAtTheAssumedUtilisation() {
    NcclEstimate.Estimate e = NcclEstimate.estimate("o", ORIGINAL, 1024, 128, 4, null, A100_NODE);
    double flops =
        org.omnibiote.metrics.Flops.perStepFlops(ORIGINAL, 1024, Math.round(0.15 * 1024 * 2048));
    assertEquals(flops / (0.4 * 312e12), e.computeSeconds(), 1e-12);
  }

  @Test
  void theBandwidthForOnePercentOverheadGivesOnePercent() {
    double gbps = NcclEstimate.busGbpsFor(0.01, ORIGINAL, 1024, 128, 4, null, A100_NODE);
    NcclEstimate.Assumptions at =
        new NcclEstimate.Assumptions(8, gbps, 20, 312, 0.4, 0.8, 4L << 20);
    assertEquals(
        0.01,
        NcclEstimate.estimate("o", ORIGINAL, 1024, 128, 4, null, at).overheadFraction(),
        1e-6);
    // A compute time shorter than the latencies alone: no bandwidth suffices.
    assertTrue(Double.isNaN(NcclEstimate.busGbpsFor(0.01, ORIGINAL, 8, 1, 4, 1e-6, A100_NODE)));
  }
}
