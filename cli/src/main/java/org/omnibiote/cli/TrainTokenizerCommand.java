package org.omnibiote.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.tokenizer.BpeTrainer;
import org.omnibiote.tokenizer.ModelWriter;
import org.omnibiote.tokenizer.TrainingDocuments;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Learns a BPE vocabulary from documents and writes a SentencePiece model, no Python needed. */
@Command(
    name = "train-tokenizer",
    mixinStandardHelpOptions = true,
    description = {
      "Learn a SentencePiece BPE vocabulary from documents (one per line, e.g."
          + " <DNA>ACGT...<EOS> as preprocess writes them) and write PATH.model and PATH.vocab,"
          + " loadable by spm_encode and by our tokenizer.",
      "Ids 0-2 are <unk> <s> </s>, then the user-defined pieces (by default those of the"
          + " original OmniBioTE tokenizers, so <EOS>=3, <DNA>=4, <protein>=18), then the"
          + " merged pieces, then the single characters."
    })
public final class TrainTokenizerCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(TrainTokenizerCommand.class);

  @Option(
      names = "--input",
      arity = "1..*",
      required = true,
      paramLabel = "FILE",
      description = "Document-per-line text files, plain or gzip.")
  List<Path> inputs = new ArrayList<>();

  @Option(
      names = "--output",
      required = true,
      paramLabel = "PATH.model",
      description = "Model to write; PATH.vocab is written beside it.")
  Path output;

  @Option(
      names = "--vocab-size",
      paramLabel = "N",
      description =
          "Number of pieces, special pieces and characters included (default: ${DEFAULT-VALUE}).")
  int vocabSize = 4096;

  @Option(
      names = "--user-defined-symbols",
      split = ",",
      paramLabel = "PIECE",
      description =
          "Pieces always kept whole, comma-separated (default: the originals' <EOS>,<DNA>,...,<protein>,<antibody>).")
  List<String> userDefinedSymbols = new ArrayList<>(BpeTrainer.ORIGINAL_USER_DEFINED_SYMBOLS);

  @Option(
      names = "--max-piece-length",
      paramLabel = "N",
      description = "Longest piece in characters (default: ${DEFAULT-VALUE}, as the originals).")
  int maxPieceLength = 32;

  @Option(
      names = "--character-coverage",
      paramLabel = "F",
      description =
          "Share of characters the alphabet must cover, 0.98-1.0; rarer ones become <unk> (default: ${DEFAULT-VALUE}).")
  double characterCoverage = 1.0;

  @Option(
      names = {"--input-sentence-size", "--max-documents"},
      paramLabel = "N",
      description =
          "Train on a uniform random sample of at most N documents; 0 = all (default: ${DEFAULT-VALUE}).")
  long inputSentenceSize = 0;

  @Option(
      names = "--max-document-length",
      paramLabel = "BYTES",
      description =
          "Skip documents longer than this (spm_train's max_sentence_length); 0 = no limit (default: ${DEFAULT-VALUE}).")
  int maxDocumentLength = 0;

  @Override
  public Integer call() throws java.io.IOException {
    if (vocabSize < 1) {
      throw new UserError("--vocab-size must be positive, got " + vocabSize);
    }
    TrainingDocuments.checkReadable(inputs);
    Path modelFile = ModelWriter.modelPath(output.toAbsolutePath());
    if (!Files.isDirectory(modelFile.getParent()) || !Files.isWritable(modelFile.getParent())) {
      throw new UserError(
          "output folder " + modelFile.getParent() + " does not exist or is not writable");
    }
    if (Files.isDirectory(modelFile)) {
      throw new UserError(
          "--output " + modelFile + " is a folder; give a file name like out.model");
    }
    BpeTrainer trainer =
        new BpeTrainer(
            BpeTrainer.Options.defaults()
                .withVocabSize(vocabSize)
                .withUserDefinedSymbols(userDefinedSymbols)
                .withMaxPieceLength(maxPieceLength)
                .withCharacterCoverage(characterCoverage)
                .withInputSentenceSize(inputSentenceSize)
                .withMaxSentenceLength(maxDocumentLength));
    BpeTrainer.Session session = trainer.session();
    List<String> names = new ArrayList<>();
    long total = 0;
    for (Path in : inputs) {
      total += Files.size(in);
    }
    ReadProgress progress = new ReadProgress(total, session);
    for (Path in : inputs) {
      long before = session.documentsRead();
      TrainingDocuments.forEachLine(in, session::add, progress.forFile());
      log.info("read {} documents from {}", session.documentsRead() - before, in);
      names.add(in.toString());
    }
    ModelProto model = session.train(names);
    Path written = ModelWriter.write(model, output);
    System.out.println(
        "wrote "
            + written
            + " and "
            + ModelWriter.vocabPath(written)
            + " ("
            + model.getPiecesCount()
            + " pieces)");
    return 0;
  }

  /** Logs bytes and documents read, rate and ETA against the input files' sizes. */
  private static final class ReadProgress {
    private static final long EVERY_NANOS = 5_000_000_000L;
    private final long totalBytes;
    private final BpeTrainer.Session session;
    private final long start = System.nanoTime();
    private long next = start + EVERY_NANOS;
    private long finishedFiles;
    private long inFile;

    ReadProgress(long totalBytes, BpeTrainer.Session session) {
      this.totalBytes = totalBytes;
      this.session = session;
    }

    java.util.function.LongConsumer forFile() {
      finishedFiles += inFile;
      inFile = 0;
      return bytes -> {
        inFile = bytes;
        long now = System.nanoTime();
        if (now < next) {
          return;
        }
        next = now + EVERY_NANOS;
        long done = finishedFiles + bytes;
        double seconds = (now - start) / 1e9;
        double rate = done / seconds;
        log.info(
            "reading: {} of {} MB ({}%), {} documents, {} MB/s, ETA {} s",
            String.format("%.0f", done / 1e6),
            String.format("%.0f", totalBytes / 1e6),
            String.format("%.0f", 100.0 * done / Math.max(1, totalBytes)),
            session.documentsRead(),
            String.format("%.1f", rate / 1e6),
            String.format("%.0f", (totalBytes - done) / rate));
      };
    }
  }
}
