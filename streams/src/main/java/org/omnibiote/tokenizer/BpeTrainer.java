package org.omnibiote.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import org.omnibiote.UserError;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto.SentencePiece;
import org.omnibiote.tokenizer.proto.SentencepieceModel.NormalizerSpec;
import org.omnibiote.tokenizer.proto.SentencepieceModel.TrainerSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Learns a BPE vocabulary from documents (one per line, e.g. {@code <DNA>ACGT...<EOS>}) the way
 * spm_train --model_type=bpe does, and returns it as a SentencePiece ModelProto laid out like the
 * original OmniBioTE models: {@code <unk> <s> </s>}, the user-defined pieces, the merged pieces
 * with score -rank, then the single characters.
 */
public final class BpeTrainer {
  private static final Logger log = LoggerFactory.getLogger(BpeTrainer.class);

  /** The user-defined pieces of the original OmniBioTE tokenizers, ids 3..19 in this order. */
  public static final List<String> ORIGINAL_USER_DEFINED_SYMBOLS =
      List.of(
          "<EOS>",
          "<DNA>",
          "<mRNA>",
          "<RNA>",
          "<rRNA>",
          "<tRNA>",
          "<cRNA>",
          "<ss-RNA>",
          "<ss-DNA>",
          "<ds-mRNA>",
          "<ds-rRNA>",
          "<ds-RNA>",
          "<ms-DNA>",
          "<ms-RNA>",
          "<ds-cRNA>",
          "<protein>",
          "<antibody>");

  private static final String UNK = "<unk>";
  private static final String BOS = "<s>";
  private static final String EOS = "</s>";

  /**
   * Training settings. Defaults follow the original models' trainer_spec where the value means
   * something for BPE (character coverage 1.0, pieces up to 32 characters); a maxSentenceLength of
   * 0 keeps documents of any length (spm_train skips lines longer than 4192 bytes by default, which
   * would drop most GenBank records), and an inputSentenceSize of 0 uses every document.
   */
  public record Options(
      int vocabSize,
      List<String> userDefinedSymbols,
      int maxPieceLength,
      double characterCoverage,
      long inputSentenceSize,
      int maxSentenceLength,
      long seed) {

    public Options {
      userDefinedSymbols = List.copyOf(userDefinedSymbols);
    }

    public static Options defaults() {
      return new Options(4096, ORIGINAL_USER_DEFINED_SYMBOLS, 32, 1.0, 0, 0, 0);
    }

    public Options withVocabSize(int v) {
      return new Options(
          v,
          userDefinedSymbols,
          maxPieceLength,
          characterCoverage,
          inputSentenceSize,
          maxSentenceLength,
          seed);
    }

    public Options withUserDefinedSymbols(List<String> v) {
      return new Options(
          vocabSize,
          v,
          maxPieceLength,
          characterCoverage,
          inputSentenceSize,
          maxSentenceLength,
          seed);
    }

    public Options withMaxPieceLength(int v) {
      return new Options(
          vocabSize,
          userDefinedSymbols,
          v,
          characterCoverage,
          inputSentenceSize,
          maxSentenceLength,
          seed);
    }

    public Options withCharacterCoverage(double v) {
      return new Options(
          vocabSize,
          userDefinedSymbols,
          maxPieceLength,
          v,
          inputSentenceSize,
          maxSentenceLength,
          seed);
    }

    public Options withInputSentenceSize(long v) {
      return new Options(
          vocabSize,
          userDefinedSymbols,
          maxPieceLength,
          characterCoverage,
          v,
          maxSentenceLength,
          seed);
    }

    public Options withMaxSentenceLength(int v) {
      return new Options(
          vocabSize,
          userDefinedSymbols,
          maxPieceLength,
          characterCoverage,
          inputSentenceSize,
          v,
          seed);
    }

    void validate() {
      if (maxPieceLength < 1 || maxPieceLength > 512) {
        throw new UserError("max piece length must be between 1 and 512, got " + maxPieceLength);
      }
      if (!(characterCoverage >= 0.98 && characterCoverage <= 1.0)) {
        throw new UserError(
            "character coverage must be between 0.98 and 1.0, got " + characterCoverage);
      }
      if (inputSentenceSize < 0 || maxSentenceLength < 0) {
        throw new UserError("document limits must not be negative");
      }
      if (inputSentenceSize > Integer.MAX_VALUE - 8) {
        throw new UserError("the document sample size must be below " + Integer.MAX_VALUE);
      }
      LinkedHashSet<String> unique = new LinkedHashSet<>();
      for (String s : userDefinedSymbols) {
        if (s.isEmpty() || s.indexOf(' ') >= 0) {
          throw new UserError("user-defined symbol '" + s + "' is empty or contains a space");
        }
        if (s.equals(UNK) || s.equals(BOS) || s.equals(EOS)) {
          throw new UserError(
              "user-defined symbol '" + s + "' clashes with the reserved pieces <unk> <s> </s>");
        }
        if (!unique.add(s)) {
          throw new UserError("user-defined symbol '" + s + "' is given twice");
        }
      }
    }
  }

