package org.omnibiote.follow;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.omnibiote.UserError;
import org.omnibiote.ingest.DocumentEncoder;
import org.omnibiote.ingest.EncodedDocument;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.io.Folders;
import org.omnibiote.io.ProgressLine;
import org.omnibiote.records.Problem;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.FinishedShard;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.GenerationStore;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.ShardWriter;
import org.omnibiote.shards.Split;
import org.omnibiote.sources.RecordSources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes one data generation of one source file: decides per record by its identity (GenBank
 * ACCESSION.VERSION: new, the same version again, an older one, or a newer one that supersedes the
 * live document; UniRef100 cluster id within its release) what to add, tokenizes what it adds on a
 * few threads, writes the shards and the records file into the generation's folder (each temp,
 * fsync, rename) and returns the generation to commit. A file that cannot be read to its end (a
 * truncated gzip) publishes nothing: its folder is deleted and the error names the file, the last
 * line and record read.
 */
final class GenerationBuilder {
  private static final Logger log = LoggerFactory.getLogger(GenerationBuilder.class);
  private static final int PROBLEMS_KEPT = 20;
  private static final long BATCH_CHARS = 1 << 20;

  private final ShardLayout layout;
  private final GenerationStore store;
  private final DocumentEncoder encoder;
  private final String tokenizerSha256;
  private final NpyDtype dtype;
  private final long shardTargetBytes;
  private final ExecutorService tokenizers;
  private final int inFlight;
  private final Duration testDelayPerRecord;
  private final PrintStream progressOut;
  private final Duration progressInterval;

  GenerationBuilder(
      ShardLayout layout,
      DocumentEncoder encoder,
      String tokenizerSha256,
      NpyDtype dtype,
      long shardTargetBytes,
      ExecutorService tokenizers,
      int threads,
      Duration testDelayPerRecord,
      PrintStream progressOut,
      Duration progressInterval) {
    this.layout = layout;
    this.store = new GenerationStore(layout);
    this.encoder = encoder;
    this.tokenizerSha256 = tokenizerSha256;
    this.dtype = dtype;
    this.shardTargetBytes = shardTargetBytes;
    this.tokenizers = tokenizers;
    this.inFlight = 2 * Math.max(1, threads);
    this.testDelayPerRecord = testDelayPerRecord;
    this.progressOut = progressOut;
    this.progressInterval = progressInterval;
  }

  /** What became of a file. */
  record Outcome(Generation generation, long kept, long duplicates, long older, long problems) {}

