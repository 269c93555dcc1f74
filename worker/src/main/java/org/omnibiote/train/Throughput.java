package org.omnibiote.train;

import org.omnibiote.model.OmniBioTAConfig;

/**
 * Model FLOPs utilisation of training steps against the matmul peak of this device in the
 * precision used, measured once when the run starts: {@code mfu} counts the FLOPs the step
 * must do (readout at the masked positions only), {@code mfu_original} the original's
 * 6P + 12·L·N·T per token.
 */
final class Throughput {
  private final OmniBioTAConfig config;
  private final double peakFlops;

  private Throughput(OmniBioTAConfig config, double peakFlops) {
    this.config = config;
    this.peakFlops = peakFlops;
  }

  static Throughput measure(OmniBioTAConfig config, Precision precision) {
    return new Throughput(config, MatmulPeak.measure(precision.matmulType()));
  }

  double mfu(int rows, long maskedTokens, double seconds) {
    return Flops.perStepFlops(config, rows, maskedTokens) / seconds / peakFlops;
  }

  double mfuOriginal(long tokens, double seconds) {
    return Flops.originalFlopsPerToken(config) * tokens / seconds / peakFlops;
  }
}