  private final Options options;

  public BpeTrainer(Options options) {
    options.validate();
    this.options = options;
  }

  /** Collects documents; call {@link Session#train} when all have been added. */
  public Session session() {
    return new Session();
  }

  /** Trains on {@code documents}; {@code inputNames} are recorded in the trainer spec. */
  public ModelProto train(Iterable<String> documents, List<String> inputNames) {
    Session s = session();
    for (String d : documents) {
      s.add(d);
    }
    return s.train(inputNames);
  }

  /** One training run: documents go in one at a time, a model comes out. */
  public final class Session {
    private final TrainingCorpus.Loader loader = new TrainingCorpus.Loader(options, metaPieces());

    private long documentsUsed;

    private Session() {}

    public void add(String document) {
      loader.add(document);
    }

    public long documentsRead() {
      return loader.documentsRead();
    }

    /** Documents the last {@link #train} learned from (after sampling and filtering). */
    public long documentsUsed() {
      return documentsUsed;
    }

    public ModelProto train(List<String> inputNames) {
      long t0 = System.nanoTime();
      TrainingCorpus corpus = loader.build();
      TrainingCorpus.Stats st = corpus.stats;
      documentsUsed = st.documentsUsed();
      log.info(
          "training on {} documents ({} MB; read {}, skipped {} too long, {} with U+2585, {}"
              + " empty): {} distinct words, alphabet of {} characters",
          st.documentsUsed(),
          String.format("%.1f", st.bytesUsed() / 1e6),
          st.documentsRead(),
          st.skippedTooLong(),
          st.skippedReservedChar(),
          st.skippedEmpty(),
          corpus.words.length,
          corpus.chars.length);
      int meta = metaPieces().size();
      int merges = options.vocabSize() - meta - corpus.chars.length;
      if (merges <= 0) {
        throw new UserError(
            "vocabulary size "
                + options.vocabSize()
                + " is too small: the "
                + meta
                + " special pieces and the "
                + corpus.chars.length
                + " characters of the documents need "
                + (meta + corpus.chars.length)
                + ", so it must be at least "
                + (meta + corpus.chars.length + 1));
      }
      BpeMergeLearner bpe = merger(corpus);
      Progress progress = new Progress(merges, System.nanoTime());
      List<String> pieces = bpe.run(merges, progress);
      if (pieces.size() < merges) {
        throw new UserError(
            "the documents allow only "
                + pieces.size()
                + " merges, so the vocabulary size can be"
                + " at most "
                + (options.vocabSize() - merges + pieces.size())
                + " (asked for "
                + options.vocabSize()
                + "); give more documents or a smaller vocabulary size");
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      log.info(
          "learned {} merges in {} s ({} MB/s of documents)",
          merges,
          String.format("%.1f", seconds),
          String.format("%.2f", st.bytesUsed() / 1e6 / seconds));
      return model(pieces, corpus, inputNames);
    }
  }

  private BpeMergeLearner merger(TrainingCorpus corpus) {
    Map<Integer, Integer> symbolOf = new HashMap<>();
    for (int i = 0; i < corpus.chars.length; i++) {
      symbolOf.put(corpus.chars[i], i);
    }
    int unknown = corpus.chars.length;
    int[] ascii = new int[128];
    for (int c = 0; c < 128; c++) {
      ascii[c] = symbolOf.getOrDefault(c, unknown);
    }
    long total = 0;
    for (String w : corpus.words) {
      total += w.codePointCount(0, w.length()) + 1;
    }
    if (total > Integer.MAX_VALUE - 16) {
      throw new UserError(
          "the documents hold "
              + total
              + " characters, more than one training run can take"
              + " (about 2.1 billion); limit them with --input-sentence-size");
    }
    int[] text = new int[(int) total];
    int[] starts = new int[corpus.words.length];
    int p = 0;
    for (int w = 0; w < corpus.words.length; w++) {
      starts[w] = p;
      String word = corpus.words[w];
      for (int k = 0; k < word.length(); ) {
        int c = word.codePointAt(k);
        k += Character.charCount(c);
        text[p++] = c < 128 ? ascii[c] : symbolOf.getOrDefault(c, unknown);
      }
      text[p++] = BpeMergeLearner.BOUNDARY;
    }
    return new BpeMergeLearner(
        text, starts, corpus.wordCounts, corpus.chars, options.maxPieceLength());
  }

  /** unk, bos, eos, then the user-defined symbols, in id order. */
  private List<String> metaPieces() {
    List<String> m = new ArrayList<>(List.of(UNK, BOS, EOS));
    m.addAll(options.userDefinedSymbols());
    return m;
  }