  Outcome build(long g, RemoteFile source, Path file, String sha256, IdentityIndex index)
      throws IOException {
    Path folder = store.dataFolder(g);
    Folders.deleteTree(folder);
    Files.createDirectories(folder);
    Writers writers = new Writers(g, source, folder);
    List<String> problems = new ArrayList<>();
    long[] problemCount = {0};
    long[] lastLine = {0};
    String[] lastRecord = {null};
    // The main pass's progress (records/s, MB/s of the file, ETA); the parse-only scan before it
    // for the newest version of each accession is quicker and not shown.
    ProgressLine progress =
        new ProgressLine(
            "follow " + source.name(), Files.size(file), progressInterval, progressOut);
    try {
      SeqFormat format =
          source.kind() == SourceKind.UNIREF100 ? SeqFormat.FASTA : SeqFormat.GENBANK;
      Map<String, Integer> newestInFile =
          format == SeqFormat.GENBANK ? newestVersions(file, format) : Map.of();
      List<Generation.Superseded> superseded = new ArrayList<>();
      Set<String> addedHere = new HashSet<>();
      long kept = 0;
      long duplicates = 0;
      long older = 0;
      List<SeqRecord> batch = new ArrayList<>();
      long batchChars = 0;
      ArrayDeque<Future<List<EncodedDocument>>> pending = new ArrayDeque<>();
      ArrayDeque<List<String>> pendingIds = new ArrayDeque<>();
      try (RecordSource src =
          RecordSources.open(
              file,
              format,
              p -> {
                problemCount[0]++;
                String where = located(source, p);
                log.warn("{}", where);
                if (problems.size() < PROBLEMS_KEPT) {
                  problems.add(where);
                }
              },
              false)) {
        SeqRecord r;
        long read = 0;
        while ((r = src.next()) != null) {
          long now = src.bytesRead();
          progress.record(now - read);
          read = now;
          lastLine[0] = r.line();
          lastRecord[0] = r.id();
          pause();
          if (r.sequence().isEmpty()) {
            continue;
          }
          String identity = r.id();
          if (format == SeqFormat.GENBANK) {
            String acc = IdentityIndex.accession(identity);
            int ver = IdentityIndex.version(identity);
            if (ver < newestInFile.getOrDefault(acc, ver) || !addedHere.add(acc)) {
              older++; // a newer version of it comes later in this file, or it came before
              continue;
            }
            IdentityIndex.Live live = index.genbank(acc);
            if (live != null && live.version() == ver) {
              duplicates++;
              continue;
            }
            if (live != null && live.version() > ver) {
              older++;
              continue;
            }
            if (live != null) {
              superseded.add(
                  new Generation.Superseded(
                      acc + "." + live.version(),
                      identity,
                      live.generation(),
                      live.shard(),
                      live.document()));
            }
          } else {
            IdentityIndex.Live live = index.uniref(identity);
            if ((live != null && source.release().equals(live.release()))
                || !addedHere.add(identity)) {
              duplicates++;
              continue;
            }
            if (live != null && live.generation() == 0) {
              // An ingested cluster (its release unknown) in a followed release: this one replaces
              // it, so the cluster is not trained twice.
              superseded.add(
                  new Generation.Superseded(identity, identity, 0, live.shard(), live.document()));
            }
          }
          kept++;
          batch.add(r);
          batchChars += r.sequence().length();
          if (batchChars >= BATCH_CHARS) {
            submit(batch, pending, pendingIds);
            batch = new ArrayList<>();
            batchChars = 0;
            while (pending.size() > inFlight) {
              writers.write(take(pending), pendingIds.removeFirst());
            }
          }
        }
      }
      if (!batch.isEmpty()) {
        submit(batch, pending, pendingIds);
      }
      while (!pending.isEmpty()) {
        writers.write(take(pending), pendingIds.removeFirst());
      }
      List<Long> supersededGenerations = null;
      if (source.kind() == SourceKind.UNIREF100 && kept > 0) {
        supersededGenerations = new ArrayList<>(index.unirefGenerationsNotOf(source.release()));
      }
      if (kept == 0 && superseded.isEmpty()) {
        writers.abandon();
        Folders.deleteTree(folder);
        return new Outcome(null, 0, duplicates, older, problemCount[0]);
      }
      writers.finish();
      Generation gen =
          new Generation(
              Generation.FORMAT_VERSION,
              g,
              tokenizerSha256,
              new Generation.SourceFile(
                  source.name(),
                  source.origin(),
                  source.kind().label(),
                  source.release(),
                  Files.size(file),
                  sha256,
                  source.md5()),
              new Generation.Added(
                  writers.documents,
                  writers.tokens,
                  new TreeMap<>(Map.of(source.kind().dataset().folder(), writers.documents))),
              superseded,
              supersededGenerations == null || supersededGenerations.isEmpty()
                  ? null
                  : supersededGenerations,
              duplicates + older,
              new Generation.Problems(problemCount[0], problems),
              writers.shards,
              layout.relative(writers.recordsTarget),
              writers.recordsSha256);
      return new Outcome(gen, kept, duplicates, older, problemCount[0]);
    } catch (IOException | RuntimeException e) {
      writers.abandon();
      Folders.deleteTree(folder);
      if (e instanceof UserError u) {
        throw new UserError(
            source.origin()
                + ": "
                + u.getMessage()
                + (lastRecord[0] == null
                    ? " (before its first record)"
                    : " (after line " + lastLine[0] + ", record " + lastRecord[0] + ")")
                + "; nothing of "
                + source.name()
                + " was published",
            u);
      }
      throw e;
    } finally {
      progress.stop();
    }
  }

  private void submit(
      List<SeqRecord> batch,
      ArrayDeque<Future<List<EncodedDocument>>> pending,
      ArrayDeque<List<String>> ids) {
    List<SeqRecord> b = batch;
    pending.add(tokenizers.submit(() -> encoder.encodeAll(b)));
    ids.add(b.stream().map(SeqRecord::id).toList());
  }

  private static List<EncodedDocument> take(ArrayDeque<Future<List<EncodedDocument>>> pending)
      throws IOException {
    try {
      return pending.removeFirst().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException(e.getCause());
    }
  }

  /** Per accession the highest version in {@code file} (a first, parse-only pass). */
  private static Map<String, Integer> newestVersions(Path file, SeqFormat format)
      throws IOException {
    Map<String, Integer> newest = new HashMap<>();
    try (RecordSource src = RecordSources.open(file, format, p -> {}, false)) {
      SeqRecord r;
      while ((r = src.next()) != null) {
        newest.merge(IdentityIndex.accession(r.id()), IdentityIndex.version(r.id()), Math::max);
      }
    } catch (UserError e) {
      // A file that breaks off: the main pass meets the same error and reports where.
      return newest;
    }
    return newest;
  }

