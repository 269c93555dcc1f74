package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.omnibiote.cli.CliRun.run;
import static org.omnibiote.cli.CliRun.shared;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.weights.ModelWeights;

/**
 * {@code finetune} on per-residue tasks (the ProteinGLUE layout, a per-token head) end to end, on a
 * small real task made by an independent reference (residue_hydropathy_task.py): 48-residue pieces
 * of human titin (the fasta3 example), each residue labelled by its class (charged, hydrophobic by
 * the Kyte-Doolittle scale, polar) or by the Kyte-Doolittle hydropathy of its 7-residue window as
 * Biopython computes it; the three residues at each end without a label. A tiny OmniBioTA is
 * pre-trained first (512-piece vocabulary, L2 N32). Fine-tuning beats the head alone on a randomly
 * initialised encoder; the token spans agree with spm_encode, the token labels with numpy's
 * bincount/mean, the metrics with scikit-learn's and SciPy's on the predictions written.
 */
class ResidueFinetuneCommandTest {
  private static final String PYTHON = "/usr/bin/python3";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private static Path tokenizer;
  private static Path checkpoint;
  private static Path tasks;

  @BeforeAll
  static void pretrainAndMakeTheTasks() throws Exception {
    TinyPretraining.Pretrained p = TinyPretraining.pretrain(dir, TinyPretraining.STEPS);
    tokenizer = p.tokenizer();
    Path run = p.run();
    checkpoint = run.resolve("omnibiota");
    tasks = dir.resolve("tasks");
    python(
        "residue_hydropathy_task.py",
        shared().resolve("data/deb-fasta3_36.3.8i.14-Nov-2020-1/seq/titin_hum.aa").toString(),
        tasks.toString());
  }

  @Test
  void residueClassesBeatTheHeadAloneOnARandomEncoderAndScoreAsScikitLearn() throws Exception {
    Path task = tasks.resolve("class");
    JsonNode tuned = finetune(task, "class-tuned");
    JsonNode control = finetune(task, "class-control", "--freeze", "--random-init");
    double a = tuned.get("dev").get("accuracy").asDouble();
    double b = control.get("dev").get("accuracy").asDouble();
    System.out.printf(
        "residue class, dev accuracy over tokens: fine-tuned %.4f, head alone on a random"
            + " encoder %.4f, margin %.4f%n",
        a, b, a - b);
    System.out.println("fine-tuned: " + summary(tuned));
    System.out.println("control: " + summary(control));
    assertTrue(a > b + 0.1, a + " against " + b);
    assertTrue(
        tuned.get("dev").get("mcc").asDouble() > control.get("dev").get("mcc").asDouble() + 0.2,
        summary(tuned) + " against " + summary(control));

    assertEquals("residue", tuned.get("layout").asText());
    assertEquals("classification", tuned.get("task_type").asText());
    assertEquals(3, tuned.get("classes").asInt());
    assertEquals(200, tuned.get("examples").get("train").get("sequences").asInt());
    assertEquals(200 * 48, tuned.get("examples").get("train").get("residues").asInt());
    assertEquals(200 * 42, tuned.get("examples").get("train").get("labelled_residues").asInt());
    assertEquals("accuracy", tuned.get("kept").get("metric").asText());
    List<String> csv = Files.readAllLines(dir.resolve("class-tuned/predictions.csv"));
    assertEquals(
        "split,id,position,residue,token,label,token_label,prediction,p0,p1,p2", csv.get(0));
    assertEquals(1 + 80 * 48, csv.size(), "a row per dev and test residue");
    OmniBioTA encoder = ModelWeights.load(dir.resolve("class-tuned/model.safetensors"));
    assertEquals(32, encoder.config().nEmbd());

    JsonNode check = check(task, "class-tuned");
    assertTrue(check.get("multi_residue_pieces").asInt() > 0, "some token covers residues");
    assertEquals(16, check.get("metrics_compared").asInt());
  }

