package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.pekko.actor.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.ingest.Ingest;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.ingest.InputFile;
import org.omnibiote.ingest.Inputs;
import org.omnibiote.io.Daemons;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code omnibiote ingest}: GenBank and UniRef100 flat files into token shards. */
@Command(
    name = "ingest",
    mixinStandardHelpOptions = true,
    description = {
      "Parse GenBank and UniRef100/UniProt FASTA files, tokenize every record as"
          + " <molecule_type>SEQUENCE<EOS> (the banned '\u2581' removed) and write .npy token"
          + " shards in the layout the original trainer reads: DIR/genbank/{train,val}/,"
          + " DIR/uniref100/{train,val}/, with DIR/manifest.json.",
      "PATHS are files (taken whatever their name; format sniffed from the content) or"
          + " folders, searched recursively: a file is GenBank or FASTA by its content (a LOCUS"
          + " line; a first line starting with '>'), else by its name (.seq .gb .gbk .gbff .gp /"
          + " .fasta .fa .faa, plain or .gz); what is left out is summed up in one line.",
      "A re-run skips the input files finished before; a killed run is completed by the next.",
      "Defaults come from omnibiote.ingest in reference.conf; override one with"
          + " OMNIBIOTE_JAVA_OPTS=\"-Xmx4g -Domnibiote.ingest.KEY=VALUE\"."
    })
public final class IngestCommand implements Callable<Integer> {

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "M.model",
      description = "SentencePiece model to tokenize with.")
  Path tokenizer;

  @Option(
      names = "--genbank",
      arity = "1..*",
      paramLabel = "PATH",
      description = "GenBank flat files or folders of them (the genbank dataset).")
  List<Path> genbank = new ArrayList<>();

  @Option(
      names = "--uniref",
      arity = "1..*",
      paramLabel = "PATH",
      description = "UniRef100/UniProt FASTA files or folders of them (the uniref100 dataset).")
  List<Path> uniref = new ArrayList<>();

  @Option(
      names = "--output",
      required = true,
      paramLabel = "DIR",
      description = "Output folder (created; a folder made with another tokenizer is refused).")
  Path output;

  @Option(
      names = "--strict",
      description =
          "Fail on the first record the parser refuses instead of reporting and skipping it.")
  boolean strict;

  @Option(
      names = "--val-fraction",
      paramLabel = "F",
      description =
          "Share of records (chosen by record id) in the val split"
              + " (default 0.01, omnibiote.ingest.val-fraction).")
  Double valFraction;

  @Option(
      names = "--shard-size",
      paramLabel = "SIZE",
      description = "Target shard size, e.g. 100MB (default from config: 100 MB).")
  String shardSize;

  @Mixin ConfigOption configOption;

  @Override
  public Integer call() {
    if (genbank.isEmpty() && uniref.isEmpty()) {
      throw new UserError("give input with --genbank PATHS and/or --uniref PATHS");
    }
    // The tokenizer load (about a second on a cold JVM) is the longest step before the
    // stream can run: it starts first, and the configuration and the stream runtime start
    // beside it.
    CompletableFuture<Tokenizer> model = loadInBackground(tokenizer);
    Config config = configOption.load();
    IngestSettings settings = IngestSettings.from(config);
    if (valFraction != null) {
      settings = settings.withValFraction(valFraction);
    }
    if (shardSize != null) {
      settings = settings.withShardTargetBytes(parseSize(shardSize));
    }
    // The stream runtime starts while the tokenizer loads: both take about a second.
    CompletableFuture<ActorSystem> streams = Ingest.startActorSystem(config);
    try {
      List<InputFile> inputs = Inputs.resolve(genbank, uniref);
      new Ingest(loaded(model), tokenizer, settings, output, strict, config)
          .using(streams)
          .run(inputs, System.err);
      return 0;
    } finally {
      // Fire and forget: the stream runtime stops once it has started; nothing waits for that.
      var unused = streams.thenAccept(ActorSystem::terminate);
    }
  }

  private static CompletableFuture<Tokenizer> loadInBackground(Path modelFile) {
    return Daemons.supply("tokenizer-load", () -> SentencePieceTokenizer.load(modelFile));
  }

  /** The loaded tokenizer, or the load's own exception (a UserError for a bad model file). */
  private static Tokenizer loaded(CompletableFuture<Tokenizer> model) {
    try {
      return model.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  private static long parseSize(String size) {
    try {
      return ConfigFactory.parseString("size = \"" + size + "\"").getBytes("size");
    } catch (RuntimeException e) {
      throw new UserError("--shard-size " + size + ": not a size like 100MB or 64KiB");
    }
  }
}