  private static String located(RemoteFile source, Problem p) {
    return source.name()
        + ":"
        + p.line()
        + (p.recordId() == null ? "" : " (" + p.recordId() + ")")
        + ": "
        + p.message();
  }

  private void pause() {
    long ms = testDelayPerRecord.toMillis();
    if (ms > 0) {
      try {
        Thread.sleep(ms);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The generation's shard writers (one per split) and its records file. */
  private final class Writers {
    final long g;
    final RemoteFile source;
    final Path folder;
    final Dataset dataset;
    final String base;
    final Map<Split, ShardWriter> open = new EnumMap<>(Split.class);
    final Map<Split, Integer> numbers = new EnumMap<>(Split.class);
    final Map<Split, List<String>> openIds = new EnumMap<>(Split.class);
    final List<Manifest.Shard> shards = new ArrayList<>();
    final Path recordsTemp;
    final Path recordsTarget;
    final Writer records;
    String recordsSha256;
    long documents;
    long tokens;

    Writers(long g, RemoteFile source, Path folder) throws IOException {
      this.g = g;
      this.source = source;
      this.folder = folder;
      this.dataset = source.kind().dataset();
      String name = source.name().replaceAll("(\\.gz)$", "").replaceAll("\\.[^.]*$", "");
      this.base = name.replaceAll("[^A-Za-z0-9._-]", "_");
      Files.createDirectories(layout.tempShards());
      this.recordsTemp = layout.tempShards().resolve("generation-" + g + "-records.tsv.tmp");
      this.recordsTarget = folder.resolve("records.tsv");
      this.records = Files.newBufferedWriter(recordsTemp, StandardCharsets.UTF_8);
    }

    void write(List<EncodedDocument> docs, List<String> ids) throws IOException {
      for (int i = 0; i < docs.size(); i++) {
        EncodedDocument d = docs.get(i);
        ShardWriter w = open.get(d.split());
        long bytes = (long) d.length() * dtype.bytesPerToken();
        if (w != null && w.documents() > 0 && w.dataBytes() + bytes > shardTargetBytes) {
          finishShard(d.split());
          w = null;
        }
        if (w == null) {
          w =
              new ShardWriter(
                  layout
                      .tempShards()
                      .resolve("generation-" + g + "-" + d.split().folder() + ".npy.tmp"),
                  dtype);
          open.put(d.split(), w);
          openIds.put(d.split(), new ArrayList<>());
        }
        w.append(d.ids(), d.length(), d.tag());
        openIds.get(d.split()).add(ids.get(i));
        documents++;
        tokens += d.length();
      }
    }

    private void finishShard(Split split) throws IOException {
      int n = numbers.getOrDefault(split, 0);
      numbers.put(split, n + 1);
      Path target =
          folder
              .resolve(dataset.folder())
              .resolve(split.folder())
              .resolve(String.format(Locale.ROOT, "%s-%05d.npy", base, n));
      Files.createDirectories(target.getParent());
      FinishedShard f = open.remove(split).finish(target);
      String rel = layout.relative(f.path());
      List<String> ids = openIds.remove(split);
      for (int i = 0; i < ids.size(); i++) {
        records.write(rel + "\t" + i + "\t" + ids.get(i) + "\n");
      }
      shards.add(
          new Manifest.Shard(
              rel,
              dataset.folder(),
              split.folder(),
              f.tokens(),
              f.documents(),
              f.tagDocuments(),
              f.sha256(),
              List.of(source.origin()),
              null));
    }

    void finish() throws IOException {
      for (Split s : Split.values()) {
        if (open.containsKey(s)) {
          finishShard(s);
        }
      }
      records.close();
      AtomicFiles.forceFile(recordsTemp);
      recordsSha256 = ShardWriter.sha256(recordsTemp);
      AtomicFiles.moveIntoPlace(recordsTemp, recordsTarget);
    }

    void abandon() {
      for (ShardWriter w : open.values()) {
        try {
          w.close();
        } catch (IOException e) {
          log.warn("cannot delete a temporary shard: {}", e.getMessage());
        }
      }
      open.clear();
      try {
        records.close();
        Files.deleteIfExists(recordsTemp);
      } catch (IOException e) {
        log.warn("cannot delete {}: {}", recordsTemp, e.getMessage());
      }
    }
  }
}
