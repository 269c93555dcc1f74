package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;
import static org.omnibiote.cli.CliRun.shared;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.metrics.MetricsLog;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.weights.ModelWeights;
import org.omnibiote.weights.SafeTensors;

/**
 * {@code eval} and {@code finetune} end to end on the shared data, with a tiny OmniBioTA that the
 * test pre-trains first (a 512-piece vocabulary learnt from the ingest fixture's records, L2 N32,
 * 64-token rows): eval's loss is train's own val loss on the same micro-batch, and the same over
 * every val row with two evaluation JVMs; finetune on the GUE sample and on ProNAB writes its
 * outputs, and beats the head trained alone on a randomly initialised encoder.
 */
class EvalAndFinetuneCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CTX = TinyPretraining.CTX;
  private static final int BATCH = TinyPretraining.BATCH;
  private static final int STEPS = TinyPretraining.STEPS;
  private static final long EVERY = 20L * BATCH * CTX;

  @TempDir static Path dir;
  private static Path shards;
  private static Path tokenizer;
  private static Path run;

  @BeforeAll
  static void ingestAndPretrain() throws Exception {
    TinyPretraining.Pretrained p =
        TinyPretraining.pretrain(
            dir, (int) (EVERY / (BATCH * CTX)), "--test_freq", Long.toString(EVERY));
    shards = p.shards();
    tokenizer = p.tokenizer();
    run = p.run();
  }

  @Test
  void evalGivesTrainsValLossOnTheSameMicroBatch() throws Exception {
    List<JsonNode> vals = new ArrayList<>();
    for (String line : Files.readAllLines(run.resolve(MetricsLog.FILE))) {
      JsonNode j = JSON.readTree(line);
      if (j.has("val_loss")) {
        vals.add(j);
      }
    }
    assertEquals(STEPS * BATCH * CTX / EVERY, vals.size(), "a val line per checkpoint");
    for (JsonNode v : vals) {
      long tokens = v.get("tokens").asLong();
      Path out = dir.resolve("eval-" + tokens + ".json");
      // The last step's checkpoint is the run's final one, named without its tokens.
      String name = v.get("step").asLong() == STEPS ? "omnibiota" : "omnibiota_" + tokens;
      CliRun r =
          run(
              "eval",
              "--checkpoint",
              run.resolve(name).toString(),
              "--base_dir",
              shards.toString(),
              "--max_rows",
              "4",
              "--batch_size",
              "4",
              "--output",
              out.toString());
      assertEquals(0, r.exitCode(), r.err());
      JsonNode e = JSON.readTree(out.toFile());
      for (String set : List.of("genbank", "uniref100")) {
        double train = v.get("val_loss").get(set).asDouble();
        double eval = e.get("datasets").get(set).get("loss").asDouble();
        System.out.printf(
            "step %d %s: train val_loss %.17g, eval %.17g%n",
            v.get("step").asLong(), set, train, eval);
        assertEquals(train, eval, 1e-12 * train, set + " at " + tokens + " tokens");
        assertEquals(4, e.get("datasets").get(set).get("rows").asLong());
      }
      assertTrue(r.out().contains("perplexity"), r.out());
    }
  }

  @Test
  void evalOverEveryValRowIsTheSameInOneJvmAndSpreadOverTwo() throws Exception {
    Path one = dir.resolve("all-one.json");
    Path two = dir.resolve("all-two.json");
    CliRun a =
        run(
            "eval",
            "--checkpoint",
            run.resolve("omnibiota").toString(),
            "--base_dir",
            shards.toString(),
            "--output",
            one.toString());
    assertEquals(0, a.exitCode(), a.err());
    CliRun b =
        run(
            "eval",
            "--checkpoint",
            run.resolve("omnibiota").toString(),
            "--base_dir",
            shards.toString(),
            "--workers",
            "2",
            "--output",
            two.toString());
    assertEquals(0, b.exitCode(), b.err());
    JsonNode x = JSON.readTree(one.toFile()).get("datasets");
    JsonNode y = JSON.readTree(two.toFile()).get("datasets");
    for (String set : List.of("genbank", "uniref100")) {
      System.out.println(set + " " + x.get(set) + " / " + y.get(set));
      assertTrue(x.get(set).get("rows").asLong() > 4, "every val row, not one micro-batch");
      assertEquals(x.get(set).get("rows"), y.get(set).get("rows"));
      assertEquals(x.get(set).get("masked_tokens"), y.get(set).get("masked_tokens"));
      double l = x.get(set).get("loss").asDouble();
      assertEquals(l, y.get(set).get("loss").asDouble(), 1e-6 * l);
      assertEquals(Math.exp(l), x.get(set).get("perplexity").asDouble(), 1e-9 * Math.exp(l));
    }
  }

  @Test
  void finetuneOnTheGueSampleWritesItsOutputsAndBeatsTheHeadAloneOnARandomEncoder()
      throws Exception {
    Path task = shared().resolve("data/gh-MAGICS-LAB-DNABERT_2/sample_data");
    Path tuned = dir.resolve("gue-tuned");
    Path control = dir.resolve("gue-control");
    String[] common = {
      "finetune",
      "--checkpoint",
      run.resolve("omnibiota").toString(),
      "--tokenizer",
      tokenizer.toString(),
      "--task",
      task.toString(),
      "--steps",
      "40",
      "--batch-size",
      "8",
      "--evals",
      "4"
    };
    CliRun a = run(concat(common, "--output", tuned.toString()));
    assertEquals(0, a.exitCode(), a.err());
    assertTrue(a.err().contains("ETA"), "a progress line: " + a.err());
    CliRun b = run(concat(common, "--output", control.toString(), "--freeze", "--random-init"));
    assertEquals(0, b.exitCode(), b.err());
    JsonNode ma = JSON.readTree(tuned.resolve("metrics.json").toFile());
    JsonNode mb = JSON.readTree(control.resolve("metrics.json").toFile());
    double devTuned = ma.get("dev").get("mcc").asDouble();
    double devControl = mb.get("dev").get("mcc").asDouble();
    System.out.printf(
        "GUE sample dev MCC: fine-tuned %.4f, head alone on a random encoder %.4f, margin %.4f%n",
        devTuned, devControl, devTuned - devControl);
    System.out.println("fine-tuned: dev " + ma.get("dev") + " test " + ma.get("test"));
    System.out.println("control: dev " + mb.get("dev") + " test " + mb.get("test"));
    assertTrue(devTuned > devControl + 0.2, devTuned + " against " + devControl);

    // The outputs: the settings beside the metrics, a prediction per dev and test row, and the
    // weights: the encoder under its original names (encode and ModelWeights read it) + head.
    assertEquals("classification", ma.get("task_type").asText());
    assertEquals(40, ma.get("settings").get("steps").asLong());
    assertEquals("first", ma.get("settings").get("pooling").asText());
    assertEquals(5, ma.get("dev_history").size(), "before step 1, every 10 steps, and at the end");
    List<String> csv = Files.readAllLines(tuned.resolve("predictions.csv"));
    assertEquals("split,id,label,prediction,p0,p1", csv.get(0));
    assertEquals(1 + 15 + 15, csv.size());
    Path weights = tuned.resolve("model.safetensors");
    SafeTensors.Contents c = SafeTensors.read(weights);
    assertTrue(c.tensors().containsKey("head.weight") && c.tensors().containsKey("head.bias"));
    assertTrue(c.tensors().containsKey("transformer.wte.weight"));
    OmniBioTA encoder = ModelWeights.load(weights);
    assertEquals(32, encoder.config().nEmbd());
    assertFalse(Files.exists(control.resolve("model.safetensors.tmp")));
  }

  @Test
  void finetuneOnProNabTestsEveryMeasurementOnceInFoldsThatShareNoProtein() throws Exception {
    // Every 48th protein of the original file: 16 proteins, a few hundred measurements.
    Path subset = dir.resolve("pronab-subset.json");
    JsonNode all =
        JSON.readTree(
            shared().resolve("data/omnibiote-datasets/pronab_no_mutations.json").toFile());
    ObjectNode some = JSON.createObjectNode();
    int i = 0;
    for (var e : all.properties()) {
      if (i++ % 48 == 0) {
        some.set(e.getKey(), e.getValue());
      }
    }
    Files.write(subset, JSON.writeValueAsBytes(some));
    Path out = dir.resolve("pronab");
    CliRun r =
        run(
            "finetune",
            "--checkpoint",
            run.resolve("omnibiota").toString(),
            "--tokenizer",
            tokenizer.toString(),
            "--task",
            subset.toString(),
            "--folds",
            "3",
            "--steps",
            "4",
            "--batch-size",
            "8",
            "--max-length",
            "32",
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.err());
    JsonNode m = JSON.readTree(out.resolve("metrics.json").toFile());
    long measurements = m.get("examples").get("measurements").asLong();
    assertEquals(3, m.get("folds").size());
    assertTrue(m.get("pooled").has("pearson") && m.get("fold_mean").has("spearman"), m.toString());
    List<String> csv = Files.readAllLines(out.resolve("predictions.csv"));
    assertEquals("fold,id,label,prediction", csv.get(0));
    assertEquals(measurements, csv.size() - 1, "every measurement predicted once");
    Map<String, String> foldOfAccession = new HashMap<>();
    Set<String> ids = new HashSet<>();
    for (String line : csv.subList(1, csv.size())) {
      String[] f = line.split(",");
      assertTrue(ids.add(f[1]), "measurement " + f[1] + " in one test fold only");
      String accession = f[1].substring(0, f[1].indexOf('#'));
      String before = foldOfAccession.putIfAbsent(accession, f[0]);
      assertTrue(before == null || before.equals(f[0]), accession + " in two folds");
    }
    for (int f = 0; f < 3; f++) {
      assertTrue(Files.exists(out.resolve("fold-" + f + ".safetensors")));
    }
  }

  @Test
  void aBadCsvRowIsOneErrorNamingFileAndLineAndNothingIsWritten() throws Exception {
    Path task = Files.createDirectories(dir.resolve("bad-task"));
    Path sample = shared().resolve("data/gh-MAGICS-LAB-DNABERT_2/sample_data");
    for (String f : List.of("train.csv", "dev.csv", "test.csv")) {
      Files.copy(sample.resolve(f), task.resolve(f));
    }
    List<String> dev = new ArrayList<>(Files.readAllLines(task.resolve("dev.csv")));
    dev.set(4, dev.get(4).replace(",", ",x"));
    Files.write(task.resolve("dev.csv"), dev);
    Path out = dir.resolve("bad-out");
    CliRun r =
        run(
            "finetune",
            "--checkpoint",
            run.resolve("omnibiota").toString(),
            "--tokenizer",
            tokenizer.toString(),
            "--task",
            task.toString(),
            "--steps",
            "2",
            "--output",
            out.toString());
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(r.err().startsWith("error: " + task.resolve("dev.csv") + ":5: label"), r.err());
    assertFalse(r.err().contains("\tat "), r.err());
    assertFalse(Files.exists(out.resolve("metrics.json")));
  }

  private static String[] concat(String[] a, String... b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
