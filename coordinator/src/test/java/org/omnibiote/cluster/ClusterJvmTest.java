package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real cluster on 127.0.0.1: a coordinator JVM and two worker JVMs started through
 * {@code org.omnibiote.cli.Main}, then one worker killed with SIGKILL.
 */
class ClusterJvmTest {

  /** A child JVM whose merged stdout/stderr lines are queued for the test and kept for errors. */
  private static final class Node {
    final String name;
    final Process process;
    final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    final List<String> all = java.util.Collections.synchronizedList(new ArrayList<>());

    Node(String name, String... args) throws IOException {
      this(name, List.of(), args);
    }

    Node(String name, List<String> jvmOptions, String... args) throws IOException {
      this.name = name;
      List<String> cmd = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx256m", "-XX:TieredStopAtLevel=1"));
      cmd.addAll(jvmOptions);
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.omnibiote.cli.Main"));
      cmd.addAll(List.of(args));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("OPENBLAS_THREAD_TIMEOUT", "4");
      pb.environment().put("OMP_NUM_THREADS", "1");
      pb.environment().put("OPENBLAS_NUM_THREADS", "1");
      // The test's flags decide; stray OMNIBIOTE_* in the caller's environment must not.
      pb.environment().keySet().removeIf(k -> k.startsWith("OMNIBIOTE_"));
      process = pb.start();
      Thread reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            all.add(line);
            lines.add(line);
          }
        } catch (IOException e) {
          all.add("(output closed: " + e + ")");
        }
      }, name + "-output");
      reader.setDaemon(true);
      reader.start();
    }

    /** Waits for a line matching {@code p}; fails with this node's whole output otherwise. */
    String await(Predicate<String> p, String what, long seconds) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      while (System.nanoTime() < deadline) {
        String line = lines.poll(200, TimeUnit.MILLISECONDS);
        if (line != null && p.test(line)) {
          return line;
        }
        if (line == null && !process.isAlive() && lines.isEmpty()) {
          break;
        }
      }
      fail(name + ": no line with " + what + " within " + seconds + " s; output:\n"
          + String.join("\n", all));
      return null;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void theCoordinatorSeesTwoWorkersAndNoticesAKilledOneWithinSeconds() throws Exception {
    List<Node> nodes = new ArrayList<>();
    try {
      int port = freePort();
      String seed = "127.0.0.1:" + port;
      Node coordinator = new Node("coordinator", "coordinator",
          "--host", "127.0.0.1", "--port", Integer.toString(port), "--seed-nodes", seed);
      nodes.add(coordinator);
      Node w1 = new Node("worker1", "worker", "--host", "127.0.0.1", "--port", "0",
          "--seed-nodes", seed, "--devices", "cpu");
      nodes.add(w1);
      Node w2 = new Node("worker2", "worker", "--host", "127.0.0.1", "--port", "0",
          "--seed-nodes", seed, "--devices", "cpu");
      nodes.add(w2);

      String two = coordinator.await(l -> l.contains("world: 2 workers"), "world: 2 workers", 60);
      long pid1 = w1.process.pid();
      long pid2 = w2.process.pid();
      assertTrue(two.contains("cpu@127.0.0.1 pid " + pid1), two);
      assertTrue(two.contains("cpu@127.0.0.1 pid " + pid2), two);

      w1.process.destroyForcibly();
      long killed = System.nanoTime();
      String one = coordinator.await(l -> l.contains("world: 1 workers"), "world: 1 workers", 15);
      double seconds = (System.nanoTime() - killed) / 1e9;
      assertTrue(one.contains("pid " + pid2), one);
      assertFalse(one.contains("pid " + pid1 + "]") || one.contains("pid " + pid1 + ","), one);
      System.out.printf("coordinator saw the killed worker leave after %.1f s: %s%n", seconds, one);
      // Unreachable (failure detector), then downed by the Split Brain Resolver and removed.
      coordinator.await(l -> l.contains("removed"), "the killed node removed", 20);
    } finally {
      for (Node n : nodes) {
        n.process.destroyForcibly();
      }
      for (Node n : nodes) {
        n.process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aWorkerWhoseSeedNodeIsNotThereSaysSoAndExitsWithTheUserErrorCode() throws Exception {
    String seed = "127.0.0.1:" + freePort();
    Node worker = new Node("worker", List.of(
        "-Dpekko.cluster.shutdown-after-unsuccessful-join-seed-nodes=3s"),
        "worker", "--port", "0", "--seed-nodes", seed);
    try {
      worker.await(l -> l.startsWith("error: could not join the cluster through seed nodes")
          && l.contains(seed), "the join error", 40);
      assertTrue(worker.process.waitFor(10, TimeUnit.SECONDS), "worker still running");
      assertEquals(2, worker.process.exitValue());
    } finally {
      worker.process.destroyForcibly();
    }
  }
}
