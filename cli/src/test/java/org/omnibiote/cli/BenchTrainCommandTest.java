package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;
import org.omnibiote.bench.TrainBenchmark;
import org.omnibiote.settings.Precision;
import picocli.CommandLine;

class BenchTrainCommandTest {

  private static TrainBenchmark.Options parse(String... args) {
    BenchTrainCommand command = new BenchTrainCommand();
    new CommandLine(command).parseArgs(args);
    return command.options();
  }

  @Test
  void defaultsRunEveryConfigInBothPrecisionsWithTheBaselineForAAndB() {
    TrainBenchmark.Options o = parse();
    assertEquals(
        List.of("A", "B", "C"), o.specs().stream().map(TrainBenchmark.Spec::name).toList());
    assertEquals(List.of(Precision.FP32, Precision.BF16), o.precisions());
    assertEquals(List.of("A", "B"), o.baseline());
    assertEquals(3, o.steps());
    assertEquals(1, o.warmup());
    assertEquals(2048, o.peakSize());
  }

  @Test
  void configsAndPrecisionsAreCommaListsAndConfigCHasTheIssuesShape() {
    TrainBenchmark.Options o =
        parse(
            "--configs",
            "c,A",
            "--precision",
            "bf16",
            "--steps",
            "5",
            "--warmup",
            "0",
            "--baseline-configs",
            "none");
    assertEquals(List.of("C", "A"), o.specs().stream().map(TrainBenchmark.Spec::name).toList());
    TrainBenchmark.Spec c = o.specs().get(0);
    assertEquals(65_536, c.model().vocabSize());
    assertEquals(512, c.model().nEmbd());
    assertEquals(8, c.model().nLayer());
    assertEquals(8, c.model().nHead());
    assertEquals(512, c.model().ctxLen());
    assertEquals(4, c.miniBatch());
    assertEquals(32, c.batch());
    assertEquals(List.of(Precision.BF16), o.precisions());
    assertEquals(List.of(), o.baseline());
    assertEquals(5, o.steps());
  }

  @Test
  void badValuesAreUserErrorsNamingTheFlag() {
    assertFlag("--configs", "--configs", "A,D");
    assertFlag("--precision", "--precision", "fp16");
    assertFlag("--steps", "--steps", "0");
    assertFlag("--warmup", "--warmup", "-1");
    assertFlag("--baseline-configs", "--baseline-configs", "E");
    assertFlag("--dropout", "--dropout", "1.5");
    assertFlag("--threads", "--threads", "-2");
    assertFlag("--peak-size", "--peak-size", "0");
  }

  /**
   * The whole command on TINY (seconds): Java and /usr/bin/python3 on the same weights and batches,
   * the first step's loss checked in both precisions, the baseline's BLAS and threads printed, and
   * the like-for-like and total ratios in their own columns.
   */
  @Test
  void aTinyRunChecksTheFirstLossAndPrintsTheBaselinesBlasAndBothRatios() {
    CliRun run =
        CliRun.run(
            "bench",
            "train",
            "--configs",
            "tiny",
            "--baseline-configs",
            "tiny",
            "--precision",
            "fp32,bf16",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--peak-size",
            "256");
    String out = run.out();
    assertEquals(0, run.exitCode(), out + run.err());

    assertLine(
        out,
        "ours: libtorch get_num_threads\\(\\) 1 \\(interop \\d+\\); BLAS OpenBLAS .*,"
            + " openblas_get_num_threads\\(\\) \\d+ \\(mapped: .*libopenblas.*\\); libtorch BLAS_INFO=.*");
    assertLine(
        out,
        "same inputs on every side: per config, the token ids and targets of all 1 steps"
            + " \\(int64 \\.npy\\) and the initial weights \\(safetensors\\) are written to .* \\(deleted at"
            + " the end\\) and read by the baseline with numpy");
    assertLine(
        out,
        "python baseline: torch 1\\.13.*, torch\\.get_num_threads\\(\\) 1 \\(interop \\d+\\);"
            + " BLAS OpenBLAS .* \\(/.*blas.*\\), openblas_get_num_threads\\(\\) 1; torch BLAS_INFO=.*");
    assertLine(out, "python baseline torch\\.__config__\\.parallel_info\\(\\):");
    assertLine(out, "    at::get_num_threads\\(\\) : 1");

    assertLine(
        out,
        "loss check: first step, before any update, dropout 0, same initial weights and"
            + " batches on both sides; relative difference of the mean cross-entropy, tolerance 2e-06"
            + " in fp32 and 1e-04 in bf16 \\(docs/benchmarks\\.md says why\\):");
    for (String precision : List.of("fp32", "bf16")) {
      Matcher m =
          assertLine(
              out,
              "TINY   "
                  + precision
                  + "      \\| python (\\d+\\.\\d{9}),"
                  + " orig-choices (\\d+\\.\\d{9}): rel diff (\\S+) \\| python global (\\d+\\.\\d{9}), ours"
                  + " (\\d+\\.\\d{9}): rel diff (\\S+) \\| tolerance "
                  + (precision.equals("fp32") ? "2e-06" : "1e-04")
                  + " \\| ok");
      // At initialisation the loss is about ln(65,536) = 11.09 on either side.
      assertEquals(Math.log(65_536), Double.parseDouble(m.group(1)), 0.5, m.group());
      assertEquals(Math.log(65_536), Double.parseDouble(m.group(4)), 0.5, m.group());
    }

    assertLine(
        out,
        "config precision \\| ours tok/s \\| orig-choices tok/s \\| python tok/s \\|"
            + " like-for-like \\| total \\| ours/orig-choices \\| mfu \\| mfu_original \\| goal");
    for (String precision : List.of("fp32", "bf16")) {
      Matcher m =
          assertLine(
              out,
              "TINY   "
                  + precision
                  + "      \\| +[\\d,]+ \\| +[\\d,]+ \\| +[\\d,]+"
                  + " \\| +(\\d+\\.\\d\\d)x \\| +(\\d+\\.\\d\\d)x \\| +(\\d+\\.\\d\\d)x \\| .* \\| -");
      double likeForLike = Double.parseDouble(m.group(1));
      double total = Double.parseDouble(m.group(2));
      double lessWork = Double.parseDouble(m.group(3));
      assertEquals(total, likeForLike * lessWork, 0.01 + 0.01 * total, m.group());
    }
    assertLine(out, "like-for-like = orig-choices/python: our step doing the original's work .*");
    assertLine(
        out,
        "total = ours/python: our step as it runs .*total = like-for-like x ours/orig-choices.*");
    assertLine(
        out,
        "config precision \\| ours \\| orig-choices \\| python \\| like-for-like \\| total"
            + " \\| orig-choices/ours \\| mfu \\(CPU\\) \\| mfu_original \\(CPU\\)");
  }

