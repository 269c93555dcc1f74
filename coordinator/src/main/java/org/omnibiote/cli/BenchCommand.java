package org.omnibiote.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code omnibiote bench}: benchmarks that print both sides' numbers and the ratio. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Benchmarks against the original tools, both sides measured in the same run.",
    subcommands = {BenchIngestCommand.class})
public final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
