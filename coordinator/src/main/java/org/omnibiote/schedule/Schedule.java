package org.omnibiote.schedule;

/**
 * The original's schedule: peak lr = lr * sqrt(batch_size) / 32, every group's lr decayed linearly
 * from its peak to 0 over totalIters = token_budget / (batch_size * ctx_len) optimiser steps (where
 * the run ends), no warmup; and the optional batch ramp.
 *
 * @param batchSize the global batch (rows per optimiser step)
 */
public record Schedule(double lr, int batchSize, long totalIters) {
  public Schedule {
    if (totalIters <= 0) {
      throw new IllegalArgumentException(
          "token budget too small for one step of " + batchSize + " rows");
    }
  }

  public static Schedule of(double lr, int batchSize, int ctxLen, double tokenBudget) {
    return new Schedule(
        lr, batchSize, (long) Math.floor(tokenBudget / ((double) batchSize * ctxLen)));
  }

  /** The lr the optimiser starts from (before µP's per-group scaling). */
  public double peakLr() {
    return lr * Math.sqrt(batchSize) / 32;
  }

  /** torch's LinearLR(start_factor=1, end_factor=0, total_iters) after {@code step} steps. */
  public double factor(long step) {
    return 1.0 - (double) Math.min(step, totalIters) / totalIters;
  }

  /**
   * The batch ramp (--batch_ramp): rows used at {@code step}, growing in multiples of the
   * micro-batch {@code mini} up to the batch over the first warmupPeriod * totalIters steps: min(m
   * * floor(floor(i * B / (totalIters * warmupPeriod)) / m) + m, B). The original applies it per
   * process; here B is the global batch, so it does not depend on the number of workers.
   */
  public int rampedBatch(long step, int mini, double warmupPeriod) {
    long grown = (long) Math.floor(step * (double) batchSize / (totalIters * warmupPeriod));
    return (int) Math.min((long) mini * (grown / mini) + mini, batchSize);
  }
}
