package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.runlock.RunLock;

/**
 * One run per run folder, with real {@code train} processes: two started at once on the same
 * --save_name, exactly one runs and the other refuses naming it; the owner killed (kill -9), a new
 * run takes its stale lock over and resumes the run to its end.
 */
class RunFolderLockTest {
  @TempDir static Path shards;
  @TempDir Path dir;

  @BeforeAll
  static void ingest() throws IOException {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void twoRunsOnOneFolderRunOneAndAKilledOwnersLockIsTakenOver() throws Exception {
    Path run = dir.resolve("run");
    int steps = 150;
    List<String> flags = DistributedTrainingTest.flags(shards, run, steps, 10);
    String[] args = DistributedTrainingTest.args("train", flags);
    NodeProcess a = new NodeProcess("train-a", args);
    NodeProcess b = new NodeProcess("train-b", args);
    try (a;
        b) {
      // The refused one ends at once (before libtorch is loaded); the owner trains on.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (a.process.isAlive() && b.process.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      NodeProcess refused = a.process.isAlive() ? b : a;
      NodeProcess owner = refused == a ? b : a;
      assertEquals(2, refused.exitCode(5), refused.output());
      assertTrue(owner.process.isAlive(), "the owner runs on:\n" + owner.output());
      List<String> errors = refused.output().lines().filter(l -> l.contains("error:")).toList();
      assertEquals(1, errors.size(), refused.output());
      assertTrue(
          errors
              .get(0)
              .contains(
                  "error: the run folder "
                      + run
                      + " is in use by pid "
                      + owner.process.pid()
                      + " on host "),
          errors.get(0));
      assertEquals(owner.process.pid(), RunLock.owner(run).orElseThrow().pid());

      // kill -9 of the owner after its first checkpoint: its lock stays behind, stale.
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (Checkpoints.list(run, "omnibiota").isEmpty()) {
        assertTrue(owner.process.isAlive(), "the owner ended early:\n" + owner.output());
        assertTrue(System.nanoTime() < until, "no checkpoint:\n" + owner.output());
        Thread.sleep(100);
      }
      owner.process.destroyForcibly(); // SIGKILL: no shutdown hook runs
      owner.exitCode(10);
      assertEquals(owner.process.pid(), RunLock.owner(run).orElseThrow().pid());
    }

    // The same command again (as a requeued job would run it) takes the stale lock over.
    try (NodeProcess again =
        new NodeProcess(
            "train-again",
            DistributedTrainingTest.args("train", flags, "--resume_from", "latest"))) {
      assertEquals(0, again.exitCode(150), again.output());
      String out = again.output();
      assertTrue(out.contains("taking over the lock of the run folder " + run), out);
      assertTrue(out.contains("that process is gone"), out);
      assertTrue(out.contains("resuming from"), out);
      assertTrue(out.contains("trained " + steps + " steps"), out);
    }
    assertFalse(Files.exists(run.resolve(RunLock.FILE)), "the lock is released at the end");
    DistributedTrainingTest.checkLedger(run, steps);
  }
}
