package org.omnibiote.cluster;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.coordinator.Coordinator;
import org.omnibiote.metrics.MetricsLog;
import org.omnibiote.schedule.Ledger;

/**
 * The end of a run as the command that hosts the coordinator sees it: prints what the run left (as
 * the single-process trainer does) and turns the outcome into the command's exit.
 */
public final class RunCompletion implements Coordinator.RunListener {
  private final CompletableFuture<Integer> done = new CompletableFuture<>();
  private final PrintStream out;
  private final Path runDir;
  private volatile String failure;
  private volatile Result result;

  /** Where a finished run left things; {@code loss} is NaN when there was nothing to train. */
  public record Result(
      Path runDir, Path checkpoint, long steps, long tokens, double loss, boolean stopped) {}

  public RunCompletion(PrintStream out, Path runDir) {
    this.out = out;
    this.runDir = runDir;
  }

  @Override
  public void finished(Path checkpoint, long steps, long tokens, double loss) {
    result = new Result(runDir, checkpoint, steps, tokens, loss, false);
    if (Double.isNaN(loss)) {
      out.printf(
          Locale.ROOT,
          "the run already finished: %s is at step %,d, the end of its schedule;"
              + " nothing to do (a longer run is a new run with a larger --token_budget)%n",
          checkpoint,
          steps);
    } else {
      out.printf(
          Locale.ROOT, "trained %,d steps, %,d tokens; final loss %.4f%n", steps, tokens, loss);
    }
    out.println("  checkpoint: " + checkpoint);
    out.println("  metrics:    " + runDir.resolve(MetricsLog.FILE));
    out.println("  ledger:     " + runDir.resolve(Ledger.FILE));
    done.complete(0);
  }

  @Override
  public void stopped(Path checkpoint, long steps, long tokens, String by) {
    result = new Result(runDir, checkpoint, steps, tokens, Double.NaN, true);
    out.printf(
        Locale.ROOT,
        "stopped by %s at step %,d, %,d tokens: nothing is lost; the same command with"
            + " --resume_from latest continues it%n",
        by,
        steps,
        tokens);
    out.println("  checkpoint: " + checkpoint);
    out.println("  metrics:    " + runDir.resolve(MetricsLog.FILE));
    out.println("  ledger:     " + runDir.resolve(Ledger.FILE));
    done.complete(0);
  }

  @Override
  public void failed(String message, boolean userError) {
    failure = message;
    done.complete(userError ? 2 : 1);
  }

  /** The finished run (after {@link #await} returned 0). */
  public Result result() {
    return result;
  }

  /** Whether the run has ended (finished or failed); its workers exit then. */
  public boolean ended() {
    return done.isDone();
  }

  /**
   * Waits for the run's end or the node's termination, then lets the workers' Finish go out,
   * terminates the node and returns the exit code (a user error is thrown as a UserError).
   */
  public int await(ActorSystem<Void> system, ClusterNode.Settings settings)
      throws InterruptedException {
    CompletableFuture.anyOf(done, system.getWhenTerminated().toCompletableFuture()).join();
    if (!done.isDone()) {
      return ClusterNode.awaitTermination(system, settings);
    }
    Thread.sleep(1000); // the Finish messages to the workers
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().join();
    int code = done.join();
    if (code == 2) {
      throw new UserError(failure);
    }
    if (code != 0) {
      out.println("error: " + failure);
    }
    return code;
  }
}
