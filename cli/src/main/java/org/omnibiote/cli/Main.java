package org.omnibiote.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The single entry point behind bin/omnibiote: one picocli subcommand per job. */
@Command(
    name = "omnibiote",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "OmniBioTE for the JVM: tokenizer, GenBank/UniProt ingest and training.",
    subcommands = {
      CommandLine.HelpCommand.class,
      QuickstartCommand.class,
      DownloadCommand.class,
      PreprocessCommand.class,
      TrainTokenizerCommand.class,
      TokenizeCommand.class,
      IngestCommand.class,
      FollowCommand.class,
      TrainCommand.class,
      EncodeCommand.class,
      EvalCommand.class,
      FinetuneCommand.class,
      BenchCommand.class,
      CoordinatorCommand.class,
      WorkerCommand.class,
      DoctorCommand.class,
      AdminCommand.class,
      LaunchCommand.class,
    })
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs a command line; user errors print a message (no stack trace) and return non-zero. */
  public static int execute(String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setExecutionExceptionHandler(new UserErrors());
    cli.setExecutionStrategy(
        parsed -> {
          // The one place the command line loads libtorch: before a command that uses it, and
          // never for the others (a coordinator node runs without it).
          for (CommandLine c : parsed.asCommandLineList()) {
            if (c.getCommand() instanceof NeedsLibtorch needs
                && !c.isUsageHelpRequested()
                && !c.isVersionHelpRequested()) {
              try {
                org.omnibiote.model.TorchNatives.load();
              } catch (org.omnibiote.model.TorchNatives.Unavailable e) {
                if (!needs.runsWithoutLibtorch(e)) {
                  // Through the handler: the user's one line, as for the command's own errors.
                  throw new CommandLine.ExecutionException(c, e.getMessage(), e);
                }
              }
              break;
            }
          }
          return new CommandLine.RunLast().execute(parsed);
        });
    return cli.execute(args);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"omnibiote " + (v == null ? "(development build)" : v)};
    }
  }
}
