package org.omnibiote.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.Device;
import org.omnibiote.UserError;
import org.omnibiote.encode.Encoder;
import org.omnibiote.encode.EncodingsFile;
import org.omnibiote.encode.FastaInput;
import org.omnibiote.encode.IdsInput;
import org.omnibiote.encode.Sequence;
import org.omnibiote.encode.SequenceTag;
import org.omnibiote.encode.WeightsPath;
import org.omnibiote.ingest.DocumentTokenizer;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.Pooling;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.train.Devices;
import org.omnibiote.weights.ModelWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code omnibiote encode}: sequences in, one float32 vector (or matrix) per sequence out. */
@Command(
    name = "encode",
    mixinStandardHelpOptions = true,
    description = {
      "Encode sequences with a trained OmniBioTA: the final LayerNorm's outputs pooled per"
          + " sequence, written as a float32 .npy of shape [records, N] ([records, maxLen, N]"
          + " for --method all, zero beyond each length) and OUT.ids.tsv beside it (record id"
          + " and length in tokens, in input order).",
      "FASTA records (plain or gzip) are tokenized as <tag>SEQUENCE<EOS> exactly as ingest"
          + " does (upper case, the banned '\u2581' piece removed); the tag is --tag, else"
          + " <DNA> for nucleotide letters (ACGTUN and IUPAC codes; <RNA> with U and no T),"
          + " else <protein>. --input-format ids takes one line of token ids per sequence,"
          + " used as given (no tag or EOS added), records named line1, line2, ...",
      "Sequences longer than --max-length (default: the model's ctx_len) keep their first"
          + " tokens; how many were truncated is printed. Batches are sorted by length and"
          + " right-padded; padding does not change any result. Several documents in one"
          + " ids line (each ending in <EOS>, id 3) do not see each other."
    })