  @Test
  void aLossMismatchIsExitCode1WithAMessageSayingWhatDiffers() {
    TrainBenchmark.LossCheck off =
        new TrainBenchmark.LossCheck(
            "A",
            Precision.FP32,
            11.10,
            11.11,
            11.10,
            11.10,
            TrainBenchmark.lossTolerance(Precision.FP32));
    assertFalse(off.passed());
    assertTrue(off.line().endsWith("| tolerance 2e-06 | MISMATCH"), off.line());
    assertTrue(
        off.failure()
            .startsWith(
                "loss check failed for config A fp32: at dropout 0, on the"
                    + " same initial weights and the first step's batches, the Python baseline's loss is"
                    + " 11.100000000 and our step's with the original's choices 11.110000000 (relative"
                    + " difference 9.01e-04)"),
        off.failure());
    assertTrue(off.failure().contains("the tolerance is 2e-06"), off.failure());
    assertEquals(1, BenchTrainCommand.exitCode(TrainBenchmark.Outcome.LOSS_MISMATCH));
    assertEquals(3, BenchTrainCommand.exitCode(TrainBenchmark.Outcome.GOAL_NOT_MET));
    assertEquals(0, BenchTrainCommand.exitCode(TrainBenchmark.Outcome.GOALS_MET));

    // 4.5e-5 passes in bf16, not in fp32; a global loss off by more, or not a number, fails.
    assertTrue(
        new TrainBenchmark.LossCheck(
                "A",
                Precision.BF16,
                11.10,
                11.1005,
                11.10,
                11.10,
                TrainBenchmark.lossTolerance(Precision.BF16))
            .passed());
    assertFalse(
        new TrainBenchmark.LossCheck(
                "A",
                Precision.FP32,
                11.10,
                11.1005,
                11.10,
                11.10,
                TrainBenchmark.lossTolerance(Precision.FP32))
            .passed());
    assertFalse(
        new TrainBenchmark.LossCheck(
                "A",
                Precision.BF16,
                11.10,
                11.10,
                11.10,
                11.102,
                TrainBenchmark.lossTolerance(Precision.BF16))
            .passed());
    assertFalse(
        new TrainBenchmark.LossCheck(
                "A",
                Precision.FP32,
                11.10,
                Double.NaN,
                11.10,
                11.10,
                TrainBenchmark.lossTolerance(Precision.FP32))
            .passed());
  }

  @Test
  void theCommandLinePrintsOneErrorLineAndExits2BeforeAnyWork() {
    CliRun run = CliRun.run("bench", "train", "--configs", "Z");
    assertEquals(2, run.exitCode(), run.err());
    assertTrue(run.err().contains("error: --configs: unknown config 'Z'"), run.err());
    assertTrue(run.out().isEmpty(), run.out());
  }

  @Test
  void helpDescribesTheComparison() {
    CliRun run = CliRun.run("bench", "train", "--help");
    assertEquals(0, run.exitCode());
    assertTrue(run.out().contains("mfu_original"), run.out());
    assertTrue(run.out().contains("--baseline-configs"), run.out());
    // The help states the tolerances in words; they must be the ones the check uses.
    assertTrue(
        run.out().replaceAll("\\s+", " ").contains("above 2e-6 (fp32) or 1e-4 (bf16)"), run.out());
    assertEquals(2e-6, TrainBenchmark.lossTolerance(Precision.FP32));
    assertEquals(1e-4, TrainBenchmark.lossTolerance(Precision.BF16));
  }

  /** The line of {@code out} that matches {@code regex} whole (a failure shows the output). */
  private static Matcher assertLine(String out, String regex) {
    Matcher m = Pattern.compile("^" + regex + "$", Pattern.MULTILINE).matcher(out);
    assertTrue(m.find(), "no line matches " + regex + " in:\n" + out);
    return m;
  }

  private static void assertFlag(String flag, String... args) {
    UserError e = assertThrows(UserError.class, () -> parse(args));
    assertTrue(e.getMessage().startsWith(flag), e.getMessage());
  }
}
