package org.omnibiote.metrics;

import org.omnibiote.settings.OmniBioTAConfig;

/**
 * Floating-point operations of a training step, for tokens/s-independent efficiency (MFU). Matmuls
 * only (2 FLOPs per multiply-add), forward plus backward = 3 x forward: backward computes the
 * gradient of both the input and the weight of every matmul.
 */
public final class Flops {
  private Flops() {}

  /**
   * What our step must compute for {@code rows} rows of ctx_len tokens with {@code maskedTokens}
   * masked positions: per row and block, the projections (q/k/v 3N², attention output N², MLP 8N²:
   * 2·T·12N² forward) and attention (scores and weighted values, 2·2·T²·N forward, the full T×T
   * whatever the mask), plus the readout at the masked positions only (2·N·V forward each).
   */
  public static double perStepFlops(OmniBioTAConfig c, long rows, long maskedTokens) {
    double t = c.ctxLen();
    double n = c.nEmbd();
    double perRowForward = c.nLayer() * (24 * t * n * n + 4 * t * t * n);
    double readoutForward = 2.0 * n * c.vocabSize() * maskedTokens;
    return 3 * (rows * perRowForward + readoutForward);
  }

  /**
   * The original's count per token: 6P + 12·L·N·T with P every parameter but wte (the readout
   * counted at every position).
   */
  public static double originalFlopsPerToken(OmniBioTAConfig c) {
    return 6 * parametersWithoutWte(c) + 12.0 * c.nLayer() * c.nEmbd() * c.ctxLen();
  }

  /** Blocks (12N² of matrices and two LayerNorm gains each), ln_f and lm_head. */
  public static double parametersWithoutWte(OmniBioTAConfig c) {
    double n = c.nEmbd();
    return c.nLayer() * (12 * n * n + 2 * n) + n + n * c.vocabSize();
  }

  /** Model FLOPs utilisation: flops done in {@code seconds} over the peak rate (FLOP/s). */
  public static double mfu(double flops, double seconds, double peakFlopsPerSecond) {
    return flops / seconds / peakFlopsPerSecond;
  }
}