  @Test
  void hydropathyValuesBeatTheHeadAloneOnARandomEncoderAndScoreAsSciPy() throws Exception {
    Path task = tasks.resolve("value");
    JsonNode tuned = finetune(task, "value-tuned");
    JsonNode control = finetune(task, "value-control", "--freeze", "--random-init");
    double a = tuned.get("dev").get("pearson").asDouble();
    double b = control.get("dev").get("pearson").asDouble();
    System.out.printf(
        "hydropathy value, dev Pearson over tokens: fine-tuned %.4f, head alone on a random"
            + " encoder %.4f, margin %.4f%n",
        a, b, a - b);
    System.out.println("fine-tuned: " + summary(tuned));
    System.out.println("control: " + summary(control));
    assertEquals("regression", tuned.get("task_type").asText());
    assertEquals("pearson", tuned.get("kept").get("metric").asText());
    assertTrue(a > b + 0.05, a + " against " + b);
    assertEquals(
        "split,id,position,residue,token,label,token_label,prediction",
        Files.readAllLines(dir.resolve("value-tuned/predictions.csv")).get(0));
    assertEquals(16, check(task, "value-tuned").get("metrics_compared").asInt());
  }

  @Test
  void aBadRowIsOneErrorNamingFileAndLineAndNothingIsWritten() throws Exception {
    Path good = tasks.resolve("class");
    String[][] cases = {
      // file, line (1-based, header 1), what replaces its labels' first item, expected message
      {"dev.csv", "4", "DROP", "47 labels for a sequence of 48 residues"},
      {"train.csv", "7", "x", "label 'x' (residue 1) is not a number"},
      {"test.csv", "3", "7", "label 7 (residue 1) never occurs in train.csv (classes 0-2)"},
    };
    for (String[] c : cases) {
      Path task = Files.createDirectories(dir.resolve("bad-" + c[0] + c[1]));
      for (String f : List.of("train.csv", "dev.csv", "test.csv")) {
        List<String> lines = new ArrayList<>(Files.readAllLines(good.resolve(f)));
        if (f.equals(c[0])) {
          int i = Integer.parseInt(c[1]) - 1;
          String[] cells = lines.get(i).split(",");
          String rest = cells[1].substring(cells[1].indexOf(' ') + 1);
          lines.set(i, cells[0] + "," + (c[2].equals("DROP") ? rest : c[2] + " " + rest));
        }
        Files.write(task.resolve(f), lines);
      }
      Path out = dir.resolve("bad-out-" + c[0] + c[1]);
      CliRun r =
          run(
              "finetune",
              "--checkpoint",
              checkpoint.toString(),
              "--tokenizer",
              tokenizer.toString(),
              "--task",
              task.toString(),
              "--steps",
              "2",
              "--output",
              out.toString());
      assertEquals(2, r.exitCode(), r.err());
      String expected = "error: " + task.resolve(c[0]) + ":" + c[1] + ": " + c[3];
      assertTrue(r.err().startsWith(expected), "expected '" + expected + "', got: " + r.err());
      assertFalse(r.err().contains("\tat "), r.err());
      assertFalse(Files.exists(out.resolve("metrics.json")));
      assertFalse(Files.exists(out.resolve("predictions.csv")));
    }
  }

  private static JsonNode finetune(Path task, String name, String... extra) throws Exception {
    List<String> args =
        new ArrayList<>(
            List.of(
                "finetune",
                "--checkpoint",
                checkpoint.toString(),
                "--tokenizer",
                tokenizer.toString(),
                "--task",
                task.toString(),
                "--steps",
                "60",
                "--batch-size",
                "16",
                "--micro-batch",
                "16",
                "--evals",
                "4",
                "--output",
                dir.resolve(name).toString()));
    args.addAll(List.of(extra));
    CliRun r = run(args.toArray(new String[0]));
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.err().contains("ETA"), "a progress line: " + r.err());
    return JSON.readTree(dir.resolve(name).resolve("metrics.json").toFile());
  }

  private static String summary(JsonNode m) {
    return "dev tokens "
        + m.get("dev")
        + ", dev residues "
        + m.get("dev_residues")
        + ", test residues "
        + m.get("test_residues");
  }

  /** The independent checks of residue_predictions_check.py; its JSON summary. */
  private static JsonNode check(Path task, String name) throws Exception {
    String out =
        python(
            "residue_predictions_check.py",
            task.toString(),
            dir.resolve(name).toString(),
            tokenizer.toString());
    System.out.println(name + " checked: " + out);
    return JSON.readTree(out);
  }

  private static String python(String script, String... args) throws Exception {
    if (!Files.isExecutable(Path.of(PYTHON))) {
      fail(PYTHON + " not found: apt-get install -y python3-biopython python3-sklearn");
    }
    Path file = Path.of(ResidueFinetuneCommandTest.class.getResource("/" + script).toURI());
    List<String> command = new ArrayList<>(List.of(PYTHON, file.toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      fail(script + " failed:\n" + out);
    }
    return out;
  }
}
