package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.cluster.RunCompletion;
import org.omnibiote.download.SampleDownloader;
import org.omnibiote.encode.SequenceTag;
import org.omnibiote.ingest.Ingest;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.ingest.InputFile;
import org.omnibiote.ingest.Inputs;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.shards.Manifest;
import org.omnibiote.sources.RecordSources;
import org.omnibiote.tokenizer.BpeTrainer;
import org.omnibiote.tokenizer.ModelWriter;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import org.omnibiote.worker.EmbeddedRun;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote quickstart}: the main job on an embedded default. Takes real GenBank and FASTA
 * files (a folder, or a small sample it downloads), a tokenizer (given, or a small one trained on
 * the spot) and ingests them into token shards as the trainer reads them.
 */
@Command(
    name = "quickstart",
    mixinStandardHelpOptions = true,
    description = {
      "The main job on an embedded default: ingest the GenBank and FASTA files of --data into"
          + " token shards. Without --data it first downloads a small real sample (NCBI and"
          + " UniProt by default; omnibiote.quickstart.sample in the configuration); without"
          + " --tokenizer it trains a small BPE tokenizer on the documents.",
      "Writes OUTPUT/sample/ (when downloading), OUTPUT/tokenizer/quickstart.model (when"
          + " training) and OUTPUT/shards/ (genbank/ and uniref100/ train and val .npy shards,"
          + " manifest.json). A re-run reuses what is there."
    },
    footer = {
      "",
      "Offline, on the data beside the checkout:",
      "  bin/omnibiote quickstart --data ../shared/data"
    })
public final class QuickstartCommand implements Callable<Integer>, NeedsLibtorch {
  private static final Logger log = LoggerFactory.getLogger(QuickstartCommand.class);
  private static final int EXAMPLES_PER_KIND = 4;
  private static final int MAX_EXAMPLE_LENGTH = 2000;

  @Option(
      names = "--data",
      paramLabel = "DIR",
      description =
          "Folder of GenBank and FASTA files, plain or .gz, searched recursively; each file"
              + " is recognised by its content (a LOCUS line; a first line starting with '>'),"
              + " else by its name (.seq .gb .gbk .gbff .gp / .fasta .fa .faa)."
              + " Default: download the sample.")
  Path data;

  @Option(
      names = "--tokenizer",
      paramLabel = "M.model",
      description = "SentencePiece model to tokenize with. Default: train a small one.")
  Path tokenizer;

  @Option(
      names = "--output",
      paramLabel = "DIR",
      description =
          "Where to put sample/, tokenizer/ and shards/"
              + " (default: omnibiote.quickstart.output, runs/quickstart).")
  Path output;

  @Mixin ConfigOption configOption;

  @Override
  public Integer call() throws IOException, InterruptedException {
    Config config = configOption.load();
    Path out = output != null ? output : Path.of(config.getString("omnibiote.quickstart.output"));
    Files.createDirectories(out);
    // Start the stream runtime now: it takes a second we would otherwise wait for later.
    CompletableFuture<ActorSystem> streams = Ingest.startActorSystem(config);
    try {
      Path dataDir = data != null ? checkedData(data) : fetchSample(config, out.resolve("sample"));
      List<InputFile> inputs = Inputs.resolveFolder(dataDir);
      if (inputs.isEmpty()) {
        throw new UserError(
            dataDir
                + " holds no GenBank or FASTA files (by content: a LOCUS line, or a first"
                + " line starting with '>'; or by name: .seq .gb .gbk .gbff .gp / .fasta .fa"
                + " .faa)");
      }
      Path model = tokenizer != null ? tokenizer : trainedTokenizer(config, inputs, out);
      Path shards = out.resolve("shards");
      Manifest manifest =
          new Ingest(
                  SentencePieceTokenizer.load(model),
                  model,
                  IngestSettings.from(config),
                  shards,
                  false,
                  config)
              .using(streams)
              .run(inputs, System.err);
      System.out.printf(
          "quickstart: %,d documents, %,d tokens in %d shards under %s%n",
          manifest.totals().documents(),
          manifest.totals().tokens(),
          manifest.totals().shards(),
          shards);
      System.out.println("  tokenizer: " + model);
      System.out.println("  manifest:  " + shards.resolve("manifest.json"));
      Path checkpoint = trainedModel(config, shards, out.resolve("model"));
      if (checkpoint == null) {
        System.out.println(
            "quickstart: the training was stopped from its console; the same quickstart command"
                + " continues it from its last checkpoint, then encodes");
        return 0;
      }
      System.out.println("  model:     " + checkpoint);
      Path examples = exampleSequences(inputs, out.resolve("encode").resolve("examples.fasta"));
      Path encodings = out.resolve("encode").resolve("examples.npy");
      int encoded =
          Main.execute(
              "encode",
              "--checkpoint",
              checkpoint.toString(),
              "--input",
              examples.toString(),
              "--tokenizer",
              model.toString(),
              "--method",
              "mean",
              "--output",
              encodings.toString());
      if (encoded != 0) {
        throw new UserError("quickstart: encoding " + examples + " failed (see above)");
      }
      System.out.println(
          "  encodings: "
              + encodings
              + " (mean of the final layer, one row per"
              + " record of "
              + examples.getFileName()
              + "; ids in "
              + encodings.getFileName().toString().replace(".npy", ".ids.tsv")
              + ")");
      System.out.println(
          "  try:       echo '<DNA>ACGTACGT<EOS>' | bin/omnibiote tokenize"
              + " --tokenizer "
              + model);
      return 0;
    } finally {
      // Fire and forget: the stream runtime stops once it has started; nothing waits for that.
      var unused = streams.thenAccept(ActorSystem::terminate);
    }
  }

