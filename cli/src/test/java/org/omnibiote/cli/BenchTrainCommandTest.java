package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
    assertEquals(List.of("A", "B", "C"), o.specs().stream().map(TrainBenchmark.Spec::name).toList());
    assertEquals(List.of(Precision.FP32, Precision.BF16), o.precisions());
    assertEquals(List.of("A", "B"), o.baseline());
    assertEquals(3, o.steps());
    assertEquals(1, o.warmup());
  }

  @Test
  void configsAndPrecisionsAreCommaListsAndConfigCHasTheIssuesShape() {
    TrainBenchmark.Options o = parse("--configs", "c,A", "--precision", "bf16", "--steps", "5",
        "--warmup", "0", "--baseline-configs", "none");
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
  }

  private static void assertFlag(String flag, String... args) {
    UserError e = assertThrows(UserError.class, () -> parse(args));
    assertTrue(e.getMessage().startsWith(flag), e.getMessage());
  }
}
