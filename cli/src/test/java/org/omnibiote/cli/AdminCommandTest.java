package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.schedule.Ledger;

/**
 * {@code admin} against a real run: {@code train --workers 2} in a child JVM (a coordinator and two
 * worker JVMs over 127.0.0.1), watched and steered through its console: tables, --json, actions
 * with the run folder's token, an operator's eviction (the worker leaves for good and the run goes
 * on with the other), user errors as one line, and a stop that ends the run with exit 0.
 */
class AdminCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path shards;
  @TempDir Path dir;

  @BeforeAll
  static void ingest() throws Exception {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void adminWatchesAndSteersATwoWorkerRun() throws Exception {
    Path runDir = dir.resolve("run");
    Process train = startTrain(dir, shards, runDir);
    int port =
        Integer.parseInt(awaitFile(runDir.resolve("console-url")).replaceAll(".*:(\\d+)/$", "$1"));
    try {
      String run = runDir.toString();
      awaitTraining(run, 2);
      CliRun status = CliRun.run("admin", "status", "--run", run);
      assertTrue(status.out().contains("phase:       running"), status.out());
      assertTrue(status.out().contains("last step:   loss"), status.out());

      CliRun workers = CliRun.run("admin", "workers", "--run", run);
      assertEquals(0, workers.exitCode(), workers.err());
      assertTrue(workers.out().startsWith("ID  RANK  DEVICE"), workers.out());
      assertTrue(workers.out().contains("w1") && workers.out().contains("w2"), workers.out());

      JsonNode asJson = JSON.readTree(CliRun.run("admin", "workers", "--run", run, "--json").out());
      assertEquals(2, asJson.size());
      long pidOfRank1 = -1;
      String idOfRank1 = null;
      for (JsonNode w : asJson) {
        if (w.path("rank").asInt(-1) == 1) {
          pidOfRank1 = w.path("pid").asLong();
          idOfRank1 = w.path("id").asText();
        }
      }
      assertTrue(pidOfRank1 > 0, asJson.toString());

      // User errors: one line, exit 2.
      CliRun noToken = CliRun.run("admin", "pause", "--url", "http://127.0.0.1:" + port + "/");
      assertEquals(2, noToken.exitCode());
      assertTrue(noToken.err().contains("needs the console token"), noToken.err());
      CliRun badValue = CliRun.run("admin", "set", "save_freq=often", "--run", run);
      assertEquals(2, badValue.exitCode());
      assertTrue(badValue.err().contains("'often' is not a number"), badValue.err());
      CliRun noWorker = CliRun.run("admin", "evict", "w9", "--run", run);
      assertEquals(2, noWorker.exitCode());
      assertTrue(noWorker.err().contains("no worker w9"), noWorker.err());
      CliRun nobody = CliRun.run("admin", "status", "--url", "http://127.0.0.1:1/");
      assertEquals(2, nobody.exitCode());
      assertTrue(nobody.err().contains("no console at"), nobody.err());

      // Actions.
      CliRun set = CliRun.run("admin", "set", "keep_checkpoints=2", "--run", run);
      assertEquals(0, set.exitCode(), set.err());
      assertTrue(set.out().contains("keep_checkpoints"), set.out());
      CliRun cp = CliRun.run("admin", "checkpoint", "--run", run);
      assertEquals(0, cp.exitCode(), cp.err());
      await(
          () -> CliRun.run("admin", "checkpoints", "--run", run),
          r -> r.out().lines().count() == 2,
          "the checkpoint in the table");
      assertTrue(
          CliRun.run("admin", "checkpoints", "--run", run).out().contains("SHA-256 (weights)"));

      // An operator's eviction: that worker leaves for good, the run goes on with the other.
      final long evictedPid = pidOfRank1;
      CliRun evict = CliRun.run("admin", "evict", idOfRank1, "--run", run);
      assertEquals(0, evict.exitCode(), evict.err());
      await(
          () -> CliRun.run("admin", "status", "--run", run),
          r -> r.out().contains(", 1 workers"),
          "a world of the other worker");
      assertTrue(
          ProcessHandle.of(evictedPid).map(h -> h.onExit().join()).isPresent()
              || ProcessHandle.of(evictedPid).isEmpty(),
          "the evicted worker's JVM exits");
      long before = stepOf(CliRun.run("admin", "status", "--run", run).out());
      await(
          () -> CliRun.run("admin", "status", "--run", run),
          r -> stepOf(r.out()) > before + 3,
          "steps go on with one worker");
      CliRun listed = CliRun.run("admin", "workers", "--run", run);
      assertTrue(listed.out().contains("departed:"), listed.out());
      assertTrue(listed.out().contains("evicted by an operator"), listed.out());
      Thread.sleep(2000); // a launcher restart would have registered by now
      int live = 0;
      for (JsonNode w :
          JSON.readTree(CliRun.run("admin", "workers", "--run", run, "--json").out())) {
        live += w.hasNonNull("departed_at") ? 0 : 1;
      }
      assertEquals(1, live, "the launcher does not start an evicted worker again");

      CliRun events = CliRun.run("admin", "events", "--run", run);
      assertTrue(events.out().contains("action"), events.out());
      assertTrue(events.out().contains("[tok-"), "who did it: " + events.out());

      CliRun stop = CliRun.run("admin", "stop", "--run", run);
      assertEquals(0, stop.exitCode(), stop.err());
      assertTrue(train.waitFor(90, TimeUnit.SECONDS), "the run ends after stop");
      String log = Files.readString(dir.resolve("train.log"));
      assertEquals(0, train.exitValue(), log);
      assertTrue(log.contains("nothing is lost"), log);
      List<Ledger.Entry> ledger = Ledger.read(runDir.resolve(Ledger.FILE));
      List<String> actions = new ArrayList<>();
      ledger.stream().filter(e -> e.action() != null).forEach(e -> actions.add(e.action().name()));
      assertEquals(List.of("set", "checkpoint", "evict", "checkpoint", "stop"), actions);
    } finally {
      train.destroyForcibly();
      train.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** {@code train --workers 2} of a long run in a child JVM, its output in DIR/train.log. */
  static Process startTrain(Path dir, Path shards, Path runDir) throws java.io.IOException {
    return startTrain(dir, shards, runDir, List.of());
  }

  /** As {@link #startTrain(Path, Path, Path)}, with more system properties for the JVM. */
  static Process startTrain(Path dir, Path shards, Path runDir, List<String> properties)
      throws java.io.IOException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "-Domnibiote.distributed.settle=500ms"));
    cmd.addAll(properties);
    cmd.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            "org.omnibiote.cli.Main",
            "train",
            "--workers",
            "2",
            "--base_dir",
            shards.toString(),
            "--save_name",
            runDir.resolve("omnibiota").toString(),
            "--n_layer",
            "1",
            "--n_embd",
            "32",
            "--n_head",
            "2",
            "--ctx_len",
            "64",
            "--batch_size",
            "8",
            "--mini_batch_size",
            "2",
            "--token_budget",
            "1e9",
            "--save_freq",
            "1e12",
            "--test_freq",
            "1e12"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.redirectOutput(dir.resolve("train.log").toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("OMNIBIOTE_"));
    pb.environment().put("OMP_NUM_THREADS", "1");
    return pb.start();
  }

  /** Waits until the run's console shows a world of {@code workers} past step 2 (or later). */
  static void awaitTraining(String run, int workers) throws InterruptedException {
    await(
        () -> CliRun.run("admin", "status", "--run", run),
        r -> {
          long at = stepOf(r.out());
          return r.exitCode() == 0
              && r.out().contains("phase:       running")
              && r.out().contains(", " + workers + " workers")
              && at >= 2;
        },
        "a world of " + workers + " workers training");
    long now = stepOf(CliRun.run("admin", "status", "--run", run).out());
    await(
        () -> CliRun.run("admin", "status", "--run", run),
        r -> stepOf(r.out()) > now + 1,
        "steps with " + workers + " workers");
  }

  private static String awaitFile(Path f) throws Exception {
    long end = System.nanoTime() + 90_000_000_000L;
    while (System.nanoTime() < end) {
      if (Files.exists(f)) {
        return Files.readString(f).trim();
      }
      Thread.sleep(200);
    }
    throw new AssertionError("no " + f);
  }

  static long stepOf(String status) {
    for (String line : status.lines().toList()) {
      if (line.startsWith("step:")) {
        return Long.parseLong(line.substring(5).trim().split(" ")[0].replace(",", ""));
      }
    }
    return -1;
  }

  static void await(Supplier<CliRun> call, java.util.function.Predicate<CliRun> ok, String what)
      throws InterruptedException {
    long end = System.nanoTime() + 90_000_000_000L;
    CliRun last = null;
    while (System.nanoTime() < end) {
      last = call.get();
      if (ok.test(last)) {
        return;
      }
      Thread.sleep(250);
    }
    throw new AssertionError("timed out waiting for " + what + "; last: " + last);
  }
}