public final class EncodeCommand extends PretrainedModelCommand
    implements Callable<Integer>, NeedsLibtorch {
  enum InputFormat {
    fasta,
    ids
  }

  @Option(
      names = "--input",
      required = true,
      paramLabel = "FILE",
      description = "Sequences: FASTA (plain or .gz), or lines of token ids.")
  Path input;

  @Option(
      names = "--input-format",
      paramLabel = "fasta|ids",
      defaultValue = "fasta",
      description = "Input format (default: ${DEFAULT-VALUE}).")
  InputFormat inputFormat;

  @Option(
      names = "--tokenizer",
      paramLabel = "M.model",
      description =
          "SentencePiece model for FASTA input (required then; its vocabulary size"
              + " must be the model's).")
  Path tokenizer;

  @Option(
      names = "--method",
      required = true,
      paramLabel = "mean|first|last|max|all",
      description =
          "Pooling over each sequence's tokens (PAD ignored): mean, first (the tag),"
              + " last, max, or all positions.")
  String method;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "OUT.npy",
      description = "The .npy to write (atomically); OUT.ids.tsv is written beside it.")
  Path output;

  @Option(
      names = "--batch-size",
      paramLabel = "N",
      defaultValue = "8",
      description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(
      names = "--tag",
      paramLabel = "<DNA>|<protein>|...",
      description = "Tag every FASTA record with this piece instead of choosing by alphabet.")
  String tag;

  @Option(
      names = "--max-length",
      paramLabel = "T",
      description =
          "Tokens kept per sequence (default: the model's ctx_len); longer ones are"
              + " truncated and counted.")
  Integer maxLength;

  private static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;

  @Override
  public Integer call() throws IOException {
    PrintStream err = System.err;
    Pooling pooling = Pooling.parse(method);
    checkArguments();
    Device device = Devices.parse(devices);
    Path weights = WeightsPath.of(checkpoint);
    SentencePieceTokenizer spm =
        inputFormat == InputFormat.fasta ? SentencePieceTokenizer.load(tokenizer) : null;
    OmniBioTA model = ModelWeights.load(weights);
    int vocab = model.config().vocabSize();
    if (spm != null && spm.vocabSize() != vocab) {
      throw new UserError(
          "--tokenizer "
              + tokenizer
              + " has "
              + spm.vocabSize()
              + " pieces but the model "
              + weights
              + " has a vocabulary of "
              + vocab);
    }
    List<Sequence> sequences =
        spm != null
            ? new FastaInput(
                    new DocumentTokenizer(spm), tag == null ? null : SequenceTag.normalise(tag))
                .read(input)
            : IdsInput.read(input, vocab);

    int ctx = model.config().ctxLen();
    int limit = maxLength == null ? ctx : maxLength;
    if (limit > ctx) {
      err.printf(
          Locale.ROOT,
          "encode: warning: --max-length %d is beyond the model's ctx_len %d"
              + " (it never saw rows that long)%n",
          limit,
          ctx);
    }
    Encoder encoder = new Encoder(model, device, batchSize, limit);
    int truncated = encoder.truncatedCount(sequences);
    if (truncated > 0) {
      err.printf(
          Locale.ROOT,
          "encode: warning: %,d of %,d sequences are longer than %d tokens;"
              + " they keep their first %d%n",
          truncated,
          sequences.size(),
          limit,
          limit);
    }
    int n = model.config().nEmbd();
    int[] lengths = sequences.stream().mapToInt(encoder::encodedLength).toArray();
    long[] shape =
        pooling == Pooling.ALL
            ? new long[] {sequences.size(), maxOf(lengths), n}
            : new long[] {sequences.size(), n};
    long totalTokens = 0;
    for (int l : lengths) {
      totalTokens += l;
    }
    long total = totalTokens;
    long start = System.nanoTime();
    long[] nextReport = {start + PROGRESS_EVERY_NANOS};
    try (EncodingsFile out = new EncodingsFile(output, shape)) {
      encoder.encode(
          sequences,
          pooling,
          out::put,
          (done, tokens) -> {
            long now = System.nanoTime();
            if (now > nextReport[0] && done < sequences.size()) {
              err.println(progress(done, sequences.size(), tokens, total, now - start));
              nextReport[0] = now + PROGRESS_EVERY_NANOS;
            }
          });
      out.commit(sequences.stream().map(Sequence::id).toList(), lengths);
      double secs = (System.nanoTime() - start) / 1e9;
      err.printf(
          Locale.ROOT,
          "encode: wrote %s (float32 %s, %s pooling, %,d sequences, %,d tokens,"
              + " %.1f s) and %s%n",
          output,
          shapeText(shape),
          pooling.toString().toLowerCase(Locale.ROOT),
          sequences.size(),
          total,
          secs,
          out.idsPath());
    }
    return 0;
  }

  private void checkArguments() {
    if (batchSize < 1) {
      throw new UserError("--batch-size must be at least 1, got " + batchSize);
    }
    if (maxLength != null && maxLength < 1) {
      throw new UserError("--max-length must be at least 1, got " + maxLength);
    }
    if (!Files.isRegularFile(input)) {
      throw new UserError("--input " + input + ": no such file");
    }
    if (Files.isDirectory(output)) {
      throw new UserError("--output " + output + " is a folder; name the .npy file to write");
    }
    if (inputFormat == InputFormat.fasta && tokenizer == null) {
      throw new UserError(
          "--tokenizer is required for FASTA input (checkpoints hold no"
              + " tokenizer): give the SentencePiece .model the model was trained with, or use"
              + " --input-format ids");
    }
    if (inputFormat == InputFormat.ids && tag != null) {
      throw new UserError("--tag applies to FASTA input; ids input is used exactly as given");
    }
  }

  private static int maxOf(int[] values) {
    int m = 0;
    for (int v : values) {
      m = Math.max(m, v);
    }
    return m;
  }

  private static String shapeText(long[] shape) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < shape.length; i++) {
      s.append(i == 0 ? "" : ", ").append(shape[i]);
    }
    return s.append(']').toString();
  }

  /** Sequences and tokens done, their rates, and the time left from the tokens still to do. */
  static String progress(int done, int total, long tokens, long totalTokens, long nanos) {
    double secs = Math.max(1e-3, nanos / 1e9);
    long left = tokens == 0 ? 0 : (long) ((totalTokens - tokens) / (tokens / secs));
    return String.format(
        Locale.ROOT,
        "encode: %,d/%,d sequences (%,.1f/s), %,d tokens (%,.0f/s), ETA %d:%02d:%02d",
        done,
        total,
        done / secs,
        tokens,
        tokens / secs,
        left / 3600,
        left / 60 % 60,
        left % 60);
  }
}
