package org.omnibiote.data;

import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.ingest.Ingest;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.ingest.Inputs;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.shards.FinishedShard;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.sources.RecordSources;
import org.omnibiote.tokenizer.BpeTrainer;
import org.omnibiote.tokenizer.ModelWriter;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;

/**
 * Ingest output folders for the tests: one made by the real ingest from a few files of
 * ../shared/data with the original mixed tokenizer, and hand-made ones whose documents a test
 * chooses, written with the ingest's own ShardWriter and ManifestStore.
 */
public final class IngestOutputs {
  static final int VOCAB = 65_536;
  static final int BANNED = 65_533;
  static final int EOS = 3;

  private IngestOutputs() {}

  static Path shared() {
    String p = System.getProperty("omnibiote.shared");
    if (p == null || !Files.isDirectory(Path.of(p, "data"))) {
      throw new IllegalStateException(
          "system property omnibiote.shared must point at ../shared (surefire sets it); got " + p);
    }
    return Path.of(p).toAbsolutePath().normalize();
  }

  /** The real records the ingest fixtures read: GenBank files, then protein FASTA files. */
  private static List<Path> genbankInputs() {
    Path data = shared().resolve("data");
    return List.of(
        data.resolve("deb-python-biopython-doc_1.80+dfsg-4/GenBank/ls_orchid.gbk"),
        data.resolve("deb-emboss-test_6.6.0+dfsg-12/genbank/gbvrl1.seq"),
        data.resolve("gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb"));
  }

  private static List<Path> proteinInputs() {
    Path data = shared().resolve("data");
    return List.of(
        data.resolve("deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta"),
        data.resolve("gh-facebookresearch-esm/some_proteins.fasta"));
  }

  /**
   * Runs the real ingest into {@code out}: three GenBank files (94 orchid records, viruses,
   * SARS-CoV-2) and two protein FASTA files (515 records), 20% of records to val so that both val
   * sets are real.
   */
  public static Manifest realIngest(Path out) throws IOException {
    return ingest(shared().resolve("tokenizers/mixed_bpe.model"), out);
  }

  /**
   * The same records and ingest as {@link #realIngest}, tokenized with a vocabulary of {@code
   * vocabSize} pieces that our BPE trainer learns from them first (written into {@code out} as
   * {@code small-vocabulary.model}). For tests of the run machinery (distribution, recovery): a
   * 65,536-piece vocabulary makes the embedding, the head and the optimiser state of a tiny model
   * 100 times larger than the rest, and a step 6 times slower, without testing anything more.
   */
  public static Manifest smallVocabularyIngest(Path out, int vocabSize) throws IOException {
    List<String> documents = new ArrayList<>();
    List<Path> inputs = new ArrayList<>(genbankInputs());
    inputs.addAll(proteinInputs());
    for (Path in : inputs) {
      try (RecordSource src = RecordSources.open(in, RecordSources.sniff(in), p -> {}, false)) {
        for (SeqRecord r; (r = src.next()) != null; ) {
          documents.add(r.document());
        }
      }
    }
    ModelProto model =
        new BpeTrainer(BpeTrainer.Options.defaults().withVocabSize(vocabSize))
            .train(documents, inputs.stream().map(Path::toString).toList());
    Files.createDirectories(out);
    Path written = ModelWriter.write(model, out.resolve("small-vocabulary.model"));
    return ingest(written, out);
  }

  private static Manifest ingest(Path model, Path out) throws IOException {
    IngestSettings settings =
        IngestSettings.from(ConfigFactory.load())
            .withValFraction(0.2)
            .withShardTargetBytes(64 * 1024);
    return new Ingest(
            SentencePieceTokenizer.load(model), model, settings, out, false, ConfigFactory.load())
        .run(
            Inputs.resolve(genbankInputs(), proteinInputs()),
            new PrintStream(new ByteArrayOutputStream(), true));
  }

  /** A hand-made output folder: shards of chosen documents, then the manifest. */
  static final class HandMade {
    private final Path root;
    private final List<Manifest.Shard> shards = new ArrayList<>();
    private final NpyDtype dtype;
    private final int vocab;
    private int counter;

    HandMade(Path root) {
      this(root, NpyDtype.UINT16, VOCAB);
    }

    HandMade(Path root, NpyDtype dtype, int vocab) {
      this.root = root;
      this.dtype = dtype;
      this.vocab = vocab;
    }

    /** One shard of {@code dataset}/{@code split} holding {@code documents} in order. */
    HandMade shard(String dataset, String split, int[]... documents) throws IOException {
      String name = dataset + "/" + split + "/" + dataset + "-" + split + "-" + counter++ + ".npy";
      FinishedShard f;
      try (var w =
          new org.omnibiote.shards.ShardWriter(
              root.resolve(".work/tmp/" + counter + ".npy"), dtype)) {
        for (int[] doc : documents) {
          w.append(doc, doc.length, doc[0] == 18 ? "protein" : "DNA");
        }
        f = w.finish(root.resolve(name));
      }
      shards.add(
          new Manifest.Shard(
              name,
              dataset,
              split,
              f.tokens(),
              f.documents(),
              f.tagDocuments(),
              f.sha256(),
              List.of(),
              null));
      return this;
    }

    Path write() throws IOException {
      Manifest m =
          Manifest.of(
              new Manifest.TokenizerInfo(
                  "mixed_bpe.model", "0".repeat(64), vocab, List.of(BANNED), EOS, dtype.name()),
              new Manifest.Settings(0.01, "omnibiote", "sha256", 1 << 20),
              List.of(),
              shards);
      new ManifestStore(new ShardLayout(root)).write(m);
      return root;
    }
  }

  /** A document: the tag, the given ids, EOS. */
  static int[] doc(int tag, int... body) {
    int[] d = new int[body.length + 2];
    d[0] = tag;
    System.arraycopy(body, 0, d, 1, body.length);
    d[d.length - 1] = EOS;
    return d;
  }
}
