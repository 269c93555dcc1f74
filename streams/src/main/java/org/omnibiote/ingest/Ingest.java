package org.omnibiote.ingest;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.io.Daemons;
import org.omnibiote.io.ProgressLine;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.ShardWriter;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code omnibiote ingest}: GenBank and UniRef100 files into the token shards the original trainer
 * reads, with a manifest. Refuses an incompatible output folder before any work, skips sources
 * finished by an earlier run, and runs the rest through one stream graph ({@link IngestGraph}).
 */
public final class Ingest {
  private static final Logger log = LoggerFactory.getLogger(Ingest.class);

  /**
   * Pekko logs through SLF4J, warnings only: the stream system is an implementation detail of one
   * command, its start and shutdown are not news (and stdout stays clean). Set here, not in
   * reference.conf, because which library's reference.conf wins is classpath order.
   */
  private static final Config PEKKO_QUIET =
      ConfigFactory.parseString(
          """
          pekko.loglevel = WARNING
          pekko.stdout-loglevel = OFF
          pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
          pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
          """);

  private final Tokenizer tokenizer;
  private final Path modelFile;
  private final IngestSettings settings;
  private final ShardLayout layout;
  private final boolean strict;
  private final Config config;
  private CompletableFuture<ActorSystem> actorSystem;

  public Ingest(
      Tokenizer tokenizer,
      Path modelFile,
      IngestSettings settings,
      Path output,
      boolean strict,
      Config config) {
    this.tokenizer = tokenizer;
    this.modelFile = modelFile;
    this.settings = settings;
    this.layout = new ShardLayout(output);
    this.strict = strict;
    this.config = config;
  }

  /**
   * Starts the stream runtime in the background (it takes about a second), so a command can load
   * the tokenizer meanwhile; hand it over with {@link #using}.
   */
  public static CompletableFuture<ActorSystem> startActorSystem(Config config) {
    return Daemons.supply(
        "ingest-start", () -> ActorSystem.create("ingest", PEKKO_QUIET.withFallback(config)));
  }

  /** Runs the stream on an actor system started before (it is terminated by {@link #run}). */
  public Ingest using(CompletableFuture<ActorSystem> system) {
    this.actorSystem = system;
    return this;
  }

  /** Ingests {@code inputs} (see {@link Inputs#resolve}); returns the final manifest. */
  public Manifest run(List<InputFile> inputs, PrintStream progressOut) {
    DocumentEncoder encoder = new DocumentEncoder(tokenizer, splitRule());
    Manifest.TokenizerInfo info = tokenizerInfo(encoder);
    try (OutputFolder out = OutputFolder.open(layout, info, manifestSettings())) {
      List<InputFile> todo = out.pending(inputs);
      out.removeUnlisted();
      out.writeManifest();
      if (!todo.isEmpty()) {
        try {
          runGraph(todo, encoder, NpyDtype.valueOf(info.dtype()), out, progressOut);
        } catch (RuntimeException e) {
          out.removeUnlisted();
          throw e;
        }
      }
      Manifest m = out.finishRun();
      report(m, todo.size(), inputs.size());
      return m;
    } catch (IOException e) {
      throw new UserError("writing " + layout.root() + ": " + e.getMessage(), e);
    }
  }

  private void runGraph(
      List<InputFile> todo,
      DocumentEncoder encoder,
      NpyDtype dtype,
      OutputFolder out,
      PrintStream progressOut) {
    long totalBytes = todo.stream().mapToLong(InputFile::size).sum();
    ExecutorService tokenizers =
        Executors.newFixedThreadPool(
            settings.tokenizeParallelism(), Daemons.named("ingest-tokenizer"));
    ActorSystem system =
        actorSystem != null
            ? actorSystem.join()
            : ActorSystem.create("ingest", PEKKO_QUIET.withFallback(config));
    try (ProgressLine progress =
        new ProgressLine("ingest", totalBytes, settings.progressInterval(), progressOut)) {
      IngestGraph graph =
          new IngestGraph(settings, layout, dtype, encoder, tokenizers, progress, strict);
      CompletableFuture<?> done = graph.run(todo, out::finished, system).toCompletableFuture();
      done.get();
      progress.finish();
    } catch (ExecutionException e) {
      throw rethrow(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted");
    } finally {
      system.terminate();
      tokenizers.shutdownNow();
    }
  }

  /** A user error anywhere in the cause chain is the message; anything else is our bug. */
  private static RuntimeException rethrow(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof UserError u) {
        return u;
      }
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof IOException io) {
        return new UserError(io.getMessage(), io);
      }
    }
    return failure instanceof RuntimeException r ? r : new IllegalStateException(failure);
  }

  public SplitRule splitRule() {
    return new SplitRule(settings.splitSeed(), settings.valFraction());
  }

  public Manifest.Settings manifestSettings() {
    return new Manifest.Settings(
        settings.valFraction(),
        settings.splitSeed(),
        SplitRule.DESCRIPTION,
        settings.shardTargetBytes());
  }

  /**
   * The model file's SHA-256. A SentencePiece model hashed its bytes when it loaded them; hashing
   * the file again costs a tenth of a second on the start's critical path (the digest still runs
   * interpreted then).
   */
  private String modelSha256() throws IOException {
    if (tokenizer instanceof SentencePieceTokenizer spm) {
      return spm.sha256();
    }
    return ShardWriter.sha256(modelFile);
  }

  public Manifest.TokenizerInfo tokenizerInfo(DocumentEncoder encoder) {
    try {
      int banned = encoder.bannedId();
      return new Manifest.TokenizerInfo(
          modelFile.getFileName().toString(),
          modelSha256(),
          tokenizer.vocabSize(),
          banned < 0 ? List.of() : List.of(banned),
          DocumentEncoder.eosId(tokenizer),
          NpyDtype.forVocabulary(tokenizer.vocabSize()).name());
    } catch (IOException e) {
      throw new UserError("cannot read " + modelFile + ": " + e.getMessage(), e);
    }
  }

  private void report(Manifest m, int processed, int given) {
    m.tagsNotSinglePiece()
        .forEach(
            (tag, n) ->
                log.warn(
                    "tag {} is not a single piece of {}: {} documents start with it split into"
                        + " several tokens",
                    tag,
                    m.tokenizer().file(),
                    n));
    log.info(
        "{} input files ({} done now, {} finished before); {}: {} shards, {} documents, {} tokens",
        given,
        processed,
        given - processed,
        layout.root(),
        m.totals().shards(),
        m.totals().documents(),
        m.totals().tokens());
  }
}
