package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.data.IngestOutputs;

/**
 * deploy/image for real: {@code deploy/image/build.sh} builds the CPU image with podman on a base
 * it makes from Debian packages (debootstrap, podman import; no image registry), then the image
 * runs {@code omnibiote --help} and a tiny CPU training on shards mounted from the host, whose
 * per-step losses match the same run on the host.
 *
 * <p>Needs root, podman, runc and debootstrap (.ci/run installs them) and the distribution in
 * cli/target/omnibiote (any earlier {@code mvn package}; CI's first {@code mvn verify} makes it).
 * 122 s from nothing here (33 s with the base and layers cached): tagged {@code long}.
 */
@Tag("long")
class ContainerImageTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

  @TempDir Path dir;

  /**
   * What podman needs on hosts like this one: runc (crun refuses a cgroup v1/v2 hybrid that has a
   * controller on v2) and rlimits the host allows (podman's default nofile of 1048576 is above this
   * host's hard limit; nproc is capped at the kernel's pid_max).
   */
  static List<String> podmanOptions() throws Exception {
    String nofile = sh("ulimit -Hn").strip();
    String nproc = Files.readString(Path.of("/proc/sys/kernel/pid_max")).strip();
    return List.of(
        "--runtime", "runc",
        "--ulimit", "nofile=" + nofile + ":" + nofile,
        "--ulimit", "nproc=" + nproc + ":" + nproc);
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES)
  void theImageBuildsFromDebianPackagesAndTrainsLikeTheHost() throws Exception {
    assertTrue(
        Files.isDirectory(ROOT.resolve("cli/target/omnibiote/lib")),
        "no distribution in cli/target/omnibiote: run mvn -DskipTests package first");
    String tag = "localhost/omnibiote-test:" + ProcessHandle.current().pid();
    List<String> opts = podmanOptions();
    // --runtime is a global podman option for `run`, a build option for `build`.
    Result build =
        run(
            Map.of("OMNIBIOTE_BUILD_OPTS", String.join(" ", opts)),
            900,
            ROOT.resolve("deploy/image/build.sh").toString(),
            "--tag",
            tag);
    assertEquals(0, build.code, build.out);
    try {
      List<String> podman = new ArrayList<>(List.of("podman", "run", "--rm"));
      podman.addAll(opts);
      Result help = run(Map.of(), 120, concat(podman, tag, "--help"));
      assertEquals(0, help.code, help.out);
      assertTrue(help.out.contains("Usage: omnibiote"), help.out);
      assertTrue(help.out.contains("coordinator") && help.out.contains("worker"), help.out);

      Path data = Files.createDirectories(dir.resolve("data"));
      IngestOutputs.smallVocabularyIngest(data.resolve("shards"), 512);
      int steps = 12;
      List<String> inImage =
          DistributedTrainingTest.flags(
              Path.of("/data/shards"), Path.of("/data/run-image"), steps, 1000);
      List<String> mount =
          concat(podman, "-v", data + ":/data", "-e", "OMP_NUM_THREADS=1", tag, "train");
      Result train = run(Map.of(), 300, concat(mount, inImage.toArray(String[]::new)));
      assertEquals(0, train.code, train.out);
      assertTrue(train.out.contains("trained " + steps + " steps"), train.out);
      Path imageRun = data.resolve("run-image");
      assertTrue(Files.exists(imageRun.resolve("omnibiota.safetensors")), train.out);

      // The same run on the host: the image computes what the host computes.
      Path hostRun = data.resolve("run-host");
      try (NodeProcess host =
          new NodeProcess(
              "train-host",
              DistributedTrainingTest.args(
                  "train",
                  DistributedTrainingTest.flags(data.resolve("shards"), hostRun, steps, 1000)))) {
        assertEquals(0, host.exitCode(300), host.output());
      }
      Map<Long, Double> a = DistributedTrainingTest.perStep(imageRun, "loss");
      Map<Long, Double> b = DistributedTrainingTest.perStep(hostRun, "loss");
      assertEquals(b.keySet(), a.keySet());
      for (Long step : a.keySet()) {
        double rel = Math.abs(a.get(step) - b.get(step)) / Math.abs(b.get(step));
        assertTrue(
            rel < DistributedTrainingTest.LOSS_TOLERANCE,
            "step "
                + step
                + ": loss "
                + a.get(step)
                + " in the image, "
                + b.get(step)
                + " on the host");
      }
    } finally {
      run(Map.of(), 120, "podman", "rmi", "-f", tag);
    }
  }

  private static List<String> concat(List<String> head, String... tail) {
    List<String> out = new ArrayList<>(head);
    out.addAll(List.of(tail));
    return out;
  }

  private record Result(int code, String out) {}

  private static Result run(Map<String, String> env, long seconds, List<String> cmd)
      throws Exception {
    return run(env, seconds, cmd.toArray(String[]::new));
  }

  private static Result run(Map<String, String> env, long seconds, String... cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Path log = Files.createTempFile("omnibiote-image", ".log");
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(
          String.join(" ", cmd)
              + ": still running after "
              + seconds
              + " s:\n"
              + Files.readString(log));
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    Files.deleteIfExists(log);
    return new Result(p.exitValue(), out);
  }

  private static String sh(String script) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("sh", "-c", script).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    return out;
  }
}
