package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.data.IngestOutputs;

/**
 * deploy/slurm/omnibiote.sbatch on a real SLURM: Debian's munged, slurmctld and slurmd, a
 * single-node cluster of this host configured in a temporary folder (nothing of the host's is
 * changed). The job runs the coordinator and 2 CPU workers (srun, 2 tasks); SIGTERM to the batch
 * shell (what {@code --signal=B:TERM@300} sends before the time limit) after the first checkpoint
 * stops the coordinator, the job requeues itself, and the requeued job resumes the run from its
 * last checkpoint to the end, every sample trained exactly once.
 *
 * <p>Needs root, slurm-wlm and munge (.ci/run installs them). About 45 s (SLURM holds a requeued
 * job 2 minutes before it is eligible again; the test moves its start to now): tagged long with the
 * other tests that need system daemons.
 */
@Tag("long")
class SlurmJobTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  @TempDir Path dir;

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void aJobStoppedBySigtermRequeuesItselfAndResumesTheRunToItsEnd() throws Exception {
    Path shards = dir.resolve("shards");
    IngestOutputs.smallVocabularyIngest(shards, 512);
    org.omnibiote.model.TorchNatives.load(); // unpacked once, before the job's JVMs start
    try (Slurm slurm = Slurm.start(dir.resolve("slurm"))) {
      Path launcher = launcher(dir.resolve("omnibiote"));
      Path run = dir.resolve("run");
      int steps = 150;
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "sbatch",
                  "--parsable",
                  "--nodes=1",
                  "--ntasks-per-node=2",
                  "--gpus-per-node=0",
                  "--cpus-per-task=1",
                  "--time=10",
                  "--output=" + dir.resolve("job-%j.out"),
                  ROOT.resolve("deploy/slurm/omnibiote.sbatch").toString()));
      cmd.addAll(DistributedTrainingTest.flags(shards, run, steps, 10));
      String job =
          slurm
              .run(Map.of("OMNIBIOTE", launcher.toString(), "OMNIBIOTE_DEVICE", "cpu"), cmd)
              .strip();
      assertTrue(job.matches("\\d+"), job);
      Path out = dir.resolve("job-" + job + ".out");

      // The time limit's SIGTERM, once the run has a checkpoint to resume from.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
      while (Checkpoints.list(run, "omnibiota").isEmpty()) {
        assertTrue(System.nanoTime() < deadline, "no checkpoint within 180 s:\n" + read(out));
        Thread.sleep(200);
      }
      slurm.run(Map.of(), List.of("scancel", "--batch", "--signal=TERM", job));

      deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(360);
      String state = "";
      while (!state.equals("COMPLETED")) {
        String show = slurm.run(Map.of(), List.of("scontrol", "show", "job", job));
        Matcher m = Pattern.compile("JobState=(\\S+)").matcher(show);
        state = m.find() ? m.group(1) : "?";
        assertFalse(
            state.equals("FAILED") || state.equals("CANCELLED") || state.equals("TIMEOUT"),
            "job " + state + ":\n" + show + read(out) + slurm.log());
        assertTrue(
            System.nanoTime() < deadline,
            "job " + state + " after 360 s:\n" + show + read(out) + slurm.log());
        Thread.sleep(1000);
      }
      String log = read(out);
      assertTrue(log.contains("SIGTERM (time limit or preemption)"), log);
      assertTrue(log.contains("requeueing job " + job), log);
      assertTrue(log.contains("(restart 1)"), log);
      assertTrue(log.contains("the run is finished"), log);
      assertTrue(Checkpoints.exists(run, "omnibiota"), log);
      DistributedTrainingTest.checkLedger(run, steps);
      // The requeued coordinator continued from a checkpoint of the first (not from step 0).
      assertTrue(
          Pattern.compile("at step [1-9]\\d* \\(").matcher(log).find(),
          "the second coordinator resumed:\n" + log);
    }
  }

  private static String read(Path p) throws IOException {
    return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "(no job output yet)";
  }

  /** The job's launcher: this test's JVM and classpath, as NodeProcess starts nodes. */
  private static Path launcher(Path file) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Files.writeString(
        file,
        "#!/bin/sh\n"
            + "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENBLAS_THREAD_TIMEOUT=4\n"
            + "exec '"
            + java
            + "' -Xmx1g -XX:TieredStopAtLevel=1 -Domnibiote.distributed.settle=500ms -cp '"
            + System.getProperty("java.class.path")
            + "' org.omnibiote.cli.Main \"$@\"\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    return file;
  }

  /** munged, slurmctld and slurmd of a one-node cluster configured under {@code home}. */
  static final class Slurm implements AutoCloseable {
    private final Path home;
    private final Map<String, String> env;

    private Slurm(Path home) {
      this.home = home;
      this.env = Map.of("SLURM_CONF", home.resolve("slurm.conf").toString());
    }

    static Slurm start(Path home) throws Exception {
      Path munge = Files.createDirectories(home.resolve("munge"));
      Files.setPosixFilePermissions(munge, PosixFilePermissions.fromString("rwx------"));
      byte[] key = new byte[1024];
      new java.security.SecureRandom().nextBytes(key);
      Files.write(munge.resolve("munge.key"), key);
      Files.setPosixFilePermissions(
          munge.resolve("munge.key"), PosixFilePermissions.fromString("r--------"));
      for (String d : List.of("state", "spool", "log")) {
        Files.createDirectories(home.resolve(d));
      }
      String node = hostname();
      String conf =
          String.join(
              "\n",
              "ClusterName=omnibiote-test",
              "SlurmctldHost=" + node + "(127.0.0.1)",
              "SlurmUser=root",
              "SlurmdUser=root",
              "SlurmctldPort=" + freePort(),
              "SlurmdPort=" + freePort(),
              "AuthType=auth/munge",
              "CredType=cred/munge",
              // A requeued job may start once its credential has expired (cred_expire, 120 s by
              // default). Starting it sooner (scontrol update StartTime=now) makes slurmd refuse
              // it ("Job credential revoked") and the job FAILED: 10 s keeps the test short.
              "AuthInfo=socket=" + munge.resolve("munge.socket") + ",cred_expire=10",
              "StateSaveLocation=" + home.resolve("state"),
              "SlurmdSpoolDir=" + home.resolve("spool"),
              "SlurmctldPidFile=" + home.resolve("slurmctld.pid"),
              "SlurmdPidFile=" + home.resolve("slurmd.pid"),
              "SlurmctldLogFile=" + home.resolve("log/slurmctld.log"),
              "SlurmdLogFile=" + home.resolve("log/slurmd.log"),
              // No cgroups: processes tracked by their parents, tasks not confined.
              "ProctrackType=proctrack/linuxproc",
              "TaskPlugin=task/none",
              "JobAcctGatherType=jobacct_gather/none",
              "AccountingStorageType=accounting_storage/none",
              "SelectType=select/cons_tres",
              "SelectTypeParameters=CR_Core",
              "SchedulerType=sched/builtin",
              // The scheduler's periodic pass (60 s by default) is what starts a requeued job once
              // its begin time passes.
              "SchedulerParameters=sched_interval=2",
              "ReturnToService=2",
              "MpiDefault=none",
              "JobRequeue=1",
              "NodeName=" + node + " NodeAddr=127.0.0.1 CPUs=2 RealMemory=8000 State=UNKNOWN",
              "PartitionName=test Nodes=" + node + " Default=YES MaxTime=INFINITE State=UP",
              "");
      Files.writeString(home.resolve("slurm.conf"), conf);
      Slurm s = new Slurm(home);
      s.run(
          Map.of(),
          List.of(
              "munged",
              "--force",
              "--key-file=" + munge.resolve("munge.key"),
              "--socket=" + munge.resolve("munge.socket"),
              "--pid-file=" + munge.resolve("munged.pid"),
              "--log-file=" + munge.resolve("munged.log"),
              "--seed-file=" + munge.resolve("munged.seed")));
      s.run(Map.of(), List.of("slurmctld", "-i"));
      s.run(Map.of(), List.of("slurmd", "-N", node));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!s.run(Map.of(), List.of("sinfo", "-h", "-o", "%t")).strip().equals("idle")) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError(
              "the SLURM node is not idle after 60 s:\n"
                  + Files.readString(home.resolve("log/slurmctld.log"))
                  + Files.readString(home.resolve("log/slurmd.log")));
        }
        Thread.sleep(500);
      }
      return s;
    }

    /** The controller's and the node daemon's logs, to explain a job that went wrong. */
    String log() throws IOException {
      return "\n--- slurmctld.log ---\n"
          + read(home.resolve("log/slurmctld.log"))
          + "\n--- slurmd.log ---\n"
          + read(home.resolve("log/slurmd.log"));
    }

    /** Runs a SLURM command with this cluster's config; fails with its output unless exit 0. */
    String run(Map<String, String> extra, List<String> cmd) throws Exception {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().putAll(env);
      pb.environment().putAll(extra);
      pb.environment().keySet().removeIf(k -> k.startsWith("OMNIBIOTE_") && !extra.containsKey(k));
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new AssertionError(String.join(" ", cmd) + " failed:\n" + out);
      }
      return out;
    }

    @Override
    public void close() throws Exception {
      try {
        run(Map.of(), List.of("scancel", "--user=root"));
      } catch (AssertionError e) {
        // already gone
      }
      // The daemons this test started, by the pids they wrote.
      for (String pid : List.of("slurmd.pid", "slurmctld.pid", "munge/munged.pid")) {
        Path f = home.resolve(pid);
        if (Files.exists(f)) {
          ProcessHandle.of(Long.parseLong(Files.readString(f).strip()))
              .ifPresent(
                  h -> {
                    h.destroy();
                    try {
                      h.onExit().get(20, TimeUnit.SECONDS);
                    } catch (Exception e) {
                      h.destroyForcibly();
                    }
                  });
        }
      }
    }

    private static String hostname() throws IOException {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    }

    private static int freePort() throws IOException {
      try (ServerSocket s = new ServerSocket(0)) {
        return s.getLocalPort();
      }
    }
  }
}
