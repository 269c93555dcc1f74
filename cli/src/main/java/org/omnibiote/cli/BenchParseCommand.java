package org.omnibiote.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.bench.ParseBenchmark;
import org.omnibiote.bench.ReferenceTools;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench parse}: our GenBank parser against Biopython's {@code SeqIO.parse(...,
 * "genbank")}, both going from the same file to the same documents file.
 */
@Command(
    name = "parse",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark: single-thread GenBank parse rate (MB/s of flat file) of our parser and of"
          + " Biopython 1.80 ("
          + ReferenceTools.PYTHON
          + ", python3-biopython), like for like:"
          + " --input is repeated to --size-mb into one file, read once untimed (page cache"
          + " warm), then each side, once, reads that file, parses it, builds every record's"
          + " document <molecule_type>SEQ<EOS> and writes the documents one a line to a file of"
          + " its own. Timed on each side from opening the input to closing the output, in its"
          + " own process (JVM start-up, our two untimed JIT warm-up runs and Python's imports"
          + " not included; nothing synced);"
          + " CPU time is our thread's and the Python process's.",
      "The two output files must be identical (their sha256 are printed); otherwise the first"
          + " differing line is named and the exit code is 1. Records whose sequence is"
          + " undefined (Biopython's UndefinedSequenceError) are skipped by both sides; records"
          + " with an empty sequence Biopython writes and our parser skips, which would show"
          + " as a difference.",
      "A second row, labelled less work, times our parser alone on the same bytes in memory"
          + " (no disk read, nothing written; best of --rounds).",
    })
public final class BenchParseCommand implements Callable<Integer> {

  @Option(
      names = "--input",
      paramLabel = "FILE",
      description =
          "GenBank flat file (default: the EMBOSS gbpri1.seq of ../shared/data,"
              + " 3.7 MB with a 2.2 Mbp record).")
  Path input;

  @Option(
      names = "--size-mb",
      defaultValue = "200",
      description =
          "Megabytes of repeated input, the same file for both sides (default: ${DEFAULT-VALUE}).")
  int sizeMb;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description =
          "Timed rounds of our parser in memory; the best is reported (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Override
  public Integer call() throws Exception {
    Path file = input != null ? input : defaultInput();
    if (!Files.isRegularFile(file)) {
      throw new UserError("no such file: " + file);
    }
    if (sizeMb < 1 || rounds < 1) {
      throw new UserError("--size-mb and --rounds must be at least 1");
    }
    if (!Files.isExecutable(Path.of(ReferenceTools.PYTHON))) {
      throw new UserError(
          "Biopython is needed under "
              + ReferenceTools.PYTHON
              + ": apt-get install -y python3-biopython");
    }
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    ParseBenchmark bench =
        new ParseBenchmark(
            new ParseBenchmark.Options(file, sizeMb, rounds, tmp), System.out, System.err);
    return bench.run() ? 0 : 1;
  }

  private static Path defaultInput() {
    String home = System.getProperty("omnibiote.home", ".");
    return Path.of(home)
        .toAbsolutePath()
        .resolveSibling("shared")
        .resolve("data/deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq");
  }
}
