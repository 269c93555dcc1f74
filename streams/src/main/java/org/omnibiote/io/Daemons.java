package org.omnibiote.io;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadFactory;
import java.util.function.Supplier;

/**
 * Background threads that never keep the JVM alive: a command's helper threads (timers, tokenizer
 * pools, start-up work) must not delay its exit, whether it succeeded or failed.
 */
public final class Daemons {
  private Daemons() {}

  /** A thread factory whose threads are daemons named {@code name}. */
  public static ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Runs {@code work} on a new daemon thread named {@code name}; the future completes with its
   * result, or exceptionally with whatever it threw.
   */
  public static <T> CompletableFuture<T> supply(String name, Supplier<T> work) {
    CompletableFuture<T> result = new CompletableFuture<>();
    named(name)
        .newThread(
            () -> {
              try {
                result.complete(work.get());
              } catch (Throwable e) {
                result.completeExceptionally(e);
              }
            })
        .start();
    return result;
  }
}
