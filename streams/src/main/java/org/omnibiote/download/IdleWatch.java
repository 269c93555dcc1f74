package org.omnibiote.download;

import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a response body and interrupts its reader when the body stalls for longer than the read
 * timeout. HttpClient only times out the wait for the headers; without this a connection that goes
 * silent halfway through a 100 GB file would block forever. Both steps are needed: JDK 17's
 * response stream swallows an interrupt and waits on, but notices it was closed once the interrupt
 * wakes it, and then throws an IOException, which the downloader treats like any dropped connection
 * (retry and resume).
 */
final class IdleWatch implements AutoCloseable {
  private final Thread reader = Thread.currentThread();
  private final long limitNanos;
  private final Closeable body;
  private final ScheduledFuture<?> check;
  private volatile long lastBeat = System.nanoTime();
  private boolean fired;
  private boolean closed;

  IdleWatch(Duration limit, ScheduledExecutorService timer, Closeable body) {
    this.body = body;
    this.limitNanos = limit.toNanos();
    long period = Math.max(limit.toMillis() / 4, 10);
    this.check = timer.scheduleAtFixedRate(this::check, period, period, TimeUnit.MILLISECONDS);
  }

  /** Data arrived. */
  void beat() {
    lastBeat = System.nanoTime();
  }

  synchronized boolean fired() {
    return fired;
  }

  private synchronized void check() {
    if (!closed && !fired && System.nanoTime() - lastBeat > limitNanos) {
      fired = true;
      try {
        body.close();
      } catch (IOException | RuntimeException e) {
        // Closing is best effort; the interrupt below still wakes the reader.
      }
      reader.interrupt();
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    check.cancel(false);
    if (fired) {
      // The interrupt was ours, not a request to stop: clear it so the retry can run.
      Thread.interrupted();
    }
  }
}
