package org.omnibiote.ingest;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.NpyHeader;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.ShardWriter;
import org.omnibiote.shards.Split;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An ingest output folder during a run: refuses a folder made with another tokenizer or other
 * settings before any work, holds the manifest state (finished sources and their shards), rewrites
 * manifest.json after every finished source, and keeps the shard folders to finished shards listed
 * there. One run at a time: a lock in .work/ keeps a second out.
 */
final class OutputFolder implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OutputFolder.class);

  private final ShardLayout layout;
  private final ManifestStore store;
  private final Manifest.TokenizerInfo tokenizer;
  private final Manifest.Settings settings;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Map<String, Manifest.Source> sources = new TreeMap<>();
  private final Map<String, Manifest.Shard> shards = new TreeMap<>();

  /** Val shards copied from train (see {@link Manifest.DocumentRef}), remade each run. */
  private Map<String, Manifest.Shard> previousFallbacks = new TreeMap<>();

  private OutputFolder(
      ShardLayout layout, Manifest.TokenizerInfo tokenizer, Manifest.Settings settings)
      throws IOException {
    this.layout = layout;
    this.store = new ManifestStore(layout);
    this.tokenizer = tokenizer;
    this.settings = settings;
    if (Files.exists(layout.root()) && !Files.isDirectory(layout.root())) {
      throw new UserError("--output " + layout.root() + " is a file, not a folder");
    }
    Optional<Manifest> existing = store.read();
    if (existing.isPresent()) {
      refuseIfIncompatible(existing.get());
    } else if (!layout.shardFiles().isEmpty()) {
      throw new UserError(
          layout.root()
              + " holds .npy shards but no "
              + ShardLayout.MANIFEST
              + ": not an ingest output of ours; choose another --output");
    }
    Files.createDirectories(layout.work());
    this.lockChannel =
        FileChannel.open(
            layout.work().resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock l;
    try {
      l = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      l = null;
    }
    if (l == null) {
      lockChannel.close();
      throw new UserError("another ingest is writing to " + layout.root());
    }
    this.lock = l;
    existing.ifPresent(
        m -> {
          m.sources().forEach(s -> sources.put(s.path(), s));
          for (Manifest.Shard s : m.shards()) {
            (s.copiedFrom() == null ? shards : previousFallbacks).put(s.path(), s);
          }
        });
    clearTemporaryFiles();
  }

  /** Opens (creating) an output folder, refusing it when it was made otherwise. */
  static OutputFolder open(
      ShardLayout layout, Manifest.TokenizerInfo tokenizer, Manifest.Settings settings) {
    try {
      return new OutputFolder(layout, tokenizer, settings);
    } catch (IOException e) {
      throw new UserError("cannot use --output " + layout.root() + ": " + e.getMessage());
    }
  }

  private void refuseIfIncompatible(Manifest m) {
    Manifest.TokenizerInfo theirs = m.tokenizer();
    if (!theirs.sha256().equals(tokenizer.sha256())) {
      throw new UserError(
          layout.root()
              + " holds shards of another tokenizer ("
              + theirs.file()
              + ", SHA-256 "
              + theirs.sha256()
              + "), not of "
              + tokenizer.file()
              + " (SHA-256 "
              + tokenizer.sha256()
              + "); choose another --output");
    }
    if (!m.settings().equals(settings)) {
      throw new UserError(
          layout.root()
              + " was made with other settings ("
              + m.settings()
              + ") than this run's ("
              + settings
              + "); a folder never mixes two; choose another --output");
    }
  }

  /**
   * The inputs still to do. A source finished before (same path, size and mtime, every shard
   * present) is skipped; a source whose file changed loses its old shards and is redone.
   */
  List<InputFile> pending(List<InputFile> inputs) throws IOException {
    List<InputFile> todo = new ArrayList<>();
    List<String> finishedBefore = new ArrayList<>();
    for (InputFile f : inputs) {
      Manifest.Source done = sources.get(f.path().toString());
      if (done != null
          && done.size() == f.size()
          && done.mtimeMillis() == f.mtimeMillis()
          && done.dataset().equals(f.dataset().folder())
          && done.shards().stream().allMatch(p -> Files.isRegularFile(layout.root().resolve(p)))
          && hasRecordIds(done)) {
        finishedBefore.add(f.path().getFileName().toString());
        continue;
      }
      if (done != null && !hasRecordIds(done)) {
        log.info(
            "redoing {}: its record-id file is missing (made by an ingest before they existed;"
                + " follow needs it to supersede its records)",
            f.path());
        forget(done);
      } else if (done != null) {
        log.info("redoing {}: changed or incomplete since an earlier run", f.path());
        forget(done);
      }
      todo.add(f);
    }
    if (!finishedBefore.isEmpty()) {
      log.info(
          "skipped {} input file{} finished in an earlier run ({}{})",
          finishedBefore.size(),
          finishedBefore.size() == 1 ? "" : "s",
          String.join(", ", finishedBefore.subList(0, Math.min(3, finishedBefore.size()))),
          finishedBefore.size() > 3 ? " and " + (finishedBefore.size() - 3) + " more" : "");
    }
    return todo;
  }

  private boolean hasRecordIds(Manifest.Source source) {
    return source.recordIds() != null
        && Files.isRegularFile(layout.root().resolve(source.recordIds()));
  }

  private void forget(Manifest.Source source) throws IOException {
    sources.remove(source.path());
    if (source.recordIds() != null) {
      Files.deleteIfExists(layout.root().resolve(source.recordIds()));
    }
    for (String p : source.shards()) {
      shards.remove(p);
      Files.deleteIfExists(layout.root().resolve(p));
    }
  }

  /**
   * Deletes shards the manifest does not list: complete files renamed into place by a run that was
   * killed or failed before it finished their source. Their source is redone.
   */
  void removeUnlisted() throws IOException {
    Set<String> listed = new HashSet<>(shards.keySet());
    listed.addAll(previousFallbacks.keySet());
    for (Path p : layout.shardFiles()) {
      if (!listed.contains(layout.relative(p))) {
        log.warn("removing {}: not in the manifest (left by an unfinished run)", p);
        Files.delete(p);
      }
    }
    Set<String> listedIds = new HashSet<>();
    sources.values().stream()
        .map(Manifest.Source::recordIds)
        .filter(java.util.Objects::nonNull)
        .forEach(listedIds::add);
    for (Path p : layout.recordIdFiles()) {
      if (!listedIds.contains(layout.relative(p))) {
        Files.delete(p);
      }
    }
  }

  /** Records a finished source and rewrites the manifest, so a kill loses nothing done. */
  synchronized void finished(FileResult result) throws IOException {
    sources.put(result.source().path(), result.source());
    result.shards().forEach(s -> shards.put(s.path(), s));
    writeManifest();
  }

  synchronized void writeManifest() throws IOException {
    List<Manifest.Shard> all = new ArrayList<>(shards.values());
    all.addAll(previousFallbacks.values());
    store.write(Manifest.of(tokenizer, settings, new ArrayList<>(sources.values()), all));
  }

  /**
   * Ends the run: gives every dataset whose split drew no val record a val shard (see {@link
   * Manifest.DocumentRef}), and writes the final manifest.
   */
  synchronized Manifest finishRun() throws IOException {
    Map<String, Manifest.Shard> fallbacks = new TreeMap<>();
    for (Dataset d : Dataset.values()) {
      Optional<Manifest.Shard> f = valFallback(d);
      f.ifPresent(s -> fallbacks.put(s.path(), s));
    }
    for (Manifest.Shard old : previousFallbacks.values()) {
      if (!fallbacks.containsKey(old.path())) {
        Files.deleteIfExists(layout.root().resolve(old.path()));
      }
    }
    previousFallbacks = fallbacks;
    writeManifest();
    return store.read().orElseThrow();
  }

  private Optional<Manifest.Shard> valFallback(Dataset d) throws IOException {
    String ds = d.folder();
    boolean hasVal =
        shards.values().stream()
            .anyMatch(s -> s.dataset().equals(ds) && s.split().equals(Split.VAL.folder()));
    Optional<Manifest.Source> from =
        sources.values().stream()
            .filter(s -> s.dataset().equals(ds) && s.valFallbackCandidate() != null)
            .min(
                Comparator.<Manifest.Source, String>comparing(
                        s -> s.valFallbackCandidate().splitHash())
                    .thenComparing(Manifest.Source::path));
    if (hasVal || from.isEmpty()) {
      return Optional.empty();
    }
    Manifest.DocumentRef ref = from.get().valFallbackCandidate();
    Path target = layout.folder(d, Split.VAL).resolve(ds + "-val-fallback.npy");
    Manifest.Shard previous = previousFallbacks.get(layout.relative(target));
    if (previous != null && ref.equals(previous.copiedFrom()) && Files.isRegularFile(target)) {
      return Optional.of(previous);
    }
    NpyDtype dtype = NpyDtype.valueOf(tokenizer.dtype());
    int[] ids = readDocument(layout.root().resolve(ref.shard()), dtype, ref);
    var finished =
        new ShardWriter(layout.tempShards().resolve(target.getFileName() + ".tmp"), dtype);
    try (finished) {
      finished.append(ids, ids.length, ref.tag());
      var f = finished.finish(target);
      log.warn(
          "the split drew no {} val record; {} holds a copy of the train document of lowest"
              + " split hash (from {}) so the trainer has a val set; raise --val-fraction or"
              + " add input to get a real one",
          ds,
          layout.relative(target),
          ref.shard());
      return Optional.of(
          new Manifest.Shard(
              layout.relative(target),
              ds,
              Split.VAL.folder(),
              f.tokens(),
              f.documents(),
              f.tagDocuments(),
              f.sha256(),
              List.of(from.get().path()),
              ref));
    }
  }

  private static int[] readDocument(Path shard, NpyDtype dtype, Manifest.DocumentRef ref)
      throws IOException {
    int width = dtype.bytesPerToken();
    ByteBuffer buf =
        ByteBuffer.allocate(Math.toIntExact(ref.length() * width)).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ)) {
      long pos = NpyHeader.LENGTH + ref.offset() * width;
      while (buf.hasRemaining()) {
        int n = ch.read(buf, pos);
        if (n < 0) {
          throw new IOException(shard + " is shorter than the manifest says");
        }
        pos += n;
      }
    }
    buf.flip();
    int[] ids = new int[(int) ref.length()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = width == 2 ? Short.toUnsignedInt(buf.getShort()) : buf.getInt();
    }
    return ids;
  }

  private void clearTemporaryFiles() throws IOException {
    Path tmp = layout.tempShards();
    if (Files.isDirectory(tmp)) {
      try (Stream<Path> files = Files.list(tmp)) {
        for (Path p : files.toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Override
  public void close() throws IOException {
    try {
      clearTemporaryFiles();
    } finally {
      lock.release();
      lockChannel.close();
    }
  }
}
