package org.omnibiote.schedule;

import org.omnibiote.settings.TrainSettings;

/**
 * What each global step of a run does, as a pure function of the settings and the step: rows (the
 * batch ramp), micro-batches, the lr factor, and whether an evaluation or a checkpoint falls due.
 * It holds no state, so a coordinator can consult it for any step, and a resumed run continues
 * exactly where the counters say.
 */
public final class RunPlan {
  private final TrainSettings settings;
  private final Schedule schedule;

  public RunPlan(TrainSettings settings) {
    this.settings = settings;
    this.schedule =
        Schedule.of(settings.lr(), settings.batchSize(), settings.ctxLen(), settings.tokenBudget());
  }

  public Schedule schedule() {
    return schedule;
  }

  /** Optimiser steps of the run: token_budget / (batch_size * ctx_len); the run ends there. */
  public long totalSteps() {
    return schedule.totalIters();
  }

  /** The lr every group starts from before µP scaling: lr * sqrt(batch_size) / 32. */
  public double peakLr() {
    return schedule.peakLr();
  }

  /** Global rows (samples) of {@code step}: the batch ramp's, or batch_size. */
  public int rows(long step) {
    return settings.batchRamp()
        ? schedule.rampedBatch(step, settings.miniBatchSize(), settings.warmupPeriod())
        : settings.batchSize();
  }

  /** Micro-batches of {@code step} (rows are always a multiple of mini_batch_size). */
  public int microBatches(long step) {
    return rows(step) / settings.miniBatchSize();
  }

  /** Factor of the peak lr used by {@code step} (the original's LinearLR, stepped after it). */
  public double lrFactor(long step) {
    return schedule.factor(step);
  }

  /** Tokens a step of {@code rows} rows consumes (PAD included: the schedule counts rows). */
  public long tokens(int rows) {
    return (long) rows * settings.ctxLen();
  }

  /**
   * Whether an evaluation falls due as the token count goes from {@code before} to {@code after}.
   */
  public boolean evaluationDue(long before, long after) {
    return crosses(before, after, settings.testFreq());
  }

  /** Whether a periodic checkpoint falls due (the final one is written anyway). */
  public boolean checkpointDue(long before, long after) {
    return crosses(before, after, settings.saveFreq());
  }

  static boolean crosses(long before, long after, double every) {
    return Math.floor(after / every) > Math.floor(before / every);
  }
}
