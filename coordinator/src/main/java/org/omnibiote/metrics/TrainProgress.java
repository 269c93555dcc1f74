package org.omnibiote.metrics;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The training progress line on stderr: step, tokens, loss, lr, batch, tokens/s, the GPU memory (on
 * GPUs) and ETA, printed every interval (and at the end). The ETA comes from the mean step time of
 * this session's steps, so a resumed run estimates from its own pace.
 */
public final class TrainProgress implements AutoCloseable {
  private final long totalSteps;
  private final long firstStep;
  private final long intervalNanos;
  private final PrintStream out;
  private final long start = System.nanoTime();
  private long lastPrint = System.nanoTime();
  private String line = "";
  private boolean printed = true;

  public TrainProgress(long totalSteps, long firstStep, double intervalSeconds, PrintStream out) {
    this.totalSteps = totalSteps;
    this.firstStep = firstStep;
    this.intervalNanos = (long) (Math.max(0, intervalSeconds) * 1e9);
    this.out = out;
  }

  public void update(
      long step, long tokens, double loss, double lr, int batch, double tokensPerSecond) {
    update(step, tokens, loss, lr, batch, tokensPerSecond, 0);
  }

  /**
   * As above, with the largest worker's peak GPU memory of the step in MB, shown when &gt; 0 (CPU
   * workers report 0).
   */
  public void update(
      long step,
      long tokens,
      double loss,
      double lr,
      int batch,
      double tokensPerSecond,
      double gpuMb) {
    long now = System.nanoTime();
    double perStep = (now - start) / 1e9 / Math.max(1, step - firstStep);
    line =
        String.format(
            Locale.ROOT,
            "train: step %,d/%,d | tokens %s | loss %.4f | lr %.3g | batch %d | %,.0f tokens/s%s | ETA %s",
            step,
            totalSteps,
            human(tokens),
            loss,
            lr,
            batch,
            tokensPerSecond,
            gpuMb > 0 ? String.format(Locale.ROOT, " | gpu %,.0f MB", gpuMb) : "",
            duration(perStep * (totalSteps - step)));
    printed = false;
    if (now - lastPrint >= intervalNanos || step == firstStep + 1) {
      out.println(line);
      lastPrint = now;
      printed = true;
    }
  }

  public void finish() {
    if (!printed) {
      out.println(line);
      printed = true;
    }
  }

  @Override
  public void close() {}

  static String human(long n) {
    if (n >= 1_000_000_000L) {
      return String.format(Locale.ROOT, "%.2fG", n / 1e9);
    }
    if (n >= 1_000_000L) {
      return String.format(Locale.ROOT, "%.2fM", n / 1e6);
    }
    if (n >= 10_000L) {
      return String.format(Locale.ROOT, "%.1fk", n / 1e3);
    }
    return Long.toString(n);
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    if (s >= 3600) {
      return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
    }
    if (s >= 60) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return s + "s";
  }
}
