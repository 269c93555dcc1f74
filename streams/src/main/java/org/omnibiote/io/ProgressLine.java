package org.omnibiote.io;

import java.io.Console;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The progress line of a long run on stderr: records and records/s, input MB and MB/s, and an ETA
 * from the input bytes still to read. On a terminal the line rewrites itself; in a log it is
 * printed once per interval. Counts may come from any thread.
 */
public final class ProgressLine implements AutoCloseable {
  private final String label;
  private final long totalBytes;
  private final PrintStream out;
  private final boolean terminal = onTerminal();
  private final long startNanos = System.nanoTime();
  private final AtomicLong records = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final ScheduledExecutorService timer;
  private volatile boolean printed;

  /** {@code label} starts the line, e.g. "ingest". */
  public ProgressLine(String label, long totalBytes, Duration interval, PrintStream out) {
    this.label = label;
    this.totalBytes = totalBytes;
    this.out = out;
    this.timer = Executors.newSingleThreadScheduledExecutor(Daemons.named(label + "-progress"));
    long ms = Math.max(100, interval.toMillis());
    // Runs until finish or close shuts the timer down; nothing waits for the ticks.
    var unused = timer.scheduleAtFixedRate(this::print, ms, ms, TimeUnit.MILLISECONDS);
  }

  /**
   * Whether stdin and stdout are a terminal: a console exists (JDK 17-21) and, from JDK 22 on,
   * where a console exists for redirected streams too, Console.isTerminal() says so.
   */
  @SuppressWarnings("SystemConsoleNull") // the null check is the answer before JDK 22
  private static boolean onTerminal() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // before JDK 22 (no isTerminal), a console is a terminal
    }
  }

  /** One record done, which took {@code inputBytesDelta} more bytes of input. */
  public void record(long inputBytesDelta) {
    records.incrementAndGet();
    bytes.addAndGet(inputBytesDelta);
  }

  /** Input consumed without a record (headers, refused records, the end of a file). */
  public void inputBytes(long delta) {
    bytes.addAndGet(delta);
  }

  public String line() {
    double secs = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
    long b = Math.min(bytes.get(), totalBytes);
    double mbps = b / 1e6 / secs;
    String eta = "--:--:--";
    if (b > 0) {
      long left = (long) ((totalBytes - b) / (b / secs));
      eta = String.format(Locale.ROOT, "%d:%02d:%02d", left / 3600, left / 60 % 60, left % 60);
    }
    return String.format(
        Locale.ROOT,
        "%s: %,d records (%,.0f/s), %.1f/%.1f MB of input (%.2f MB/s), ETA %s",
        label,
        records.get(),
        records.get() / secs,
        b / 1e6,
        totalBytes / 1e6,
        mbps,
        eta);
  }

  private void print() {
    printed = true;
    if (terminal) {
      out.print("\r" + line());
    } else {
      out.println(line());
    }
    out.flush();
  }

  /** The run is done: stop the timer and print the final line. */
  public void finish() {
    timer.shutdownNow();
    if (terminal) {
      out.println("\r" + line());
    } else {
      out.println(line());
    }
    out.flush();
  }

  /**
   * Stops the timer without a final line (a summary of its own follows); on a terminal the line
   * rewritten so far is ended, so what is printed next starts on a line of its own.
   */
  public void stop() {
    timer.shutdownNow();
    if (terminal && printed) {
      out.println();
      out.flush();
    }
  }

  /** Stops the timer; after a failure no final line, so the error is what the user sees last. */
  @Override
  public void close() {
    timer.shutdownNow();
  }
}
