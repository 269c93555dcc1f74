package org.omnibiote.ingest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.shards.FinishedShard;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.ShardWriter;
import org.omnibiote.shards.Split;

/**
 * Writes the documents of one input file into that file's own shards, one sequence per split,
 * closing a shard when the next document would take it past the target size (a document never
 * splits). Shards are named after the file (name and a hash of its path) and numbered, so a re-run
 * of a file rewrites exactly the same shards: that is what makes an interrupted run plus a re-run
 * equal an uninterrupted run.
 */
final class FileSharder {
  private final InputFile input;
  private final ShardLayout layout;
  private final NpyDtype dtype;
  private final long targetBytes;
  private final String baseName;
  private final Map<Split, ShardWriter> open = new EnumMap<>(Split.class);
  private final Map<Split, Integer> nextNumber = new EnumMap<>(Split.class);
  private final List<Manifest.Shard> finished = new ArrayList<>();
  private final SortedMap<String, Long> tagsNotSinglePiece = new TreeMap<>();
  private Manifest.DocumentRef fallbackCandidate;
  private long fallbackHash;
  private java.io.Writer recordIds;

  FileSharder(InputFile input, ShardLayout layout, NpyDtype dtype, long targetBytes) {
    this.input = input;
    this.layout = layout;
    this.dtype = dtype;
    this.targetBytes = targetBytes;
    this.baseName = baseName(input);
  }

  void add(List<EncodedDocument> docs) throws IOException {
    for (EncodedDocument d : docs) {
      add(d);
    }
  }

  private void add(EncodedDocument d) throws IOException {
    ShardWriter w = open.get(d.split());
    long docBytes = (long) d.length() * dtype.bytesPerToken();
    if (w != null && w.documents() > 0 && w.dataBytes() + docBytes > targetBytes) {
      finishShard(d.split());
      w = null;
    }
    if (w == null) {
      w = new ShardWriter(tempPath(d.split()), dtype);
      open.put(d.split(), w);
    }
    if (d.split() == Split.TRAIN
        && (fallbackCandidate == null || Long.compareUnsigned(d.splitHash(), fallbackHash) < 0)) {
      fallbackHash = d.splitHash();
      fallbackCandidate =
          new Manifest.DocumentRef(
              layout.relative(targetPath(Split.TRAIN, nextNumber.getOrDefault(Split.TRAIN, 0))),
              w.dataBytes() / dtype.bytesPerToken(),
              d.length(),
              d.tag(),
              Manifest.DocumentRef.hex(d.splitHash()));
    }
    // The document's identity and place, for the source's record-id file (follow supersedes by it).
    recordIds()
        .write(
            layout.relative(targetPath(d.split(), nextNumber.getOrDefault(d.split(), 0)))
                + "\t"
                + w.documents()
                + "\t"
                + d.id()
                + "\n");
    w.append(d.ids(), d.length(), d.tag());
    if (!d.tagSinglePiece()) {
      tagsNotSinglePiece.merge(d.tag(), 1L, Long::sum);
    }
  }

  /** Finishes the open shards and describes the file for the manifest. */
  FileResult finish(FileCounters counters) throws IOException {
    for (Split s : Split.values()) {
      if (open.containsKey(s)) {
        finishShard(s);
      }
    }
    List<String> paths = finished.stream().map(Manifest.Shard::path).toList();
    recordIds().close();
    recordIds = null;
    Path temp = recordIdsTemp();
    AtomicFiles.forceFile(temp);
    String idsSha256 = ShardWriter.sha256(temp);
    Path idsTarget = layout.recordIds(input.dataset(), baseName);
    AtomicFiles.moveIntoPlace(temp, idsTarget);
    Manifest.Source source =
        new Manifest.Source(
            input.path().toString(),
            input.size(),
            input.mtimeMillis(),
            input.dataset().folder(),
            input.format().name().toLowerCase(Locale.ROOT),
            counters.records.get(),
            counters.skippedRecords.get(),
            counters.problems.get(),
            tagsNotSinglePiece,
            paths,
            fallbackCandidate,
            layout.relative(idsTarget),
            idsSha256);
    return new FileResult(source, List.copyOf(finished));
  }

  /** Deletes the temporary files of shards not finished (after a failure). */
  void abandon() throws IOException {
    for (ShardWriter w : open.values()) {
      w.close();
    }
    open.clear();
    if (recordIds != null) {
      recordIds.close();
      recordIds = null;
    }
    Files.deleteIfExists(recordIdsTemp());
  }

  /** The record-id file being written (in .work/tmp until the source is finished). */
  private java.io.Writer recordIds() throws IOException {
    if (recordIds == null) {
      Files.createDirectories(layout.tempShards());
      recordIds = Files.newBufferedWriter(recordIdsTemp(), StandardCharsets.UTF_8);
    }
    return recordIds;
  }

  private Path recordIdsTemp() {
    return layout
        .tempShards()
        .resolve(input.dataset().folder() + "-records-" + baseName + ".tsv.tmp");
  }

  private void finishShard(Split split) throws IOException {
    int number = nextNumber.getOrDefault(split, 0);
    ShardWriter w = open.remove(split);
    FinishedShard f = w.finish(targetPath(split, number));
    nextNumber.put(split, number + 1);
    finished.add(
        new Manifest.Shard(
            layout.relative(f.path()),
            input.dataset().folder(),
            split.folder(),
            f.tokens(),
            f.documents(),
            f.tagDocuments(),
            f.sha256(),
            List.of(input.path().toString()),
            null));
  }

  private java.nio.file.Path targetPath(Split split, int number) {
    return layout
        .folder(input.dataset(), split)
        .resolve(String.format(Locale.ROOT, "%s-%05d.npy", baseName, number));
  }

  private java.nio.file.Path tempPath(Split split) {
    return layout
        .tempShards()
        .resolve(input.dataset().folder() + "-" + split.folder() + "-" + baseName + ".npy.tmp");
  }

  /** {@code <file name without extensions>-<8 hex of SHA-256(absolute path)>}. */
  static String baseName(InputFile input) {
    String name = input.path().getFileName().toString();
    if (name.toLowerCase(Locale.ROOT).endsWith(".gz")) {
      name = name.substring(0, name.length() - 3);
    }
    int dot = name.lastIndexOf('.');
    if (dot > 0) {
      name = name.substring(0, dot);
    }
    name = name.replaceAll("[^A-Za-z0-9._-]", "_");
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest(input.path().toString().getBytes(StandardCharsets.UTF_8));
      return name + "-" + HexFormat.of().formatHex(h, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
