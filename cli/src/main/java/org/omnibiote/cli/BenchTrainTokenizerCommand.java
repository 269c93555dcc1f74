package org.omnibiote.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.omnibiote.UserError;
import org.omnibiote.io.Folders;
import org.omnibiote.tokenizer.BpeTrainer;
import org.omnibiote.tokenizer.ModelWriter;
import org.omnibiote.tokenizer.TrainingDocuments;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench train-tokenizer}: our BPE trainer against spm_train on the same documents
 * in the same run: time, MB/s, how many pieces the two vocabularies share, and how many tokens each
 * model makes of held-out documents (spm_encode for both).
 */
@Command(
    name = "train-tokenizer",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark: train a BPE vocabulary with spm_train and with our trainer on the same"
          + " documents; print both times, MB/s, their ratio, the share of common pieces and"
          + " the tokens each model makes of held-out documents (every 10th document).",
      "spm_train refuses or crashes on lines over about 16 kB, so documents longer than"
          + " --chunk characters are cut into tagged chunks first (for both sides).",
      "spm_train runs as a process (--num_threads as given); our trainer runs in this JVM"
          + " (start-up excluded) on one thread."
    })
public final class BenchTrainTokenizerCommand implements Callable<Integer> {
  @Option(
      names = "--input",
      arity = "1..*",
      required = true,
      paramLabel = "FILE",
      description = "Document-per-line files (plain or gzip), e.g. the output of preprocess.")
  List<Path> inputs;

  @Option(names = "--vocab-size", description = "Vocabulary size (default: ${DEFAULT-VALUE}).")
  int vocabSize = 4096;

  @Option(
      names = "--chunk",
      description = "Longest document in characters (default: ${DEFAULT-VALUE}).")
  int chunk = 4000;

  @Option(
      names = "--num-threads",
      description = "spm_train's --num_threads (default: ${DEFAULT-VALUE}).")
  int threads = 1;

  @Option(
      names = "--output",
      paramLabel = "DIR",
      description = "Keep the corpus and both models here (default: a temporary folder, deleted).")
  Path output;

