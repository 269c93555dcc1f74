package org.omnibiote.ingest;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.japi.function.Procedure;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.omnibiote.UserError;
import org.omnibiote.io.ProgressLine;
import org.omnibiote.records.ParseCounts;
import org.omnibiote.records.Problem;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.sources.RecordSources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest stream: input files, several at once (flatMapMerge, bounded by file-parallelism) ->
 * parse each file on the blocking-IO dispatcher (RecordSource blocks) -> batches of up to
 * batch-chars of sequence -> tokenize on the tokenizer threads (mapAsync: parallel, yet in record
 * order, so a file's shards are the same in every run) -> the file's shard writers (per split) on
 * the blocking-IO dispatcher -> one result per file to the manifest. Back-pressure throughout: at
 * most file-parallelism files and 2 x tokenize-parallelism batches per file are in memory.
 */
final class IngestGraph {
  private static final Logger log = LoggerFactory.getLogger(IngestGraph.class);
  private static final String BLOCKING_IO = "pekko.actor.default-blocking-io-dispatcher";

  private final IngestSettings settings;
  private final ShardLayout layout;
  private final NpyDtype dtype;
  private final DocumentEncoder encoder;
  private final Executor tokenizers;
  private final ProgressLine progress;
  private final boolean strict;

  IngestGraph(
      IngestSettings settings,
      ShardLayout layout,
      NpyDtype dtype,
      DocumentEncoder encoder,
      Executor tokenizers,
      ProgressLine progress,
      boolean strict) {
    this.settings = settings;
    this.layout = layout;
    this.dtype = dtype;
    this.encoder = encoder;
    this.tokenizers = tokenizers;
    this.progress = progress;
    this.strict = strict;
  }

  CompletionStage<Done> run(
      List<InputFile> files, Procedure<FileResult> onFileDone, ActorSystem system) {
    return Source.from(files)
        .flatMapMerge(settings.fileParallelism(), this::file)
        .runWith(Sink.foreach(onFileDone), system);
  }

  /** One file's sub-stream: parse, tokenize, shard; emits the file's result at its end. */
  private Source<FileResult, NotUsed> file(InputFile input) {
    FileCounters counters = new FileCounters();
    FileSharder sharder = new FileSharder(input, layout, dtype, settings.shardTargetBytes());
    return Source.unfoldResource(
            () -> open(input),
            source -> Optional.ofNullable(next(source, input, counters)),
            RecordSource::close)
        // Batches grow only while the tokenizers are busy (up to batch-chars): the first
        // records go to the tokenizers as soon as they are parsed instead of waiting for a
        // full batch, which matters most at start, when parsing runs in a cold JVM.
        .batchWeighted(
            settings.batchChars(),
            r -> (long) r.sequence().length() + 1,
            IngestGraph::firstOfBatch,
            IngestGraph::addToBatch)
        .withAttributes(ActorAttributes.dispatcher(BLOCKING_IO))
        .async()
        // Twice as many batches in flight as tokenizer threads: results are taken in order,
        // so without slack one long record would leave the other threads idle behind it.
        .mapAsync(
            2 * settings.tokenizeParallelism(),
            batch -> CompletableFuture.supplyAsync(() -> encoder.encodeAll(batch), tokenizers))
        .fold(
            sharder,
            (s, docs) -> {
              s.add(docs);
              return s;
            })
        .map(s -> s.finish(counters))
        .watchTermination(
            (mat, done) -> {
              done.whenComplete(
                  (d, failure) -> {
                    if (failure != null) {
                      abandon(sharder);
                    }
                  });
              return mat;
            })
        .withAttributes(ActorAttributes.dispatcher(BLOCKING_IO));
  }

  private static List<SeqRecord> firstOfBatch(SeqRecord r) {
    List<SeqRecord> batch = new ArrayList<>();
    batch.add(r);
    return batch;
  }

  private static List<SeqRecord> addToBatch(List<SeqRecord> batch, SeqRecord r) {
    batch.add(r);
    return batch;
  }

  private RecordSource open(InputFile input) {
    return RecordSources.open(input.path(), input.format(), IngestGraph::reportProblem, strict);
  }

  /** The next record with a sequence; records without one are skipped and counted. */
  private SeqRecord next(RecordSource source, InputFile input, FileCounters counters) {
    try {
      while (true) {
        SeqRecord r = source.next();
        long read = source.bytesRead();
        long delta = read - counters.bytesRead.getAndSet(read);
        if (r == null) {
          progress.inputBytes(delta + Math.max(0, input.size() - read));
          // Records the parser skipped for want of a sequence count as read and skipped.
          ParseCounts c = source.counts();
          counters.records.set(c.records() + c.skippedNoSequence());
          counters.skippedRecords.addAndGet(c.skippedNoSequence());
          counters.problems.set(c.problems());
          return null;
        }
        progress.record(delta);
        pauseForTests();
        if (!r.sequence().isEmpty()) {
          return r;
        }
        counters.skippedRecords.incrementAndGet();
      }
    } catch (IOException e) {
      throw new UserError(input.path() + ": " + e.getMessage(), e);
    } catch (UserError e) {
      if (e.getMessage() != null && e.getMessage().contains(input.path().toString())) {
        throw e;
      }
      throw new UserError(input.path() + ": " + e.getMessage(), e);
    }
  }

  private static void reportProblem(Problem problem) {
    log.warn("{}", problem);
  }

  private void pauseForTests() {
    long ms = settings.testDelayPerRecord().toMillis();
    if (ms > 0) {
      try {
        Thread.sleep(ms);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CompletionException(e);
      }
    }
  }

  private static void abandon(FileSharder sharder) {
    try {
      sharder.abandon();
    } catch (IOException e) {
      log.warn("cannot delete temporary shards: {}", e.getMessage());
    }
  }
}
