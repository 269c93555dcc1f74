package org.omnibiote.collective;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rank whose peer's JVM is killed in the middle of an all-reduce gets an exception, not a hang.
 */
class PeerDeathTest {
  @Test
  void aKilledPeerMakesTheAllReduceThrowWithinTheTimeout(@TempDir Path dir) throws Exception {
    try (CollectiveProcesses ranks = new CollectiveProcesses("stall", 2, dir)) {
      assertTrue(
          ranks.awaitLog(0, "READY", 40) && ranks.awaitLog(1, "READY", 10),
          "ranks did not form a group:\n" + ranks.allLogs());
      Thread.sleep(500); // rank 0 is now waiting inside the all-reduce
      long killed = System.nanoTime();
      ranks.process(1).destroyForcibly();
      long limit = RankMain.TIMEOUT.toSeconds() + 5;
      assertTrue(
          ranks.process(0).waitFor(limit, java.util.concurrent.TimeUnit.SECONDS),
          "rank 0 still blocked " + limit + " s after its peer died:\n" + ranks.allLogs());
      String log = ranks.log(0);
      System.out.print(log);
      System.out.printf(
          "rank 0 exited %d ms after the kill%n", (System.nanoTime() - killed) / 1_000_000);
      assertTrue(log.contains("CAUGHT"), "no exception reported:\n" + ranks.allLogs());
    }
  }

  /**
   * A hung peer (its JVM stopped with SIGSTOP: sockets open, nothing answers) makes the all-reduce
   * fail with the collective timeout, not the 30-minute default.
   */
  @Test
  void aHungPeerMakesTheAllReduceTimeOut(@TempDir Path dir) throws Exception {
    try (CollectiveProcesses ranks = new CollectiveProcesses("stall", 2, dir)) {
      assertTrue(
          ranks.awaitLog(0, "READY", 40) && ranks.awaitLog(1, "READY", 10),
          "ranks did not form a group:\n" + ranks.allLogs());
      Process stop =
          new ProcessBuilder("kill", "-STOP", Long.toString(ranks.process(1).pid())).start();
      assertTrue(
          stop.waitFor(5, java.util.concurrent.TimeUnit.SECONDS) && stop.exitValue() == 0,
          "kill -STOP failed");
      long limit = RankMain.TIMEOUT.toSeconds() + 10;
      assertTrue(
          ranks.process(0).waitFor(limit, java.util.concurrent.TimeUnit.SECONDS),
          "rank 0 still blocked " + limit + " s after its peer hung:\n" + ranks.allLogs());
      String log = ranks.log(0);
      System.out.print(log);
      assertTrue(log.contains("CAUGHT"), "no exception reported:\n" + ranks.allLogs());
    }
  }
}
