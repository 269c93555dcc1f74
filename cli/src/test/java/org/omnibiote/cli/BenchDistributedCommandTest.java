package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.bench.DistributedBenchmark;
import picocli.CommandLine;

class BenchDistributedCommandTest {
  private static final String NUMBER = "(-?[0-9][0-9,]*\\.?[0-9]*)";

  private static DistributedBenchmark.Options parse(String... args) {
    BenchDistributedCommand command = new BenchDistributedCommand();
    new CommandLine(command).parseArgs(args);
    return command.options();
  }

  /**
   * A tiny model (vocab 256, small buckets so that there are several) through one worker JVM and
   * two: every mode's step time and tokens/s, the raw Gloo rate and the ratios come out as finite
   * positive numbers that agree with each other, and the GPU estimate is printed.
   */
  @Test
  void aTinyRunPrintsEveryModeWithSaneNumbers() {
    int tokensPerStep = 2 * 2 * 32; // micro-batches x mini_batch_size x ctx_len
    CliRun run =
        CliRun.run(
            "bench",
            "distributed",
            "--n_layer",
            "2",
            "--n_embd",
            "32",
            "--n_head",
            "4",
            "--ctx_len",
            "32",
            "--vocab_size",
            "256",
            "--mini_batch_size",
            "2",
            "--micro-batches",
            "2",
            "--steps",
            "3",
            "--warmup",
            "1",
            "--bucket-mb",
            "0.01",
            "--timeout",
            "60");
    assertEquals(0, run.exitCode(), run.err() + run.out());
    String out = run.out();
    double one = stepMs(out, "(a)  1 worker", tokensPerStep);
    stepMs(out, "(a1) 1 worker (1 thread)", tokensPerStep);
    double local = stepMs(out, "(a2) 2 workers, no communication", 2 * tokensPerStep);
    double after = stepMs(out, "(b)  2 workers, all-reduce after backward", 2 * tokensPerStep);
    double overlap = stepMs(out, "(c)  2 workers, c10d Reducer", 2 * tokensPerStep);
    // b - a2 and c - a2 are medians of per-round differences: numbers, of either sign under noise.
    double b = number(out, "all-reduce without overlap  b - a2 = +" + NUMBER + " ms");
    double c = number(out, "exposed with overlap        c - a2 = +" + NUMBER + " ms");
    assertTrue(Double.isFinite(b) && Double.isFinite(c), out);
    assertTrue(after > 0 && local > 0 && overlap > 0, out);
    // Inside (b): Gloo is part of the all-reduce phase, both measured, both positive.
    double phase =
        number(out, "copy into buckets \\+ Gloo \\+ divide \\+ copy back " + NUMBER + " ms");
    double gloo = number(out, "copy back [0-9.]+ ms, of which Gloo " + NUMBER + " ms");
    assertTrue(gloo > 0 && gloo <= phase + 0.1, out);
    assertTrue(
        out.contains("(a)  1 worker (" + Runtime.getRuntime().availableProcessors() + " threads)"),
        out);
    assertTrue(one > 0, out);
    // Several buckets of at least 10 KB: the model's gradients do not fit in one.
    Matcher buckets = Pattern.compile("of fp32 gradients per step in (\\d+) buckets").matcher(out);
    assertTrue(buckets.find(), out);
    assertTrue(Integer.parseInt(buckets.group(1)) > 1, out);
    double rawMs =
        number(
            out,
            "raw Gloo all-reduce of the same \\d+ tensors \\("
                + NUMBER
                + " MB\\), 2 ranks: "
                + NUMBER
                + " ms",
            2);
    double algbw = number(out, "raw Gloo all-reduce of the same .* algbw " + NUMBER + " GB/s");
    assertTrue(rawMs > 0 && algbw > 0 && Double.isFinite(algbw), out);
    double inStepRatio =
        number(
            out,
            "Gloo inside the after-backward step \\(b\\) +"
                + NUMBER
                + " GB/s += "
                + NUMBER
                + "x raw",
            2);
    assertTrue(inStepRatio > 0 && Double.isFinite(inStepRatio), out);
    // A number whenever b - a2 > 0 (the all-reduce cost something), which noise may undo.
    Matcher fraction =
        Pattern.compile(
                "overlap fraction  1 - \\(c-a2\\)/\\(b-a2\\) = ("
                    + NUMBER
                    + "|n/a \\(b - a2 is not positive)")
            .matcher(out);
    assertTrue(fraction.find(), out);
    assertTrue(b <= 0 || Double.isFinite(Double.parseDouble(fraction.group(2))), out);
    assertTrue(out.contains("Reducer, effective         bytes / (c - a2)"), out);
    assertTrue(out.contains("2 workers get no more cores than 1 worker"), out);
    assertTrue(out.contains("communication overhead fraction of the step"), out);
    // The GPU formula: the original's default config at the default assumptions.
    assertTrue(out.contains("estimate for 8 GPUs in one node with NCCL"), out);
    assertTrue(out.contains("busbw = 150 GB/s"), out);
    Matcher original =
        Pattern.compile(
                "original defaults L8 N1024 T2048 +\\|  1024 x 128  \\| +234\\.9M \\| 2 \\|"
                    + " +448\\.0 \\|")
            .matcher(out);
    assertTrue(original.find(), out);
    assertTrue(run.err().contains("bench distributed: 2 workers, round 4/4"), run.err());
  }