  /**
   * The tiny model of omnibiote.quickstart.train trained on the shards: reused when an earlier run
   * finished it, continued from its latest checkpoint when one was interrupted.
   */
  private static Path trainedModel(Config config, Path shards, Path runDir)
      throws IOException, InterruptedException {
    String name = "omnibiota";
    if (Files.exists(runDir.resolve(name + Checkpoints.MANIFEST_SUFFIX))) {
      System.err.println("quickstart: reusing the trained model in " + runDir);
      return runDir.resolve(name + ".safetensors");
    }
    Map<String, Object> set = new LinkedHashMap<>();
    set.put("base_dir", shards.toString());
    set.put("save_name", runDir.resolve(name).toString());
    set.put("resume_from", Checkpoints.list(runDir, name).isEmpty() ? "" : "latest");
    Config train =
        ConfigFactory.parseMap(set)
            .withFallback(config.getConfig("omnibiote.quickstart.train"))
            .withFallback(config.getConfig(TrainSettings.PATH));
    System.err.println(
        "quickstart: training a tiny OmniBioTA on the shards (omnibiote.quickstart.train)");
    RunCompletion.Result result =
        EmbeddedRun.run(train.atPath(TrainSettings.PATH).withFallback(config), System.out);
    return result.stopped() ? null : result.runDir().resolve(name + ".safetensors");
  }

  /**
   * A small FASTA of the first records of the first nucleotide and the first protein inputs
   * (EXAMPLES_PER_KIND each), for the encode step to show what encodings look like.
   */
  private static Path exampleSequences(List<InputFile> inputs, Path fasta) throws IOException {
    StringBuilder text = new StringBuilder();
    Set<String> kinds = new HashSet<>();
    for (InputFile f : inputs) {
      try (RecordSource records = RecordSources.open(f.path(), f.format(), p -> {}, false)) {
        int taken = 0;
        for (SeqRecord r = records.next();
            r != null && taken < EXAMPLES_PER_KIND;
            r = records.next()) {
          String kind = SequenceTag.of(r.sequence());
          if (kinds.contains(kind) && taken == 0) {
            break;
          }
          if (r.sequence().length() > MAX_EXAMPLE_LENGTH) {
            continue;
          }
          kinds.add(kind);
          text.append('>').append(r.id()).append('\n').append(r.sequence()).append('\n');
          taken++;
        }
      } catch (UserError e) {
        log.warn("quickstart: no examples from {}: {}", f.path(), e.getMessage());
      }
      if (kinds.size() >= 2) {
        break;
      }
    }
    if (text.length() == 0) {
      throw new UserError(
          "quickstart: no sequence of at most "
              + MAX_EXAMPLE_LENGTH
              + " residues to encode in the inputs");
    }
    Files.createDirectories(fasta.getParent());
    AtomicFiles.write(fasta, text.toString().getBytes(StandardCharsets.UTF_8));
    return fasta;
  }

  private static Path checkedData(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new UserError("--data " + dir + ": no such folder");
    }
    return dir;
  }

  private static Path fetchSample(Config config, Path dir) {
    System.err.println(
        "quickstart: fetching the sample into "
            + dir
            + " (omnibiote.quickstart.sample; use --data DIR for your own files)");
    return SampleDownloader.fetch(config, dir);
  }

  /**
   * The tokenizer trained in an earlier run in this output folder, or a new one learnt from the
   * inputs' documents (the shards of an output folder must all share one tokenizer, so an existing
   * one is kept).
   */
  private static Path trainedTokenizer(Config config, List<InputFile> inputs, Path out)
      throws IOException {
    Path model = out.resolve("tokenizer").resolve("quickstart.model");
    if (Files.isRegularFile(model)) {
      System.err.println("quickstart: reusing the tokenizer " + model);
      return model;
    }
    Config c = config.getConfig("omnibiote.quickstart.tokenizer");
    BpeTrainer.Session session =
        new BpeTrainer(
                BpeTrainer.Options.defaults()
                    .withVocabSize(c.getInt("vocab-size"))
                    .withMaxPieceLength(c.getInt("max-piece-length"))
                    .withInputSentenceSize(c.getLong("max-documents")))
            .session();
    List<String> names = new ArrayList<>();
    for (InputFile f : inputs) {
      // Problems are reported once, by the ingest that follows; here they are only skipped.
      try (RecordSource records = RecordSources.open(f.path(), f.format(), p -> {}, false)) {
        for (SeqRecord r = records.next(); r != null; r = records.next()) {
          session.add(r.document());
        }
      } catch (UserError e) {
        log.warn("tokenizer training skips {}: {}", f.path(), e.getMessage());
      }
      names.add(f.path().toString());
    }
    System.err.printf(
        "quickstart: training a %d-piece BPE tokenizer on %,d documents%n",
        c.getInt("vocab-size"), session.documentsRead());
    Files.createDirectories(model.getParent());
    ModelProto proto = session.train(names);
    return ModelWriter.write(proto, model);
  }
}
