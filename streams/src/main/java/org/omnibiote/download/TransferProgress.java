package org.omnibiote.download;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * The progress line of one big transfer, e.g. {@code gbvrl1.seq.gz: 120.0 / 480.0 MB (25.0%), 9.8
 * MB/s, ETA 0:00:36}; printed at most once per interval and once at the end. The rate counts only
 * bytes of this run, so a resumed file does not look faster than the network.
 */
final class TransferProgress {
  private static final double MB = 1_000_000.0;

  private final PrintStream out;
  private final String name;
  private final long startOffset;
  private final long total;
  private final long intervalNanos;
  private final boolean enabled;
  private final long startNanos = System.nanoTime();
  private long lastPrintNanos = startNanos;

  /**
   * @param startOffset bytes already on disk when this transfer began
   * @param total the size the file will have, or -1 when the server did not say
   */
  TransferProgress(
      PrintStream out, String name, long startOffset, long total, DownloadSettings settings) {
    this.out = out;
    this.name = name;
    this.startOffset = startOffset;
    this.total = total;
    this.intervalNanos = settings.progressInterval().toNanos();
    // Unknown sizes get no line up front; small files would only add noise.
    this.enabled = total >= settings.progressMinBytes();
  }

  void update(long position) {
    long now = System.nanoTime();
    if (enabled && now - lastPrintNanos >= intervalNanos) {
      lastPrintNanos = now;
      out.println(line(position, now));
    }
  }

  void finish(long position) {
    if (enabled) {
      out.println(line(position, System.nanoTime()));
    }
  }

  String line(long position, long nowNanos) {
    double seconds = Math.max((nowNanos - startNanos) / 1e9, 1e-3);
    double rate = (position - startOffset) / seconds;
    StringBuilder s = new StringBuilder(name).append(": ");
    s.append(String.format(Locale.ROOT, "%.1f", position / MB));
    if (total >= 0) {
      s.append(
          String.format(
              Locale.ROOT,
              " / %.1f MB (%.1f%%)",
              total / MB,
              100.0 * position / Math.max(total, 1)));
    } else {
      s.append(" MB");
    }
    s.append(String.format(Locale.ROOT, ", %.1f MB/s", rate / MB));
    if (total >= 0) {
      s.append(", ETA ");
      s.append(rate > 0 ? clock(Duration.ofSeconds((long) ((total - position) / rate))) : "?");
    }
    return s.toString();
  }

  private static String clock(Duration d) {
    return String.format(
        Locale.ROOT, "%d:%02d:%02d", d.toHours(), d.toMinutesPart(), d.toSecondsPart());
  }
}
