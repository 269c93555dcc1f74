package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coordinator and two workers as separate JVMs in three network namespaces, as on three
 * hosts: Artery membership and the workers' registration cross real veth interfaces (each
 * namespace's loopback reaches only itself), and a worker cut off from the network (its JVM
 * alive) is noticed by the failure detector alone.
 */
class NetNamespaceClusterTest {
  // Each namespace has its own ports: fixed numbers cannot clash with anything on the host.
  private static final int COORDINATOR_PORT = 25520;
  private static final int WORKER_PORT = 25521;
  private static final List<String> JVM = List.of("-Xmx256m", "-XX:TieredStopAtLevel=1");

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void theCoordinatorSeesBothWorkersOverTheirVethsAndLosesOneWhoseCableIsCut(@TempDir Path dir)
      throws Exception {
    try (NetNamespaces ns = NetNamespaces.create(3)) {
      String seed = ns.address(0) + ":" + COORDINATOR_PORT;
      Path coordinatorLog = dir.resolve("coordinator.log");
      Process coordinator = ns.exec(0, NetNamespaces.java("org.omnibiote.cli.Main", JVM, List.of(
          "coordinator", "--host", ns.address(0), "--port", Integer.toString(COORDINATOR_PORT),
          "--seed-nodes", seed)), coordinatorLog);
      Process[] workers = new Process[3];
      for (int i = 1; i <= 2; i++) {
        workers[i] = ns.exec(i, NetNamespaces.java("org.omnibiote.cli.Main", JVM, List.of(
            "worker", "--devices", "cpu", "--host", ns.address(i),
            "--port", Integer.toString(WORKER_PORT), "--seed-nodes", seed)),
            dir.resolve("worker" + i + ".log"));
      }

      String world = ns.awaitLine(coordinator, coordinatorLog,
          l -> l.contains("world: 2 workers"), "'world: 2 workers' from the coordinator",
          Duration.ofSeconds(90));
      for (int i = 1; i <= 2; i++) {
        // The worker describes itself with its namespace's address and its own pid (ip netns
        // exec execs java, so the Process's pid is the JVM's).
        String who = "cpu@" + ns.address(i) + " pid " + workers[i].pid();
        assertTrue(world.contains(who), "no " + who + " in: " + world + "\n" + ns.report());
        // Membership is by the veth address: the worker node is pekko://omnibiote@10.231.0.x.
        // (Its MemberUp may be logged just after the world line: the receptionist can list a
        // worker of a node the coordinator has not yet seen move to Up.)
        String up = "node pekko://omnibiote@" + ns.address(i) + ":" + WORKER_PORT
            + " up, roles [worker";
        ns.awaitLine(coordinator, coordinatorLog, l -> l.contains(up), "'" + up + "'",
            Duration.ofSeconds(30));
        long tx = ns.txBytes(i);
        long rx = ns.rxBytes(i);
        assertTrue(tx > 1000 && rx > 1000, "worker " + i + " eth0 carried only tx " + tx
            + " rx " + rx + " bytes\n" + ns.report());
      }
      System.out.println("coordinator in " + ns.name(0) + " at " + seed + ": " + world);

      // Cut worker 2's cable (its JVM keeps running): only the failure detector, over the
      // network, can tell; the coordinator must count it out of the world within seconds.
      int before = NetNamespaces.lineCount(coordinatorLog);
      ns.disconnect(2);
      long cut = System.nanoTime();
      String lost = "node pekko://omnibiote@" + ns.address(2) + ":" + WORKER_PORT + " unreachable";
      ns.awaitLine(coordinator, coordinatorLog, before, l -> l.contains(lost), "'" + lost + "'",
          Duration.ofSeconds(30));
      String one = ns.awaitLine(coordinator, coordinatorLog, before,
          l -> l.contains("world: 1 workers"), "'world: 1 workers' after the cut",
          Duration.ofSeconds(30));
      assertTrue(one.contains("cpu@" + ns.address(1) + " pid " + workers[1].pid()), one);
      assertTrue(workers[2].isAlive(), "worker 2 should only be cut off, not dead");
      System.out.printf("coordinator counted the cut-off worker out after %.1f s: %s%n",
          (System.nanoTime() - cut) / 1e9, one);
    }
  }
}
