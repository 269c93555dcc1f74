package org.omnibiote.finetune;

/**
 * The learning-rate (and Adam beta1) schedule of a fine-tuning run, as PyTorch's schedulers compute
 * it for step k (the value the k-th optimiser step uses, k = 0 first). {@link Kind#ONE_CYCLE} is
 * the original's {@code OneCycleLR(max_lr, total_steps, pct_start)} with PyTorch's defaults: cosine
 * annealing from max_lr/25 up to max_lr over the first pct_start of the steps, then down to
 * max_lr/25/1e4, while beta1 cycles the other way between 0.95 and 0.85 (cycle_momentum).
 * FinetuneScheduleTest compares it with torch 1.13's OneCycleLR step by step.
 */
public final class OneCycle {
  /** The schedule's shape. */
  public enum Kind {
    /** The original's: OneCycleLR with cosine annealing and momentum cycling. */
    ONE_CYCLE,
    /** Linear decay from the peak to 0, beta1 fixed. */
    LINEAR,
    /** The peak lr throughout, beta1 fixed. */
    CONSTANT
  }

  public static final double DIV_FACTOR = 25;
  public static final double FINAL_DIV_FACTOR = 1e4;
  public static final double BASE_MOMENTUM = 0.85;
  public static final double MAX_MOMENTUM = 0.95;

  private final Kind kind;
  private final long totalSteps;
  private final double pctStart;
  private final double beta1;

  /**
   * @param beta1 Adam's beta1 for the schedules without momentum cycling
   */
  public OneCycle(Kind kind, long totalSteps, double pctStart, double beta1) {
    if (totalSteps < 1) {
      throw new IllegalArgumentException("a schedule needs at least one step");
    }
    this.kind = kind;
    this.totalSteps = totalSteps;
    this.pctStart = pctStart;
    this.beta1 = beta1;
  }

  /** The factor of a group's peak lr at step {@code k}. */
  public double lrFactor(long k) {
    return switch (kind) {
      case CONSTANT -> 1.0;
      case LINEAR -> 1.0 - (double) k / totalSteps;
      case ONE_CYCLE -> {
        double initial = 1.0 / DIV_FACTOR;
        yield phase(k, initial, 1.0, 1.0, initial / FINAL_DIV_FACTOR);
      }
    };
  }

  /** Adam's beta1 at step {@code k}. */
  public double beta1(long k) {
    return kind == Kind.ONE_CYCLE
        ? phase(k, MAX_MOMENTUM, BASE_MOMENTUM, BASE_MOMENTUM, MAX_MOMENTUM)
        : beta1;
  }

  /** PyTorch's two-phase walk: phase one ends at pct_start * total - 1, phase two at total - 1. */
  private double phase(long k, double start1, double end1, double start2, double end2) {
    double end = pctStart * totalSteps - 1;
    if (k <= end) {
      return cos(start1, end1, k / end);
    }
    double last = totalSteps - 1;
    return cos(start2, end2, (k - end) / (last - end));
  }

  private static double cos(double start, double end, double pct) {
    double out = Math.cos(Math.PI * pct) + 1;
    return end + (start - end) / 2.0 * out;
  }
}
