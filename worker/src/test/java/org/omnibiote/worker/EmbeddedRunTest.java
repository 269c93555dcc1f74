package org.omnibiote.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.cluster.RunCompletion;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.metrics.MetricsLog;
import org.omnibiote.settings.TrainSettings;

/**
 * Whole embedded runs (coordinator and one worker in this JVM, the path of `train`) on a real
 * ingest of ../shared/data (original mixed tokenizer, vocabulary 65,536) with a tiny model: the
 * loss goes down, the run folder holds what it should, and a resumed run ends bit-identical to an
 * uninterrupted one.
 */
class EmbeddedRunTest {
  private static final int CTX = 64;
  private static final int BATCH = 8;
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path shards;
  @TempDir Path dir;

  @BeforeAll
  static void ingest() throws Exception {
    IngestOutputs.realIngest(shards);
  }

  /** Settings of a tiny run of {@code steps} steps saving to {@code runDir}/omnibiota. */
  static Config tiny(Path runDir, int steps, Map<String, Object> more) {
    Map<String, Object> m = new HashMap<>();
    m.put("base_dir", shards.toString());
    m.put("save_name", runDir.resolve("omnibiota").toString());
    m.put("n_layer", 1);
    m.put("n_embd", 32);
    m.put("n_head", 2);
    m.put("ctx_len", CTX);
    m.put("batch_size", BATCH);
    m.put("mini_batch_size", 4);
    m.put("lr", 0.1);
    m.put("token_budget", (double) steps * BATCH * CTX);
    m.put("test_freq", 4.0 * BATCH * CTX);
    m.put("save_freq", 1e12);
    m.put("progress_interval", 0);
    m.putAll(more);
    return ConfigFactory.parseMap(m).atPath(TrainSettings.PATH).withFallback(ConfigFactory.load());
  }

  static RunCompletion.Result train(Config c) throws IOException, InterruptedException {
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true);
    return EmbeddedRun.run(c, quiet);
  }

  static List<JsonNode> metrics(Path runDir) throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(runDir.resolve(MetricsLog.FILE))) {
      lines.add(JSON.readTree(line));
    }
    return lines;
  }

  @Test
  void theLossGoesDownAndTheRunFolderHoldsMetricsAndTheFinalCheckpoint() throws Exception {
    Path run = dir.resolve("run");
    RunCompletion.Result r = train(tiny(run, 24, Map.of("dropout", 0.0)));
    assertEquals(24, r.steps());
    assertEquals(24L * BATCH * CTX, r.tokens());
    List<JsonNode> steps = metrics(run).stream().filter(j -> j.has("loss")).toList();
    assertEquals(24, steps.size());
    double first = steps.get(0).get("loss").asDouble();
    double last =
        steps.subList(20, 24).stream()
            .mapToDouble(j -> j.get("loss").asDouble())
            .average()
            .orElseThrow();
    assertTrue(first > 10, "starts near ln(65536) = 11.09: " + first);
    assertTrue(last < first - 1, "the loss goes down: " + first + " -> " + last);
    JsonNode one = steps.get(5);
    for (String key :
        List.of(
            "step",
            "tokens",
            "samples",
            "loss",
            "lr",
            "batch",
            "tokens_per_s",
            "mfu",
            "mfu_original",
            "rss_mb",
            "gpu_mem_mb",
            "project")) {
      assertTrue(one.has(key), key + " in " + one);
    }
    assertEquals(6, one.get("step").asLong());
    assertEquals(6L * BATCH, one.get("samples").asLong());
    List<JsonNode> evals = metrics(run).stream().filter(j -> j.has("val_loss")).toList();
    assertEquals(6, evals.size(), "every 4 steps: " + evals);
    assertTrue(
        evals.get(0).get("val_loss").has("genbank")
            && evals.get(0).get("val_loss").has("uniref100"));
    assertTrue(Files.exists(run.resolve("omnibiota.safetensors")));
    assertTrue(Files.exists(run.resolve("omnibiota.checkpoint.json")));
  }

  @Test
  void aResumedRunEndsBitIdenticalToAnUninterruptedOne() throws Exception {
    // Dropout on, so the restored RNG state matters as much as the data position.
    Map<String, Object> more = Map.of("dropout", 0.1, "save_freq", 5.0 * BATCH * CTX);
    Path whole = dir.resolve("whole");
    train(tiny(whole, 10, more));

    // The same run interrupted after step 5: only that checkpoint survives, in a new folder.
    Path resumed = Files.createDirectories(dir.resolve("resumed"));
    String at = "omnibiota_" + 5 * BATCH * CTX;
    try (Stream<Path> files = Files.list(whole)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith(at + ".")).toList()) {
        Files.copy(f, resumed.resolve(f.getFileName()));
      }
    }
    RunCompletion.Result r =
        train(
            tiny(
                resumed,
                10,
                Map.of("dropout", 0.1, "save_freq", 5.0 * BATCH * CTX, "resume_from", "latest")));
    assertEquals(10, r.steps());
    assertArrayEquals(
        Files.readAllBytes(whole.resolve("omnibiota.safetensors")),
        Files.readAllBytes(resumed.resolve("omnibiota.safetensors")),
        "weights");
    assertArrayEquals(
        Files.readAllBytes(whole.resolve("omnibiota.optimizer.safetensors")),
        Files.readAllBytes(resumed.resolve("omnibiota.optimizer.safetensors")),
        "AdamW moments");
    List<Double> a =
        metrics(whole).stream()
            .filter(j -> j.has("loss") && j.get("step").asLong() > 5)
            .map(j -> j.get("loss").asDouble())
            .toList();
    List<Double> b =
        metrics(resumed).stream()
            .filter(j -> j.has("loss"))
            .map(j -> j.get("loss").asDouble())
            .toList();
    assertEquals(a, b, "the same losses after the resume point");
  }

  @Test
  void aNewRunRefusesAFolderThatHoldsCheckpointsAndAResumeRefusesOtherSettings() throws Exception {
    Path run = dir.resolve("run");
    train(tiny(run, 2, Map.of()));
    UserError again = assertThrows(UserError.class, () -> train(tiny(run, 2, Map.of())));
    assertTrue(again.getMessage().contains("--resume_from latest"), again.getMessage());
    assertEquals(
        2,
        train(tiny(run, 2, Map.of("resume_from", "latest"))).steps(),
        "resuming a finished run does nothing");
    UserError other =
        assertThrows(
            UserError.class,
            () -> train(tiny(run, 2, Map.of("resume_from", "latest", "mini_batch_size", 8))));
    assertTrue(other.getMessage().contains("mini_batch_size"), other.getMessage());
  }

  @Test
  void shardsFromAnotherTokenizerAreRefusedBeforeAnyWork() {
    Path nucleotide =
        Path.of(System.getProperty("omnibiote.shared"), "tokenizers", "nucleotide_bpe.model");
    Path run = dir.resolve("run");
    UserError e =
        assertThrows(
            UserError.class, () -> train(tiny(run, 2, Map.of("tokenizer", nucleotide.toString()))));
    assertTrue(e.getMessage().contains("not with --tokenizer"), e.getMessage());
    assertTrue(!Files.exists(run), "nothing written");
  }
}
