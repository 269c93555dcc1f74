package org.omnibiote.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Benchmarks that print our numbers next to the reference's from the same run. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Benchmarks: each prints both sides' numbers and the ratio from one run.",
    subcommands = {
      BenchTokenizerCommand.class,
      BenchParseCommand.class,
      BenchTrainTokenizerCommand.class,
      BenchIngestCommand.class,
      BenchFollowCommand.class,
      BenchDataCommand.class,
      BenchTrainCommand.class,
      BenchDistributedCommand.class,
      BenchConsoleCommand.class
    })
public final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