  private ModelProto model(List<String> merged, TrainingCorpus corpus, List<String> inputNames) {
    ModelProto.Builder model = ModelProto.newBuilder();
    model.addPieces(piece(UNK, 0, SentencePiece.Type.UNKNOWN));
    model.addPieces(piece(BOS, 0, SentencePiece.Type.CONTROL));
    model.addPieces(piece(EOS, 0, SentencePiece.Type.CONTROL));
    for (String s : options.userDefinedSymbols()) {
      model.addPieces(piece(s, 0, SentencePiece.Type.USER_DEFINED));
    }
    int rank = 0;
    for (String p : merged) {
      model.addPieces(SentencePiece.newBuilder().setPiece(p).setScore(-(float) rank++));
    }
    for (int c : corpus.chars) {
      String p = new String(Character.toChars(c));
      model.addPieces(SentencePiece.newBuilder().setPiece(p).setScore(-(float) rank++));
    }
    model.setTrainerSpec(trainerSpec(inputNames));
    model.setNormalizerSpec(normalizerSpec());
    return model.build();
  }

  private static SentencePiece.Builder piece(String p, float score, SentencePiece.Type type) {
    return SentencePiece.newBuilder().setPiece(p).setScore(score).setType(type);
  }

  /**
   * Filled like the originals' trainer_spec (spm_train writes every field), with our values where
   * they differ: max_sentence_length 0 means "no limit" here, and num_threads is 1 because the
   * merge loop is sequential.
   */
  private TrainerSpec trainerSpec(List<String> inputNames) {
    return TrainerSpec.newBuilder()
        .addAllInput(inputNames)
        .setInputFormat("")
        .setModelPrefix("")
        .setModelType(TrainerSpec.ModelType.BPE)
        .setVocabSize(options.vocabSize())
        .setSelfTestSampleSize(0)
        .setCharacterCoverage((float) options.characterCoverage())
        .setInputSentenceSize(options.inputSentenceSize())
        .setShuffleInputSentence(true)
        .setSeedSentencepieceSize(1000000)
        .setShrinkingFactor(0.75f)
        .setMaxSentenceLength(options.maxSentenceLength())
        .setNumThreads(1)
        .setNumSubIterations(2)
        .setMaxSentencepieceLength(options.maxPieceLength())
        .setSplitByUnicodeScript(true)
        .setSplitByNumber(true)
        .setSplitByWhitespace(true)
        .setTreatWhitespaceAsSuffix(false)
        .setAllowWhitespaceOnlyPieces(false)
        .setSplitDigits(false)
        .setPretokenizationDelimiter("")
        .addAllUserDefinedSymbols(options.userDefinedSymbols())
        .setRequiredChars("")
        .setByteFallback(false)
        .setVocabularyOutputPieceScore(true)
        .setHardVocabLimit(true)
        .setUseAllVocab(false)
        .setUnkId(0)
        .setBosId(1)
        .setEosId(2)
        .setPadId(-1)
        .setUnkPiece(UNK)
        .setBosPiece(BOS)
        .setEosPiece(EOS)
        .setPadPiece("<pad>")
        .setUnkSurface(" \u2047 ")
        .setTrainExtremelyLargeCorpus(false)
        .setEnableDifferentialPrivacy(false)
        .setDifferentialPrivacyNoiseLevel(0f)
        .setDifferentialPrivacyClippingThreshold(0)
        .build();
  }

  /**
   * The identity normaliser rather than the originals' nmt_nfkc: NFKC needs a precompiled character
   * map that only SentencePiece's own builder makes, and it changes nothing in biological sequences
   * (upper-case ASCII letters), so identity gives the same pieces while keeping the model
   * self-contained. Whitespace handling stays as in the originals.
   */
  private static NormalizerSpec normalizerSpec() {
    return NormalizerSpec.newBuilder()
        .setName("identity")
        .setAddDummyPrefix(true)
        .setRemoveExtraWhitespaces(true)
        .setEscapeWhitespaces(true)
        .setNormalizationRuleTsv("")
        .build();
  }

  /**
   * Logs merges done, rate and ETA at most every few seconds. Early merges touch millions of
   * occurrences and later ones few, so the ETA uses the rate of the last interval, which adapts as
   * merges get cheaper (it is pessimistic at the start).
   */
  private static final class Progress implements LongConsumer {
    private static final long EVERY_NANOS = 5_000_000_000L;
    private final long total;
    private long lastTime;
    private long lastDone;

    Progress(long total, long start) {
      this.total = total;
      this.lastTime = start;
    }

    @Override
    public void accept(long done) {
      long now = System.nanoTime();
      if (now - lastTime < EVERY_NANOS || done >= total) {
        return;
      }
      double rate = (done - lastDone) / ((now - lastTime) / 1e9);
      lastTime = now;
      lastDone = done;
      log.info(
          "merges {}/{} ({}%), {} merges/s, ETA {} s",
          done,
          total,
          String.format("%.1f", 100.0 * done / total),
          String.format("%.0f", rate),
          rate > 0 ? String.format("%.0f", (total - done) / rate) : "?");
    }
  }
}
