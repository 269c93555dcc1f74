package org.omnibiote.cluster;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGTERM as schedulers send it (SLURM before the time limit, Kubernetes on eviction, {@code
 * kill}): the first asks for a clean stop ({@code firstTerm}: a coordinator checkpoints at the next
 * step boundary and ends, a worker leaves its world at a step boundary); a second SIGTERM, or the
 * stop not done within {@code timeout}, exits at once with {@link #FORCED} (what is committed
 * stays: checkpoints are written atomically). Replaces the JVM's own SIGTERM handling, which would
 * start the shutdown hooks and end the node mid-step.
 */
public final class GracefulStop {
  private static final Logger log = LoggerFactory.getLogger(GracefulStop.class);

  /** Exit code of a node that stopped without a new checkpoint: resumable from the last one. */
  public static final int FORCED = 3;

  private GracefulStop() {}

  /** Installs the handler; {@code what} names the node in the log ("coordinator", "worker"). */
  public static void onSigterm(String what, Duration timeout, Runnable firstTerm) {
    AtomicBoolean asked = new AtomicBoolean();
    try {
      Signal.handle(
          new Signal("TERM"),
          sig -> {
            if (!asked.compareAndSet(false, true)) {
              log.warn("second SIGTERM: the {} exits now (exit {})", what, FORCED);
              // Not System.exit: the shutdown hooks (Pekko's coordinated shutdown) could wait
              // on the very node being stopped; a second SIGTERM means now.
              Runtime.getRuntime().halt(FORCED);
              return;
            }
            log.info(
                "SIGTERM: the {} stops cleanly at the next step boundary (a second SIGTERM, or"
                    + " {} s, exits at once)",
                what,
                timeout.toSeconds());
            Thread watchdog =
                new Thread(
                    () -> {
                      try {
                        Thread.sleep(timeout.toMillis());
                      } catch (InterruptedException e) {
                        return;
                      }
                      log.warn(
                          "the {} did not stop within {} s: exiting", what, timeout.toSeconds());
                      System.exit(FORCED);
                    },
                    "omnibiote-stop-timeout");
            watchdog.setDaemon(true);
            watchdog.start();
            try {
              firstTerm.run();
            } catch (RuntimeException e) {
              log.warn("clean stop failed ({}): exiting", e.toString());
              System.exit(FORCED);
            }
          });
    } catch (IllegalArgumentException e) {
      log.debug("SIGTERM cannot be handled here: {}", e.getMessage());
    }
  }
}
