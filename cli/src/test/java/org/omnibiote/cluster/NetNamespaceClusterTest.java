package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.schedule.Ledger;

/**
 * A training run with the coordinator and two workers as separate JVMs in three network namespaces,
 * as on three hosts: Artery membership, the coordinator's rendezvous store and the workers' Gloo
 * all-reduce all cross real veth interfaces (each namespace's loopback reaches only itself).
 * Mid-run one worker's cable is cut (its JVM alive): the failure detector alone can tell, the
 * survivor's all-reduce times out, and the run goes on without it.
 */
class NetNamespaceClusterTest {
  // Each namespace has its own ports: fixed numbers cannot clash with anything on the host.
  private static final int COORDINATOR_PORT = 25520;
  private static final int WORKER_PORT = 25521;
  private static final List<String> JVM = List.of("-Xmx1g", "-XX:TieredStopAtLevel=1");
  private static final int STEPS = 100;

  @TempDir static Path shards;

  @BeforeAll
  static void ingest() throws IOException {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void aRunTrainsAcrossNamespacesAndGoesOnWhenAWorkersCableIsCut(@TempDir Path dir)
      throws Exception {
    Path runDir = dir.resolve("run");
    try (NetNamespaces ns = NetNamespaces.create(3)) {
      String seed = ns.address(0) + ":" + COORDINATOR_PORT;
      Path coordinatorLog = dir.resolve("coordinator.log");
      List<String> coordinatorJvm = new ArrayList<>(JVM);
      // The survivor's all-reduce with the cut-off peer gives up after 10 s.
      coordinatorJvm.add("-Domnibiote.distributed.collective-timeout=10s");
      List<String> args =
          new ArrayList<>(
              List.of(
                  "coordinator",
                  "--host",
                  ns.address(0),
                  "--port",
                  Integer.toString(COORDINATOR_PORT),
                  "--seed-nodes",
                  seed,
                  "--min-workers",
                  "2"));
      args.addAll(DistributedTrainingTest.flags(shards, runDir, STEPS, 20));
      Process coordinator =
          ns.exec(
              0,
              NetNamespaces.java("org.omnibiote.cli.Main", coordinatorJvm, args),
              coordinatorLog);
      Process[] workers = new Process[3];
      for (int i = 1; i <= 2; i++) {
        workers[i] =
            ns.exec(
                i,
                NetNamespaces.java(
                    "org.omnibiote.cli.Main",
                    JVM,
                    List.of(
                        "worker",
                        "--devices",
                        "cpu",
                        "--host",
                        ns.address(i),
                        "--port",
                        Integer.toString(WORKER_PORT),
                        "--seed-nodes",
                        seed)),
                dir.resolve("worker" + i + ".log"));
      }

      String formed =
          ns.awaitLine(
              coordinator,
              coordinatorLog,
              l -> l.contains("world generation") && l.contains("formed"),
              "a world formed by the coordinator",
              Duration.ofMinutes(2));
      for (int i = 1; i <= 2; i++) {
        // Each worker describes itself with its namespace's address and its own pid (ip netns
        // exec execs java, so the Process's pid is the JVM's).
        String who = "cpu@" + ns.address(i) + " pid " + workers[i].pid();
        assertTrue(formed.contains(who), "no " + who + " in: " + formed + "\n" + ns.report());
      }
      ns.awaitLine(
          coordinator,
          coordinatorLog,
          l -> l.contains("step 20/" + STEPS),
          "step 20",
          Duration.ofMinutes(2));
      for (int i = 1; i <= 2; i++) {
        // 20 all-reduces of the gradients (180 KB of float32 each with the 512-piece vocabulary;
        // a 2-rank ring sends about that much each way) crossed each veth.
        long tx = ns.txBytes(i);
        assertTrue(
            tx > 20L * 170_000, "worker " + i + " eth0 sent only " + tx + " bytes\n" + ns.report());
      }

      int before = NetNamespaces.lineCount(coordinatorLog);
      ns.disconnect(2);
      long cut = System.nanoTime();
      String lost = "node pekko://omnibiote@" + ns.address(2) + ":" + WORKER_PORT + " unreachable";
      ns.awaitLine(
          coordinator,
          coordinatorLog,
          before,
          l -> l.contains(lost),
          "'" + lost + "'",
          Duration.ofSeconds(30));
      ns.awaitLine(
          coordinator,
          coordinatorLog,
          before,
          l -> l.contains("world generation") && l.contains("formed: [cpu@" + ns.address(1)),
          "a new world of the worker left",
          Duration.ofSeconds(60));
      System.out.printf(
          "cable of worker 2 cut: training again with worker 1 after %.1f s%n",
          (System.nanoTime() - cut) / 1e9);
      assertEquals(0, ns.awaitExit(coordinator, Duration.ofMinutes(2)), ns.report());
      assertTrue(
          workers[2].isAlive() || workers[2].exitValue() != 0,
          "worker 2 was only cut off, it never finished the run");
    }
    List<Ledger.Entry> entries = DistributedTrainingTest.checkLedger(runDir, STEPS);
    assertTrue(
        entries.get(0).parts().stream()
            .allMatch(p -> p.worker().contains("@" + NetNamespaces.SUBNET)),
        entries.get(0).toString());
    assertTrue(
        entries.stream().anyMatch(e -> e.status().equals(Ledger.Entry.ABORTED)),
        "an aborted step in the ledger");
  }
}
