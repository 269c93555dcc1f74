package org.omnibiote.download;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Interrupts the reading thread when a response body stalls for longer than the read
 * timeout. HttpClient only times out the wait for the headers; without this a connection
 * that goes silent halfway through a 100 GB file would block forever. Reading a response
 * body and writing a FileChannel both give up with an IOException when interrupted, which
 * the downloader then treats like any dropped connection (retry and resume).
 */
final class IdleWatch implements AutoCloseable {
  private final Thread reader = Thread.currentThread();
  private final long limitNanos;
  private final ScheduledFuture<?> check;
  private volatile long lastBeat = System.nanoTime();
  private boolean fired;
  private boolean closed;

  IdleWatch(Duration limit, ScheduledExecutorService timer) {
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
