package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.schedule.Ledger;

/**
 * {@code launch --hosts} for real: two network namespaces, each a "host" with its own address and
 * Debian's sshd on port 22, reached with a key made here. The launcher runs on the first host (as
 * one runs DeepSpeed's on a node of the cluster) and starts the coordinator and one worker per host
 * through ssh; {@code launch status} shows the nodes and the console's status; {@code launch stop}
 * ends the run with a checkpoint (the coordinator exits 0); the same {@code launch} again resumes
 * from that checkpoint. The run folder and shards are plain folders both namespaces see (network
 * namespaces share the file system), as shared storage would be.
 */
@Tag("long")
class SshLaunchTest {
  private static final List<String> JVM = List.of("-Xmx1g", "-XX:TieredStopAtLevel=1");
  private static final List<String> SMALL_JVM = List.of("-Xmx256m", "-XX:TieredStopAtLevel=1");
  // DistributedTrainingTest.flags: 8 rows a step. Far more steps than the test lets run.
  private static final int ROWS = 8;
  private static final int STEPS = 100_000;

  @TempDir static Path shards;
  @TempDir Path dir;

  @BeforeAll
  static void ingest() throws IOException {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  @Test
  @Timeout(value = 600, unit = TimeUnit.SECONDS)
  void aTwoHostRunStartsOverSshIsWatchedStopsWithACheckpointAndResumes() throws Exception {
    Path runDir = dir.resolve("run");
    Path keys = Files.createDirectory(dir.resolve("keys"));
    run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys + "/host"));
    run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keys + "/user"));
    Files.copy(keys.resolve("user.pub"), keys.resolve("authorized_keys"));
    // sshd's privilege-separation folder, which Debian's service creates at boot.
    Files.createDirectories(Path.of("/run/sshd"));

    Path omnibiote = dir.resolve("omnibiote");
    // The distribution as every host sees it: this test's classes (bin/omnibiote in real use).
    Files.writeString(
        omnibiote,
        "#!/bin/sh\n"
            + "OPENBLAS_NUM_THREADS=1 OPENBLAS_THREAD_TIMEOUT=4 OMP_NUM_THREADS=1\n"
            + "export OPENBLAS_NUM_THREADS OPENBLAS_THREAD_TIMEOUT OMP_NUM_THREADS\n"
            + "exec "
            + String.join(
                " ",
                NetNamespaces.java("org.omnibiote.cli.Main", JVM, List.of()).stream()
                    .map(SshLaunchTest::quote)
                    .toList())
            + " \"$@\"\n");
    Files.setPosixFilePermissions(omnibiote, PosixFilePermissions.fromString("rwxr-xr-x"));

    try (NetNamespaces ns = NetNamespaces.create(2)) {
      Path hostfile = dir.resolve("hosts.txt");
      Files.writeString(
          hostfile,
          "# two hosts, one worker each\n"
              + ns.address(0)
              + " slots=1\n\n"
              + ns.address(1)
              + "   slots=1   # the second host\n");
      for (int i = 0; i < 2; i++) {
        Path config = dir.resolve("sshd-" + i + ".conf");
        Files.writeString(
            config,
            String.join(
                "\n",
                "ListenAddress " + ns.address(i),
                "Port 22",
                "HostKey " + keys.resolve("host"),
                "AuthorizedKeysFile " + keys.resolve("authorized_keys"),
                // The key lives in a temp folder, not under a home with sshd's modes.
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "PidFile " + dir.resolve("sshd-" + i + ".pid"),
                ""));
        Path log = dir.resolve("sshd-" + i + ".log");
        Process sshd =
            ns.exec(i, List.of("/usr/sbin/sshd", "-D", "-e", "-f", config.toString()), log);
        ns.awaitLine(
            sshd,
            log,
            l -> l.contains("Server listening on"),
            "sshd listening",
            Duration.ofSeconds(30));
      }
      String ssh =
          "ssh -F /dev/null -i "
              + keys.resolve("user")
              + " -o StrictHostKeyChecking=no -o UserKnownHostsFile="
              + keys.resolve("known_hosts")
              + " -o LogLevel=ERROR";

      List<String> launch =
          new ArrayList<>(
              List.of(
                  "launch",
                  "--hosts",
                  hostfile.toString(),
                  "--ssh",
                  ssh,
                  "--omnibiote",
                  omnibiote.toString(),
                  "--run-dir",
                  runDir.toString()));
      launch.addAll(DistributedTrainingTest.flags(shards, runDir, STEPS, 1_000_000));

      // 1. Launch: both workers train across the two hosts.
      long t0 = System.nanoTime();
      String launched = cli(ns, "launch-1", launch, 0);
      assertTrue(launched.contains("started 2 workers on 2 hosts"), launched);
      awaitCommitted(ns, runDir, 3);
      System.out.printf("launch to 3 committed steps: %.1f s%n", (System.nanoTime() - t0) / 1e9);
      List<Ledger.Entry> entries = Ledger.read(runDir.resolve(Ledger.FILE));
      Ledger.Entry last = entries.get(entries.size() - 1);
      assertEquals(2, last.parts().size(), last.toString());
      for (int i = 0; i < 2; i++) {
        String at = "@" + ns.address(i) + " ";
        assertTrue(
            last.parts().stream().anyMatch(p -> p.worker().contains(at)),
            "a worker on " + ns.address(i) + " in " + last);
      }

      // 2. Status: every node running, and the console's status from the coordinator's host.
      String status =
          cli(ns, "status-1", List.of("launch", "status", "--run-dir", runDir.toString()), 0);
      assertEquals(3, count(status, " running "), status);
      assertTrue(status.contains("world:       generation"), status);
      assertTrue(status.contains("2 workers"), status);
      assertTrue(status.contains("step:"), status);

      // 3. Stop: the coordinator checkpoints and exits 0, the workers exit 0.
      String stopped =
          cli(ns, "stop-1", List.of("launch", "stop", "--run-dir", runDir.toString()), 0);
      Matcher m = Pattern.compile("stopped by SIGTERM at step ([\\d,]+)").matcher(stopped);
      assertTrue(m.find(), stopped);
      long stopStep = Long.parseLong(m.group(1).replace(",", ""));
      assertTrue(stopStep >= 3, stopped);
      assertTrue(stopped.contains("the coordinator exited 0"), stopped);
      assertEquals(2, count(stopped, ": exited 0"), stopped);
      List<Path> saved = Checkpoints.list(runDir, "omnibiota");
      assertEquals(1, saved.size(), stopped);
      assertEquals(stopStep, Checkpoints.readState(saved.get(0)).step(), stopped);
      String after =
          cli(ns, "status-2", List.of("launch", "status", "--run-dir", runDir.toString()), 0);
      assertEquals(0, count(after, " running "), after);
      assertTrue(after.contains("launch again to resume"), after);

      // 4. The same launch again resumes from that checkpoint.
      String again = cli(ns, "launch-2", launch, 0);
      assertTrue(again.contains("started 2 workers"), again);
      awaitCommitted(ns, runDir, stopStep + 2);
      String coordinatorLog =
          Files.readString(runDir.resolve("launch/coordinator.log"), StandardCharsets.UTF_8);
      assertTrue(
          coordinatorLog.contains(
              "at step " + stopStep + " (from checkpoint " + saved.get(0).toString()),
          coordinatorLog);
      String stopped2 =
          cli(ns, "stop-2", List.of("launch", "stop", "--run-dir", runDir.toString()), 0);
      assertTrue(stopped2.contains("the coordinator exited 0"), stopped2);
      System.out.printf("whole test: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }
    // Every sample of the committed steps of both launches trained exactly once.
    List<Ledger.Entry> entries = Ledger.read(runDir.resolve(Ledger.FILE));
    Ledger.checkExactlyOnce(entries, Ledger.stepsDone(entries) * ROWS);
  }

  /** Runs an omnibiote command in namespace 0 (the first host) and returns its output. */
  private String cli(NetNamespaces ns, String name, List<String> args, int expectedExit)
      throws Exception {
    Path log = dir.resolve(name + ".log");
    Process p = ns.exec(0, NetNamespaces.java("org.omnibiote.cli.Main", SMALL_JVM, args), log);
    int code = ns.awaitExit(p, Duration.ofMinutes(8));
    String out = Files.readString(log, StandardCharsets.UTF_8);
    System.out.println("----- " + name + " (exit " + code + ")\n" + out);
    assertEquals(expectedExit, code, name + ":\n" + out + "\n" + report(ns));
    return out;
  }

  private void awaitCommitted(NetNamespaces ns, Path runDir, long steps) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (DistributedTrainingTest.committed(runDir) < steps) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "the ledger did not reach " + steps + " committed steps\n" + report(ns));
      }
      Thread.sleep(500);
    }
  }

  /** The harness's logs plus every node's log in the run folder. */
  private String report(NetNamespaces ns) throws IOException {
    StringBuilder sb = new StringBuilder(ns.report());
    Path launchDir = dir.resolve("run/launch");
    if (Files.isDirectory(launchDir)) {
      try (var files = Files.list(launchDir)) {
        for (Path f : files.sorted().toList()) {
          sb.append("----- ").append(f).append('\n');
          sb.append(new String(Files.readAllBytes(f), StandardCharsets.UTF_8));
        }
      }
    }
    return sb.toString();
  }

  private static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  private static void run(List<String> cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
  }
}
