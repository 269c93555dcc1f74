package org.omnibiote.schedule;

import java.util.List;

/**
 * The state a run's scheduler owns, and the orders it gives: per global step the rows (batch ramp),
 * the lr factor, each rank's samples (for the world size of the moment), whether to evaluate after
 * it and which checkpoint to write. A committed step advances the counters; an aborted one (a
 * worker died) leaves them and starts a new world generation, so its samples are trained again and
 * none is skipped. The single-process trainer and the cluster coordinator both drive runs through
 * it.
 */
public final class RunSchedule {
  private RunPlan plan;
  private final int miniBatch;
  private final String saveName;
  private Counters at;
  private long generation;

  /** Global counters after the last committed step; the data position is {@code samples}. */
  public record Counters(long step, long tokens, long samples) {
    public static final Counters START = new Counters(0, 0, 0);
  }

  /**
   * One step to run.
   *
   * @param checkpoint the checkpoint to write once the step is committed, or null
   * @param last whether this is the run's final step (the final checkpoint follows it)
   */
  public record StepOrder(
      long step,
      long generation,
      int rows,
      double lrFactor,
      List<StepSplit.Share> shares,
      boolean evaluate,
      String checkpoint,
      boolean last,
      Counters after) {}

  public RunSchedule(
      RunPlan plan, int miniBatch, String saveName, Counters start, long generation) {
    this.plan = plan;
    this.miniBatch = miniBatch;
    this.saveName = saveName;
    this.at = start;
    this.generation = generation;
  }

  public boolean finished() {
    return at.step() >= plan.totalSteps();
  }

  public Counters counters() {
    return at;
  }

  public long generation() {
    return generation;
  }

  public RunPlan plan() {
    return plan;
  }

  /** Continues with {@code changed} (an operator's change, effective from the next step). */
  public void replan(RunPlan changed) {
    this.plan = changed;
  }

  /** The order for the next step in a world of {@code worldSize} ranks. */
  public StepOrder next(int worldSize) {
    if (finished()) {
      throw new IllegalStateException("the run is finished at step " + at.step());
    }
    long step = at.step();
    int rows = plan.rows(step);
    Counters after = new Counters(step + 1, at.tokens() + plan.tokens(rows), at.samples() + rows);
    boolean last = after.step() == plan.totalSteps();
    String checkpoint =
        last
            ? saveName
            : plan.checkpointDue(step, at.tokens(), after.tokens())
                ? saveName + "_" + after.tokens()
                : null;
    return new StepOrder(
        step,
        generation,
        rows,
        plan.lrFactor(step),
        StepSplit.split(at.samples(), rows, miniBatch, worldSize),
        last || plan.evaluationDue(step, at.tokens(), after.tokens()),
        checkpoint,
        last,
        after);
  }

  /** The step of {@code order} is part of the run: move past it. */
  public void commit(StepOrder order) {
    if (order.step() != at.step() || order.generation() != generation) {
      throw new IllegalStateException(
          "commit of step "
              + order.step()
              + " (generation "
              + order.generation()
              + ") at step "
              + at.step()
              + " (generation "
              + generation
              + ")");
    }
    at = order.after();
  }

  /** A new world generation (the membership changed at a step boundary). */
  public long newGeneration() {
    return ++generation;
  }

  /** The step of {@code order} failed: its samples will be trained again in a new generation. */
  public void abort(StepOrder order) {
    generation = Math.max(generation, order.generation()) + 1;
  }
}
