package org.omnibiote.shards;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.Comparator;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * {@code DIR/manifest.json}: what an output folder holds and how it was made. It is also the
 * completion record of a re-run: a source listed here with the same size and mtime is finished and
 * skipped. It carries no timestamps, so an interrupted run completed by a re-run yields the same
 * manifest as one uninterrupted run.
 */
@JsonPropertyOrder({
  "formatVersion",
  "tokenizer",
  "settings",
  "totals",
  "tagsNotSinglePiece",
  "shards",
  "sources"
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(
    int formatVersion,
    TokenizerInfo tokenizer,
    Settings settings,
    Totals totals,
    SortedMap<String, Long> tagsNotSinglePiece,
    List<Shard> shards,
    List<Source> sources) {

  public static final int FORMAT_VERSION = 1;

  /** The tokenizer every shard was made with; a folder never mixes two. */
  public record TokenizerInfo(
      String file,
      String sha256,
      int vocabSize,
      List<Integer> bannedIds,
      int eosId,
      String dtype) {}

  /**
   * Settings that change shard content: a re-run with other values would mix two splits or two
   * shard sizes in one folder, so it is refused.
   */
  public record Settings(
      double valFraction, String splitSeed, String splitRule, long shardTargetBytes) {}

  public record Totals(long shards, long documents, long tokens) {}

  /** One finished shard; {@code path} is relative to the manifest's folder. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonPropertyOrder({
    "path",
    "dataset",
    "split",
    "tokens",
    "documents",
    "tags",
    "sha256",
    "sources",
    "copiedFrom"
  })
  public record Shard(
      String path,
      String dataset,
      String split,
      long tokens,
      long documents,
      SortedMap<String, Long> tags,
      String sha256,
      List<String> sources,
      DocumentRef copiedFrom) {}

  /**
   * A document inside a shard: {@code length} tokens from token {@code offset} of {@code shard},
   * with its split hash. A source names its train document of lowest hash so that a dataset whose
   * split drew no val record can still be given a val shard (a copy of the train document of lowest
   * hash of the whole dataset): the trainer evaluates every dataset's val set and cannot start
   * without one.
   */
  @JsonPropertyOrder({"shard", "offset", "length", "tag", "splitHash"})
  public record DocumentRef(String shard, long offset, long length, String tag, String splitHash) {
    /** The split hash as 16 hex digits, so that string order is unsigned number order. */
    public static String hex(long splitHash) {
      return String.format(java.util.Locale.ROOT, "%016x", splitHash);
    }
  }

  /**
   * One finished input file, keyed by absolute path, size and mtime: records read, records skipped
   * (no sequence, or refused by the parser), problems reported, documents whose tag is not one
   * piece of the vocabulary, the shards made from it, and its train document of lowest split hash
   * (see {@link DocumentRef}).
   *
   * @param recordIds the source's record-id file (relative to the folder; absent in folders made
   *     before it existed): one line per document of its shards, {@code shard TAB document TAB
   *     identity} (ACCESSION.VERSION, or the FASTA id), written (temp, fsync, rename) before the
   *     manifest lists the source. {@code omnibiote follow} learns generation 0's records from it.
   * @param recordIdsSha256 its SHA-256
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonPropertyOrder({
    "path",
    "size",
    "mtimeMillis",
    "dataset",
    "format",
    "records",
    "skippedRecords",
    "problems",
    "tagsNotSinglePiece",
    "shards",
    "valFallbackCandidate",
    "recordIds",
    "recordIdsSha256"
  })
  public record Source(
      String path,
      long size,
      long mtimeMillis,
      String dataset,
      String format,
      long records,
      long skippedRecords,
      long problems,
      SortedMap<String, Long> tagsNotSinglePiece,
      List<String> shards,
      DocumentRef valFallbackCandidate,
      String recordIds,
      String recordIdsSha256) {}

  /** A manifest over {@code sources} and their {@code shards}, both sorted by path. */
  public static Manifest of(
      TokenizerInfo tokenizer, Settings settings, List<Source> sources, List<Shard> shards) {
    List<Source> srcs = sources.stream().sorted(Comparator.comparing(Source::path)).toList();
    List<Shard> shs = shards.stream().sorted(Comparator.comparing(Shard::path)).toList();
    SortedMap<String, Long> notSingle = new TreeMap<>();
    for (Source s : srcs) {
      s.tagsNotSinglePiece().forEach((tag, n) -> notSingle.merge(tag, n, Long::sum));
    }
    Totals totals =
        new Totals(
            shs.size(),
            shs.stream().mapToLong(Shard::documents).sum(),
            shs.stream().mapToLong(Shard::tokens).sum());
    return new Manifest(FORMAT_VERSION, tokenizer, settings, totals, notSingle, shs, srcs);
  }
}
