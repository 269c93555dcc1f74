package org.omnibiote.cli;

import java.io.BufferedOutputStream;
import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicOutput;
import org.omnibiote.tokenizer.LineEncoder;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** spm_encode's job: one line of text in, one line of ids (or pieces) out. */
@Command(
    name = "tokenize",
    mixinStandardHelpOptions = true,
    description =
        "Encode text with a SentencePiece BPE model, one output line per input line, "
            + "exactly as spm_encode --output_format=id|piece does (ids or pieces separated by "
            + "single spaces).")
public final class TokenizeCommand implements Callable<Integer> {

  enum Format {
    id,
    piece
  }

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "M.model",
      description = "SentencePiece model file (.model).")
  Path tokenizer;

  @Option(
      names = "--input",
      paramLabel = "FILE",
      description = "Text to encode, one document per line (default: standard input).")
  Path input;

  @Option(
      names = "--output-format",
      paramLabel = "id|piece",
      defaultValue = "id",
      description = "Print token ids or pieces (default: ${DEFAULT-VALUE}).")
  Format format;

  @Option(
      names = "--output",
      paramLabel = "FILE",
      description = "Write here (atomically) instead of standard output.")
  Path output;

  @Override
  public Integer call() throws IOException {
    SentencePieceTokenizer model = SentencePieceTokenizer.load(tokenizer);
    try (InputStream in = openInput()) {
      if (output == null) {
        OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
        encodeAll(model, in, out);
        out.flush();
      } else {
        try (AtomicOutput atomic = new AtomicOutput(output)) {
          OutputStream out = new BufferedOutputStream(atomic.stream(), 1 << 16);
          encodeAll(model, in, out);
          out.flush();
          atomic.commit();
        }
      }
    }
    return 0;
  }

  private InputStream openInput() {
    if (input == null) {
      return System.in;
    }
    try {
      return new FileInputStream(input.toFile());
    } catch (FileNotFoundException e) {
      throw new UserError(input + ": cannot open the input (" + e.getMessage() + ")", e);
    }
  }

  private void encodeAll(SentencePieceTokenizer model, InputStream in, OutputStream out)
      throws IOException {
    long total = input == null ? -1 : java.nio.file.Files.size(input);
    long start = System.nanoTime();
    long[] nextReport = {start + PROGRESS_EVERY_NANOS};
    LineEncoder.encode(
        model,
        in,
        out,
        format == Format.id ? LineEncoder.Output.ID : LineEncoder.Output.PIECE,
        done -> {
          if (System.nanoTime() > nextReport[0]) {
            progress(done, total, start);
            nextReport[0] = System.nanoTime() + PROGRESS_EVERY_NANOS;
          }
        });
  }

  private static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;

  /** One progress line on stderr: bytes read, rate and, for a file, the time left. */
  private static void progress(long done, long total, long start) {
    double secs = (System.nanoTime() - start) / 1e9;
    double rate = done / 1e6 / secs;
    String eta =
        total > 0
            ? String.format(
                ", %.0f%%, ETA %.0fs", 100.0 * done / total, (total - done) / 1e6 / rate)
            : "";
    System.err.printf("tokenize: %.1f MB read, %.2f MB/s%s%n", done / 1e6, rate, eta);
  }
}
