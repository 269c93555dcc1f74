package org.omnibiote.schedule;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.omnibiote.settings.TrainSettings;

/**
 * What each global step of a run does, as a pure function of the settings, the changes an operator
 * made during the run (each effective from a step) and the step: rows (the batch ramp),
 * micro-batches, the lr factor, whether an evaluation or a checkpoint falls due, and where the run
 * ends. It holds no mutable state, so a coordinator can consult it for any step, and a resumed run
 * (which reads the changes back from its ledger) continues exactly where the counters say.
 */
public final class RunPlan {
  /** The settings an operator may change while a run goes on. */
  public static final List<String> CHANGEABLE =
      List.of("save_freq", "test_freq", "keep_checkpoints", "token_budget");

  /**
   * Setting {@code key} takes {@code value} from step {@code step} on (before that step runs).
   * token_budget re-plans the lr decay from that step: linear from the factor the step had to 0 at
   * the new last step.
   */
  public record Change(long step, String key, double value) {}

  private final TrainSettings settings;
  private final Schedule schedule;
  private final List<Change> changes;

  public RunPlan(TrainSettings settings) {
    this(settings, List.of());
  }

  private RunPlan(TrainSettings settings, List<Change> changes) {
    this.settings = settings;
    this.schedule =
        Schedule.of(settings.lr(), settings.batchSize(), settings.ctxLen(), settings.tokenBudget());
    this.changes = List.copyOf(changes);
  }

  /** This plan with {@code changes} applied in order (a resumed run's, from its ledger). */
  public RunPlan with(List<Change> more) {
    RunPlan p = this;
    for (Change c : more) {
      p = p.with(c);
    }
    return p;
  }

  /**
   * This plan with {@code c} applied; an IllegalArgumentException says why a value is refused (an
   * unknown key, a value out of range, a token budget the run has already spent).
   */
  public RunPlan with(Change c) {
    if (!CHANGEABLE.contains(c.key())) {
      throw new IllegalArgumentException(
          "'" + c.key() + "' cannot be changed during a run; these can: " + CHANGEABLE);
    }
    double v = c.value();
    if (!Double.isFinite(v)) {
      throw new IllegalArgumentException(c.key() + " must be a number, not " + v);
    }
    switch (c.key()) {
      case "save_freq", "test_freq" -> {
        if (v < settings.ctxLen()) {
          throw new IllegalArgumentException(
              c.key() + " is in tokens and must be at least ctx_len (" + settings.ctxLen() + ")");
        }
      }
      case "keep_checkpoints" -> {
        if (v < 0 || v != Math.floor(v)) {
          throw new IllegalArgumentException("keep_checkpoints must be a whole number >= 0");
        }
      }
      default -> { // token_budget
        long steps = steps(v);
        if (steps <= c.step()) {
          throw new IllegalArgumentException(
              String.format(
                  Locale.ROOT,
                  "token_budget %.4g gives %,d steps, but the run is at step %,d: give more than"
                      + " %.4g tokens",
                  v,
                  steps,
                  c.step(),
                  (double) (c.step() + 1) * settings.batchSize() * settings.ctxLen()));
        }
      }
    }
    List<Change> all = new ArrayList<>(changes);
    all.add(c);
    return new RunPlan(settings, all);
  }

  /** The changes made during the run, in the order they were made. */
  public List<Change> changes() {
    return changes;
  }

  /** The original's schedule for the settings as started (what a checkpoint records). */
  public Schedule schedule() {
    return schedule;
  }

  /**
   * Optimiser steps of the run: token_budget / (batch_size * ctx_len), of the last token_budget
   * set; the run ends there.
   */
  public long totalSteps() {
    Change c = lastChange("token_budget", Long.MAX_VALUE);
    return c == null ? schedule.totalIters() : steps(c.value());
  }

  /** The token budget in effect (the last one set, or the run's). */
  public double tokenBudget() {
    return value("token_budget", Long.MAX_VALUE, settings.tokenBudget());
  }

  /** The lr every group starts from before µP scaling: lr * sqrt(batch_size) / 32. */
  public double peakLr() {
    return schedule.peakLr();
  }

  /**
   * Global rows (samples) of {@code step}: the batch ramp's, or batch_size. The ramp keeps the
   * length it was planned with: a token_budget changed later does not re-plan it.
   */
  public int rows(long step) {
    return settings.batchRamp()
        ? schedule.rampedBatch(step, settings.miniBatchSize(), settings.warmupPeriod())
        : settings.batchSize();
  }

  /** Micro-batches of {@code step} (rows are always a multiple of mini_batch_size). */
  public int microBatches(long step) {
    return rows(step) / settings.miniBatchSize();
  }

  /**
   * Factor of the peak lr used by {@code step}: the original's LinearLR, stepped after it; after a
   * token_budget change at step c to T steps, f(c) * (T - step) / (T - c), so the decay reaches 0
   * at the new end without a jump.
   */
  public double lrFactor(long step) {
    double f = schedule.factor(step);
    double startFactor = 1;
    long start = 0;
    long end = schedule.totalIters();
    for (Change c : changes) {
      if (!c.key().equals("token_budget") || c.step() > step) {
        continue;
      }
      startFactor = linear(startFactor, start, end, c.step());
      start = c.step();
      end = steps(c.value());
      f = linear(startFactor, start, end, step);
    }
    return f;
  }

  private static double linear(double from, long start, long end, long step) {
    return from * (double) (end - Math.min(step, end)) / (end - start);
  }

  /** Tokens a step of {@code rows} rows consumes (PAD included: the schedule counts rows). */
  public long tokens(int rows) {
    return (long) rows * settings.ctxLen();
  }

  /**
   * Whether an evaluation falls due after {@code step}, as the token count goes from {@code before}
   * to {@code after}.
   */
  public boolean evaluationDue(long step, long before, long after) {
    return crosses(before, after, value("test_freq", step, settings.testFreq()));
  }

  /**
   * Whether a periodic checkpoint falls due after {@code step} (the final one is written anyway).
   */
  public boolean checkpointDue(long step, long before, long after) {
    return crosses(before, after, value("save_freq", step, settings.saveFreq()));
  }

  /** Periodic checkpoints kept (0: all) at {@code step}. */
  public int keepCheckpoints(long step) {
    return (int) value("keep_checkpoints", step, settings.keepCheckpoints());
  }

  /** test_freq, save_freq, keep_checkpoints and token_budget in effect at {@code step}. */
  public double setting(String key, long step) {
    return switch (key) {
      case "test_freq" -> value(key, step, settings.testFreq());
      case "save_freq" -> value(key, step, settings.saveFreq());
      case "keep_checkpoints" -> value(key, step, settings.keepCheckpoints());
      case "token_budget" -> value(key, step, settings.tokenBudget());
      default -> throw new IllegalArgumentException("not a changeable setting: " + key);
    };
  }

  private double value(String key, long step, double initial) {
    Change c = lastChange(key, step);
    return c == null ? initial : c.value();
  }

  private Change lastChange(String key, long step) {
    Change last = null;
    for (Change c : changes) {
      if (c.key().equals(key) && c.step() <= step) {
        last = c;
      }
    }
    return last;
  }

  private long steps(double tokenBudget) {
    return (long) Math.floor(tokenBudget / ((double) settings.batchSize() * settings.ctxLen()));
  }

  static boolean crosses(long before, long after, double every) {
    return Math.floor(after / every) > Math.floor(before / every);
  }
}