  /** The step-ms column of the row labelled {@code label}, checked against its tokens/s column. */
  private static double stepMs(String out, String label, int tokens) {
    Matcher m =
        Pattern.compile(
                Pattern.quote(label)
                    + "[^|]*\\| +"
                    + NUMBER
                    + " \\| +"
                    + NUMBER
                    + " \\| +"
                    + NUMBER
                    + "x")
            .matcher(out);
    assertTrue(m.find(), label + " in\n" + out);
    double ms = Double.parseDouble(m.group(1).replace(",", ""));
    double tokensPerSecond = Double.parseDouble(m.group(2).replace(",", ""));
    double vsOne = Double.parseDouble(m.group(3).replace(",", ""));
    assertTrue(ms > 0 && tokensPerSecond > 0 && vsOne > 0 && Double.isFinite(vsOne), out);
    // tokens/s is the row's tokens over its step time (both rounded as printed).
    assertEquals(tokens / (ms / 1e3), tokensPerSecond, tokensPerSecond * 0.01 + 1, out);
    return ms;
  }

  private static double number(String out, String regex) {
    return number(out, regex, 1);
  }

  private static double number(String out, String regex, int group) {
    Matcher m = Pattern.compile(regex).matcher(out);
    assertTrue(m.find(), regex + " in\n" + out);
    return Double.parseDouble(m.group(group).replace(",", ""));
  }

  @Test
  void defaultsAreASmallRealConfigWithTheOriginalsVocabulary() {
    DistributedBenchmark.Options o = parse();
    assertEquals(65_536, o.settings().model().vocabSize());
    assertEquals(4, o.settings().model().nLayer());
    assertEquals(256, o.settings().model().nEmbd());
    assertEquals(2, o.settings().microBatches());
    assertEquals(4L << 20, o.settings().bucketBytes());
    assertEquals(8, o.gpu().gpus());
    assertEquals(150, o.gpu().busGbps());
  }

  @Test
  void badValuesAreUserErrorsNamingTheFlag() {
    assertFlag("--n_layer", "--n_layer", "0");
    assertFlag("--ctx_len", "--ctx_len", "1");
    assertFlag("--n_embd", "--n_embd", "30", "--n_head", "4");
    assertFlag("--steps", "--steps", "0");
    assertFlag("--warmup", "--warmup", "-1");
    assertFlag("--micro-batches", "--micro-batches", "0");
    assertFlag("--dropout", "--dropout", "1");
    assertFlag("--vocab_size", "--vocab_size", "10");
    assertFlag("--bucket-mb", "--bucket-mb", "0");
    assertFlag("--gpu-bus-gbps", "--gpu-bus-gbps", "-5");
    assertFlag("--gpu-mfu", "--gpu-mfu", "1.5");
    assertFlag("--gpu-overlap", "--gpu-overlap", "2");
    assertFlag("--gpu-step-ms", "--gpu-step-ms", "0");
    assertFlag("--train_type", "--base_dir", "/", "--train_type", "dna");
  }

  @Test
  void aMissingBaseDirIsOneErrorLineBeforeAnyWorkerStarts(@TempDir Path dir) {
    CliRun run = CliRun.run("bench", "distributed", "--base_dir", dir.resolve("nope").toString());
    assertEquals(2, run.exitCode(), run.err());
    assertTrue(run.err().startsWith("error: "), run.err());
    assertTrue(run.err().contains("nope"), run.err());
    assertTrue(!run.err().contains("worker JVM"), run.err());
  }

  @Test
  void helpNamesTheModesAndTheGpuFlags() {
    CliRun run = CliRun.run("bench", "distributed", "--help");
    assertEquals(0, run.exitCode());
    assertTrue(run.out().contains("c10d Reducer"), run.out());
    assertTrue(run.out().contains("--gpu-bus-gbps"), run.out());
    assertTrue(run.out().contains("--micro-batches"), run.out());
  }

  private static void assertFlag(String flag, String... args) {
    UserError e = assertThrows(UserError.class, () -> parse(args));
    assertTrue(e.getMessage().startsWith(flag), e.getMessage());
  }
}
