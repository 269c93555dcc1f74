package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

/**
 * SIGTERM as a scheduler sends it, to real JVMs of {@code train --workers 2}: a worker sent SIGTERM
 * leaves at a step boundary and exits 0 (no step aborted, not started again) while the run goes on;
 * the coordinator's JVM sent SIGTERM checkpoints at the next boundary and exits 0, and that
 * checkpoint holds the state of the last committed step.
 */
class SigtermTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path shards;
  @TempDir Path dir;

  @BeforeAll
  static void ingest() throws Exception {
    IngestOutputs.smallVocabularyIngest(shards, 512);
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void aWorkerLeavesCleanlyAndTheCoordinatorCheckpointsThenExitsZero() throws Exception {
    Path runDir = dir.resolve("run");
    Process train = AdminCommandTest.startTrain(dir, shards, runDir);
    try {
      String run = runDir.toString();
      AdminCommandTest.awaitTraining(run, 2);
      long rank1 = -1;
      for (JsonNode w :
          JSON.readTree(CliRun.run("admin", "workers", "--run", run, "--json").out())) {
        if (w.path("rank").asInt(-1) == 1) {
          rank1 = w.path("pid").asLong();
        }
      }
      ProcessHandle worker = ProcessHandle.of(rank1).orElseThrow();
      new ProcessBuilder("kill", "-TERM", String.valueOf(rank1)).start().waitFor();
      worker.onExit().get(60, TimeUnit.SECONDS);
      AdminCommandTest.awaitTraining(run, 1);
      String events = CliRun.run("admin", "events", "--run", run).out();
      assertTrue(events.contains("it was sent SIGTERM and left at a step boundary"), events);
      assertTrue(!events.contains("aborted"), "no step was aborted: " + events);

      new ProcessBuilder("kill", "-TERM", String.valueOf(train.pid())).start().waitFor();
      assertTrue(train.waitFor(90, TimeUnit.SECONDS), "the coordinator stops");
      String log = Files.readString(dir.resolve("train.log"));
      assertEquals(0, train.exitValue(), log);
      assertTrue(log.contains("stopped by SIGTERM"), log);
      List<Path> saved = Checkpoints.list(runDir, "omnibiota");
      assertEquals(1, saved.size(), log);
      long step = Checkpoints.readState(saved.get(0)).step();
      assertTrue(log.contains(String.format("stopped by SIGTERM at step %,d", step)), log);
    } finally {
      train.destroyForcibly();
      train.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