  @Override
  public Integer call() throws Exception {
    TrainingDocuments.checkReadable(inputs);
    Path work =
        output != null ? Files.createDirectories(output) : Files.createTempDirectory("bench-bpe");
    try {
      Path train = work.resolve("train.txt");
      Path heldOut = work.resolve("held-out.txt");
      long bytes = writeCorpus(train, heldOut);
      double mb = bytes / 1e6;

      long t0 = System.nanoTime();
      List<String> symbols = BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS;
      run(
          work,
          "spm_train",
          "--input=" + train,
          "--model_prefix=" + work.resolve("spm"),
          "--model_type=bpe",
          "--vocab_size=" + vocabSize,
          "--user_defined_symbols=" + String.join(",", symbols),
          "--character_coverage=1.0",
          "--max_sentencepiece_length=32",
          "--normalization_rule_name=identity",
          "--max_sentence_length=" + (4 * chunk + 64),
          "--input_sentence_size=0",
          "--num_threads=" + threads);
      double spmSeconds = (System.nanoTime() - t0) / 1e9;

      long t1 = System.nanoTime();
      BpeTrainer.Session session =
          new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(vocabSize)).session();
      TrainingDocuments.forEachLine(train, session::add);
      ModelProto ours = session.train(List.of(train.toString()));
      Path ourModel = ModelWriter.write(ours, work.resolve("ours.model"));
      double ourSeconds = (System.nanoTime() - t1) / 1e9;

      List<String> spmPieces = pieces(work.resolve("spm.vocab"));
      List<String> ourPieces = pieces(work.resolve("ours.vocab"));
      Set<String> common = new HashSet<>(spmPieces);
      common.retainAll(new HashSet<>(ourPieces));
      long spmTokens = tokens(work, work.resolve("spm.model"), heldOut);
      long ourTokens = tokens(work, ourModel, heldOut);

      System.out.printf(
          Locale.ROOT,
          "corpus: %d documents, %.2f MB (held out: every 10th), vocab %d%n",
          session.documentsUsed(),
          mb,
          vocabSize);
      System.out.printf(
          Locale.ROOT,
          "spm_train (%d thread%s): %8.2f s  %6.2f MB/s%n",
          threads,
          threads == 1 ? "" : "s",
          spmSeconds,
          mb / spmSeconds);
      System.out.printf(
          Locale.ROOT, "ours      (1 thread):  %8.2f s  %6.2f MB/s%n", ourSeconds, mb / ourSeconds);
      System.out.printf(Locale.ROOT, "speed-up: %.1fx%n", spmSeconds / ourSeconds);
      System.out.printf(
          Locale.ROOT,
          "common pieces: %d of %d (%.1f%%)%n",
          common.size(),
          spmPieces.size(),
          100.0 * common.size() / spmPieces.size());
      System.out.printf(
          Locale.ROOT,
          "held-out tokens: spm_train's model %d, ours %d (%+.2f%%)%n",
          spmTokens,
          ourTokens,
          100.0 * (ourTokens - spmTokens) / spmTokens);
      return 0;
    } finally {
      if (output == null) {
        Folders.deleteTree(work);
      }
    }
  }

  /** Cuts long documents into tagged chunks; every 10th goes to the held-out file. */
  private long writeCorpus(Path train, Path heldOut) throws IOException {
    long[] bytes = {0};
    int[] n = {0};
    try (BufferedWriter t = Files.newBufferedWriter(train, StandardCharsets.UTF_8);
        BufferedWriter h = Files.newBufferedWriter(heldOut, StandardCharsets.UTF_8)) {
      for (Path in : inputs) {
        TrainingDocuments.forEachLine(
            in,
            doc -> {
              for (String piece : chunks(doc)) {
                try {
                  if (n[0]++ % 10 == 9) {
                    h.write(piece);
                    h.write('\n');
                  } else {
                    t.write(piece);
                    t.write('\n');
                    bytes[0] += piece.length() + 1;
                  }
                } catch (IOException e) {
                  throw new UserError("cannot write the benchmark corpus: " + e.getMessage(), e);
                }
              }
            });
      }
    }
    return bytes[0];
  }

  private List<String> chunks(String doc) {
    if (doc.length() <= chunk) {
      return List.of(doc);
    }
    int tagEnd = doc.startsWith("<") ? doc.indexOf('>') + 1 : 0;
    String tag = doc.substring(0, tagEnd);
    String body =
        doc.endsWith("<EOS>") ? doc.substring(tagEnd, doc.length() - 5) : doc.substring(tagEnd);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < body.length(); i += chunk) {
      out.add(tag + body.substring(i, Math.min(body.length(), i + chunk)) + "<EOS>");
    }
    return out;
  }

  private static List<String> pieces(Path vocab) throws IOException {
    return Files.readAllLines(vocab, StandardCharsets.UTF_8).stream()
        .map(l -> l.substring(0, l.indexOf('\t')))
        .toList();
  }

  private static long tokens(Path work, Path model, Path heldOut) throws Exception {
    Path ids = work.resolve(model.getFileName() + ".ids");
    run(work, heldOut, ids, "spm_encode", "--model", model.toString(), "--output_format=id");
    long n = 0;
    for (String line : Files.readAllLines(ids)) {
      n += line.isBlank() ? 0 : line.trim().split(" ").length;
    }
    return n;
  }

  private static void run(Path work, String... command) throws Exception {
    run(work, null, work.resolve(command[0] + ".log"), command);
  }

  private static void run(Path work, Path stdin, Path stdout, String... command) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(command)
            .redirectOutput(stdout.toFile())
            .redirectError(work.resolve(command[0] + ".err").toFile());
    if (stdin != null) {
      pb.redirectInput(stdin.toFile());
    }
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new UserError(command[0] + " is not installed (apt-get install -y sentencepiece)", e);
    }
    if (!p.waitFor(2, TimeUnit.HOURS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new UserError(
          command[0]
              + " failed; see "
              + work.resolve(command[0] + ".err")
              + " (use --output DIR to keep it)");
    }
  }
}
