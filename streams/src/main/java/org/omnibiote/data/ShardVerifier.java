package org.omnibiote.data;

import java.io.IOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.omnibiote.UserError;
import org.omnibiote.shards.ShardWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks each shard of a run against the SHA-256 its manifest records, once, off the step's
 * critical path: a background thread hashes the shards in the order given (val first, then train),
 * and a read of a shard not yet checked either waits for the check under way or does it itself. A
 * shard whose bytes changed on disk is a {@link UserError} naming it and the command that repairs
 * it, raised by the next batch built (wherever in the data the damage is) and by every later read.
 *
 * <p>The check is of the whole file as it lies on disk (header and tokens), what {@link
 * ShardWriter} hashed when it wrote it. Hashing runs at ~1.5 GB/s per core with the SHA extensions
 * of current CPUs; the background thread has the lowest Java priority and one core, so it competes
 * with the step's threads for at most one core for the time the corpus takes to hash once.
 */
final class ShardVerifier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ShardVerifier.class);

  /**
   * What a shard must hash to.
   *
   * @param sha256 the manifest's SHA-256 of the file
   * @param name the shard as the user knows it (its path)
   * @param repair what to run to remake it, as one sentence
   */
  record Expected(String sha256, String name, String repair) {}

  private static final class Check {
    final ShardFile file;
    final Expected expected;
    final AtomicBoolean claimed = new AtomicBoolean();
    final CompletableFuture<Void> done = new CompletableFuture<>();

    Check(ShardFile file, Expected expected) {
      this.file = file;
      this.expected = expected;
    }
  }

  private final IdentityHashMap<ShardFile, Check> checks = new IdentityHashMap<>();
  private final List<Check> order = new ArrayList<>();
  private volatile UserError failure;
  private volatile boolean closed;
  private volatile boolean allVerified;
  private Thread background;

  /** Checks of {@code shards}, in the order the background thread takes them. */
  ShardVerifier(Map<ShardFile, Expected> shards) {
    shards.forEach(
        (f, e) -> {
          Check c = new Check(f, e);
          checks.put(f, c);
          order.add(c);
        });
    allVerified = order.isEmpty();
  }

  /** Starts the background checking (a daemon thread of the lowest priority). */
  // The priority is a hint (Linux ignores it without -XX:ThreadPriorityPolicy); correctness never
  // depends on it: a read waits for or does the check itself.
  @SuppressWarnings("ThreadPriorityCheck")
  synchronized void start() {
    if (background != null || order.isEmpty()) {
      return;
    }
    background = new Thread(this::runAll, "shard-verifier");
    background.setDaemon(true);
    background.setPriority(Thread.MIN_PRIORITY);
    background.start();
  }

  /** Throws the damage found so far, if any (cheap: called once per batch). */
  void throwIfDamaged() {
    UserError f = failure;
    if (f != null) {
      throw new UserError(f.getMessage(), f);
    }
  }

  /** Returns once {@code file} is known good; throws its damage as a {@link UserError}. */
  void ensure(ShardFile file) {
    if (file.verified) {
      return;
    }
    Check c = checks.get(file);
    if (c == null) {
      return; // a shard this verifier was not given (tests build streams by hand)
    }
    if (c.claimed.compareAndSet(false, true)) {
      check(c);
    }
    try {
      c.done.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while a shard was being checked", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof UserError u
          ? new UserError(u.getMessage(), u)
          : new IllegalStateException(cause);
    }
  }

  /** True once every shard has been checked and found good. */
  boolean allVerified() {
    return allVerified;
  }

  /** Waits until every shard is checked (tests and benchmarks); throws the first damage. */
  void awaitAll() {
    for (Check c : order) {
      ensure(c.file);
    }
  }

  /** Stops the background thread after the shard it is hashing (at most one shard's time). */
  @Override
  public void close() {
    closed = true;
  }

  private void runAll() {
    long t0 = System.nanoTime();
    long bytes = 0;
    int checked = 0;
    for (Check c : order) {
      if (closed) {
        return;
      }
      if (c.claimed.compareAndSet(false, true)) {
        bytes += c.file.fileBytes();
        check(c);
        checked++;
      }
    }
    for (Check c : order) {
      try {
        c.done.get();
      } catch (InterruptedException e) {
        return;
      } catch (ExecutionException e) {
        return; // reported where it was found
      }
    }
    allVerified = true;
    double s = (System.nanoTime() - t0) / 1e9;
    log.info(
        "all {} shards match their manifest SHA-256 ({} checked in the background, {} MB in"
            + " {} s)",
        order.size(),
        checked,
        String.format(java.util.Locale.ROOT, "%.1f", bytes / 1e6),
        String.format(java.util.Locale.ROOT, "%.2f", s));
  }

  private void check(Check c) {
    try {
      String actual = ShardWriter.sha256(c.file.path());
      if (!actual.equalsIgnoreCase(c.expected.sha256())) {
        UserError damage =
            new UserError(
                "shard "
                    + c.expected.name()
                    + " is damaged: its SHA-256 is "
                    + actual
                    + " but the manifest records "
                    + c.expected.sha256()
                    + "; to repair it, "
                    + c.expected.repair());
        failure = damage;
        log.error("{}", damage.getMessage());
        c.done.completeExceptionally(damage);
        return;
      }
      c.file.verified = true;
      c.done.complete(null);
    } catch (IOException e) {
      UserError unreadable =
          new UserError(
              "cannot read shard " + c.expected.name() + " to check it: " + e.getMessage(), e);
      failure = unreadable;
      c.done.completeExceptionally(unreadable);
    } catch (RuntimeException e) {
      c.done.completeExceptionally(e);
      throw e;
    }
  }
}
