package org.omnibiote.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.bench.TokenizerBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Our encoder against spm_encode: documents (1 and 2 threads) and one long line. */
@Command(
    name = "tokenizer",
    mixinStandardHelpOptions = true,
    description = {
      "Encode speed against spm_encode on the same inputs in the same run: (a) many real DNA"
          + " documents (Biopython's documents of --data, repeated to --documents-mb), (a') the"
          + " same for the records under 20 kb only, (b) one line of --long-line-mbp of real"
          + " sequence.",
      "Like for like (file -> file, 1 thread), where the targets are judged: each side, once,"
          + " reads the same text file (one document a line, page cache warm), encodes it and"
          + " writes the ids as text (--output_format=id) to a file. Ours is timed in this JVM"
          + " from opening the input to closing the output, the model loaded and compiled (it"
          + " runs after the in-memory runs); spm_encode's"
          + " process is timed less its start-up (model load, measured on an empty input);"
          + " neither syncs. The two ids files must be byte-identical.",
      "Ours in memory (less work, printed as such): byte[] documents to int[] ids, no file read"
          + " and no ids written, with 1 and 2 threads (best of 3) for (a), once for (b); the"
          + " output says how much of its ratio is the work it skips.",
      "Prints MB/s and the ratios against the targets (like for like, 1 thread: 2x for (a),"
          + " 5x for (b); in memory: 2 threads >= 1.7x 1 thread). For the 250 Mbp memory"
          + " target run --long-line-mbp 250 --documents-mb 0 --skip-spm with"
          + " OMNIBIOTE_JAVA_OPTS=-Xmx4g. Exit code 0 only when every target is met.",
    })
public final class BenchTokenizerCommand implements Callable<Integer> {

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "M.model",
      description = "SentencePiece model file (.model).")
  Path tokenizer;

  @Option(
      names = "--data",
      paramLabel = "DIR",
      defaultValue = "${sys:omnibiote.home:-.}/../shared/data",
      description =
          "Folder of GenBank/FASTA files to take real sequences from (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(
      names = "--documents-mb",
      paramLabel = "MB",
      defaultValue = "20",
      description =
          "Size of the document set, real documents repeated (default: ${DEFAULT-VALUE}; 0 skips).")
  double documentsMb;

  @Option(
      names = "--long-line-mbp",
      paramLabel = "MBP",
      defaultValue = "5",
      description = "Length of the single long line (default: ${DEFAULT-VALUE}; 0 skips).")
  double longLineMbp;

  @Option(
      names = "--skip-spm",
      description =
          "Run only our encoder in memory (no spm_encode: no like for like, ratios or parity"
              + " check).")
  boolean skipSpm;

  @Override
  public Integer call() throws IOException {
    if (!Files.isDirectory(data)) {
      throw new UserError(data + ": no such data folder (--data)");
    }
    if (documentsMb < 0 || longLineMbp < 0) {
      throw new UserError("--documents-mb and --long-line-mbp must not be negative");
    }
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    TokenizerBenchmark bench =
        new TokenizerBenchmark(
            new TokenizerBenchmark.Options(
                tokenizer, data.normalize(), documentsMb, longLineMbp, skipSpm, tmp),
            System.out,
            System.err);
    return bench.run() ? 0 : 3;
  }
}
