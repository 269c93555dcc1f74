package org.omnibiote.follow;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.omnibiote.UserError;
import org.omnibiote.download.DownloadError;
import org.omnibiote.download.HttpDownloader;
import org.omnibiote.ingest.DocumentEncoder;
import org.omnibiote.ingest.Ingest;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.GenerationStore;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code omnibiote follow}: polls GenBank release and daily folders and a UniRef100 folder (local
 * or HTTPS), and publishes each new source file as a data generation of the ingest folder (see
 * {@link GenerationBuilder}, {@link GenerationStore}). What it knows is rebuilt from the committed
 * generations at every start; a file whose content hash was published before publishes nothing; a
 * file that fails is reported (file, line, record) and the follower goes on. One follower per
 * folder (a lock in .work/).
 */
public final class Follower implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Follower.class);

  private final ShardLayout layout;
  private final GenerationStore store;
  private final List<SourceFolder> sources;
  private final HttpDownloader http;
  private final GenerationBuilder builder;
  private final ExecutorService tokenizers;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Path seenFile;
  private final Map<String, String> seen = new LinkedHashMap<>();
  private IdentityIndex index;

  /**
   * @param threads tokenizer threads (of the lowest priority): the follower's bounded parallelism
   */
  // The thread priority is a hint only; what keeps the follower below training is the bounded
  // thread count and bin/omnibiote's nice 10 and SCHED_IDLE.
  public Follower(
      Path output,
      Tokenizer tokenizer,
      Path modelFile,
      IngestSettings settings,
      com.typesafe.config.Config config,
      List<SourceFolder> sources,
      HttpDownloader http,
      int threads) {
    this(output, tokenizer, modelFile, settings, config, sources, http, threads, System.err);
  }

  /**
   * @param progressOut where the progress line of a file being published goes (every {@code
   *     omnibiote.ingest.progress-interval})
   */
  @SuppressWarnings("ThreadPriorityCheck")
  public Follower(
      Path output,
      Tokenizer tokenizer,
      Path modelFile,
      IngestSettings settings,
      com.typesafe.config.Config config,
      List<SourceFolder> sources,
      HttpDownloader http,
      int threads,
      java.io.PrintStream progressOut) {
    this.layout = new ShardLayout(output);
    this.store = new GenerationStore(layout);
    this.sources = List.copyOf(sources);
    this.http = http;
    try {
      Files.createDirectories(layout.work());
      this.lockChannel =
          FileChannel.open(
              layout.work().resolve("follow.lock"),
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE);
      FileLock l;
      try {
        l = lockChannel.tryLock();
      } catch (OverlappingFileLockException e) {
        l = null;
      }
      if (l == null) {
        lockChannel.close();
        throw new UserError("another follower is publishing into " + layout.root());
      }
      this.lock = l;
      Ingest ingest = new Ingest(tokenizer, modelFile, settings, output, false, config);
      DocumentEncoder encoder = new DocumentEncoder(tokenizer, ingest.splitRule());
      Manifest.TokenizerInfo info = ingest.tokenizerInfo(encoder);
      Manifest.Settings folderSettings = ensureManifest(info, ingest.manifestSettings());
      DocumentEncoder splitting =
          new DocumentEncoder(
              tokenizer,
              new org.omnibiote.ingest.SplitRule(
                  folderSettings.splitSeed(), folderSettings.valFraction()));
      int n = Math.max(1, threads);
      this.tokenizers =
          Executors.newFixedThreadPool(
              n,
              r -> {
                Thread t = new Thread(r, "follow-tokenizer");
                t.setDaemon(true);
                t.setPriority(Thread.MIN_PRIORITY);
                return t;
              });
      this.builder =
          new GenerationBuilder(
              layout,
              splitting,
              info.sha256(),
              NpyDtype.valueOf(info.dtype()),
              folderSettings.shardTargetBytes(),
              tokenizers,
              n,
              settings.testDelayPerRecord(),
              progressOut,
              settings.progressInterval());
      int removed = store.removeUnfinished();
      if (removed > 0) {
        log.warn(
            "removed {} unfinished generation folder(s) left by a follower that was stopped",
            removed);
      }
      clearTemporaryFiles();
      this.seenFile = layout.work().resolve("follow-seen.tsv");
      readSeen();
      this.index =
          IdentityIndex.of(
              layout.root(), new ManifestStore(layout).read().orElse(null), store.committed());
      if (!index.unknownSources().isEmpty()) {
        log.warn(
            "{} source(s) of {} (e.g. {}) have no record-id file (an ingest from before they"
                + " existed): their records cannot be superseded; run the same ingest again to"
                + " write them (it redoes only those sources)",
            index.unknownSources().size(),
            layout.manifest(),
            index.unknownSources().get(0));
      }
    } catch (IOException e) {
      throw new UserError("cannot use " + output + ": " + e.getMessage(), e);
    }
  }

  /** The folder's manifest (generation 0), written empty when there is none yet. */
  private Manifest.Settings ensureManifest(Manifest.TokenizerInfo info, Manifest.Settings settings)
      throws IOException {
    ManifestStore ms = new ManifestStore(layout);
    Manifest m = ms.read().orElse(null);
    if (m == null) {
      ms.write(Manifest.of(info, settings, List.of(), List.of()));
      return settings;
    }
    if (!m.tokenizer().sha256().equals(info.sha256())) {
      throw new UserError(
          layout.root()
              + " holds shards of another tokenizer ("
              + m.tokenizer().file()
              + "); follow it with that tokenizer or choose another --output");
    }
    return m.settings();
  }

  /** One pass over every source folder; returns the generations committed. */
  public List<Generation> pollOnce() {
    List<Generation> made = new ArrayList<>();
    for (SourceFolder s : sources) {
      List<RemoteFile> files;
      try {
        files = s.list(http);
      } catch (UserError e) {
        log.warn("follow: cannot list {} ({}): {}", s.where(), s.kind().label(), e.getMessage());
        continue;
      }
      for (RemoteFile f : files) {
        try {
          Generation g = follow(f);
          if (g != null) {
            made.add(g);
          }
        } catch (DownloadError e) {
          log.error("follow: {}: {} (tried again at the next poll)", f.origin(), e.getMessage());
        } catch (UserError e) {
          log.error("follow: {}", e.getMessage());
        }
      }
    }
    return made;
  }

  /**
   * Polls every {@code interval} until interrupted. Between polls one quiet "waiting" line per
   * poll: what the poll found and when the next one is, never more often than the interval.
   */
  public void run(Duration interval) throws InterruptedException {
    while (!Thread.currentThread().isInterrupted()) {
      List<Generation> made = pollOnce();
      log.info("{}", waitingLine(made, interval, java.time.LocalTime.now()));
      Thread.sleep(interval.toMillis());
    }
  }

  /** The line logged after a poll, before the follower sleeps until the next. */
  String waitingLine(List<Generation> made, Duration interval, java.time.LocalTime now) {
    String next = now.plus(interval).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    return String.format(
        Locale.ROOT,
        "follow: waiting: %s; %,d live GenBank records, %,d live UniRef100 clusters; next poll at"
            + " %s (every %s)",
        made.isEmpty()
            ? "nothing new"
            : made.size()
                + " new generation"
                + (made.size() == 1 ? "" : "s")
                + " ("
                + made.get(0).generation()
                + (made.size() == 1 ? "" : "-" + made.get(made.size() - 1).generation())
                + ") this poll",
        index.liveGenBank(),
        index.liveUniRef(),
        next,
        humanDuration(interval));
  }

  private static String humanDuration(Duration d) {
    long s = d.toSeconds();
    if (s % 3600 == 0 && s >= 3600) {
      return s / 3600 + "h";
    }
    if (s % 60 == 0 && s >= 60) {
      return s / 60 + "m";
    }
    return s + "s";
  }

  private Generation follow(RemoteFile f) {
    String key = f.kind().label() + "/" + f.name();
    String known = seen.get(key);
    if (known != null && (f.size() < 0 || known.startsWith(f.size() + "\t"))) {
      return null;
    }
    long t0 = System.nanoTime();
    Path file = SourceFolder.fetch(f, http, layout.work().resolve("follow-downloads"));
    try {
      long size = Files.size(file);
      String sha = SourceFolder.digest(file, "SHA-256");
      if (index.published(sha)
          || seen.values().stream().anyMatch(v -> v.contains("\t" + sha + "\t"))) {
        log.info(
            "follow: {}: same content (SHA-256 {}) as a file seen before: nothing to publish",
            f.name(),
            sha.substring(0, 12));
        remember(key, size, sha, "same-content");
        return null;
      }
      long g = store.next();
      GenerationBuilder.Outcome o;
      try {
        o = builder.build(g, f, file, sha, index);
      } catch (UserError e) {
        remember(key, size, sha, "failed");
        throw e;
      }
      double s = (System.nanoTime() - t0) / 1e9;
      if (o.generation() == null) {
        log.info(
            "follow: {}: nothing new ({} already published, {} older or repeated versions, {}"
                + " problems)",
            f.name(),
            o.duplicates(),
            o.older(),
            o.problems());
        remember(key, size, sha, "nothing-new");
        return null;
      }
      store.commit(o.generation());
      index.apply(layout.root(), o.generation());
      remember(key, size, sha, "generation " + g);
      Generation gen = o.generation();
      log.info(
          String.format(
              Locale.ROOT,
              "follow: generation %d published from %s (%s): +%,d documents (%,d tokens), %,d"
                  + " superseded%s, %,d already published or older, %,d problems; %.1f MB in %.1f"
                  + " s (%.2f MB/s)",
              g,
              f.name(),
              f.kind().label(),
              gen.added().documents(),
              gen.added().tokens(),
              gen.superseded().size(),
              gen.supersededGenerations() == null
                  ? ""
                  : " and generations " + gen.supersededGenerations() + " (an older release)",
              gen.duplicates(),
              o.problems(),
              size / 1e6,
              s,
              size / 1e6 / Math.max(s, 1e-9)));
      return gen;
    } catch (IOException e) {
      throw new UserError("follow: " + f.name() + ": " + e.getMessage(), e);
    } finally {
      if (f.local() == null) {
        try {
          Files.deleteIfExists(file);
        } catch (IOException e) {
          log.warn("cannot delete {}: {}", file, e.getMessage());
        }
      }
    }
  }

  private void remember(String key, long size, String sha, String outcome) throws IOException {
    seen.put(key, size + "\t" + sha + "\t" + outcome);
    StringBuilder sb = new StringBuilder();
    seen.forEach((k, v) -> sb.append(k).append('\t').append(v).append('\n'));
    AtomicFiles.write(seenFile, sb.toString().getBytes(StandardCharsets.UTF_8), layout.work());
  }

  private void readSeen() throws IOException {
    if (!Files.isRegularFile(seenFile)) {
      return;
    }
    for (String line : Files.readAllLines(seenFile, StandardCharsets.UTF_8)) {
      int tab = line.indexOf('\t');
      if (tab > 0) {
        seen.put(line.substring(0, tab), line.substring(tab + 1));
      }
    }
  }

  private void clearTemporaryFiles() throws IOException {
    Path tmp = layout.tempShards();
    if (Files.isDirectory(tmp)) {
      try (Stream<Path> files = Files.list(tmp)) {
        for (Path p : files.toList()) {
          if (p.getFileName().toString().startsWith("generation-")) {
            Files.deleteIfExists(p);
          }
        }
      }
    }
  }

  @Override
  public void close() {
    tokenizers.shutdownNow();
    try {
      lock.release();
      lockChannel.close();
    } catch (IOException e) {
      log.warn("releasing {}: {}", layout.work().resolve("follow.lock"), e.getMessage());
    }
  }
}
