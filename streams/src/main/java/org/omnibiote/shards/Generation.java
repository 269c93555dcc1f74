package org.omnibiote.shards;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.List;

/**
 * One data generation published by {@code omnibiote follow} into an ingest folder: {@code
 * DIR/generations/NNNNNN.json}, written atomically after its shards. It says what it added (its
 * shards, and per document the record identity in {@link #records}), what it superseded (single
 * documents of earlier generations, or whole earlier generations for a new UniRef100 release) and
 * from which source file. Generation 0 is the folder's {@code manifest.json} (the ingest).
 *
 * @param records the records file (relative to DIR): one line per document of {@link #shards}, in
 *     shard then document order: {@code shard TAB document TAB identity}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({
  "formatVersion",
  "generation",
  "tokenizerSha256",
  "source",
  "added",
  "superseded",
  "supersededGenerations",
  "duplicates",
  "problems",
  "shards",
  "records",
  "recordsSha256"
})
public record Generation(
    int formatVersion,
    long generation,
    String tokenizerSha256,
    SourceFile source,
    Added added,
    List<Superseded> superseded,
    List<Long> supersededGenerations,
    long duplicates,
    Problems problems,
    List<Manifest.Shard> shards,
    String records,
    String recordsSha256) {

  public static final int FORMAT_VERSION = 1;

  /**
   * The file a generation was made from.
   *
   * @param kind genbank-release, genbank-daily or uniref100-release
   * @param release the UniRef100 release (YYYY_NN) or GenBank release number, when known
   * @param md5 the MD5 the source published and the file matched, when it publishes one
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record SourceFile(
      String name,
      String origin,
      String kind,
      String release,
      long size,
      String sha256,
      String md5) {}

  /** Documents and tokens added, by dataset name. */
  public record Added(long documents, long tokens, java.util.SortedMap<String, Long> byDataset) {}

  /**
   * A document of an earlier generation no longer sampled: {@code identity} (ACCESSION.VERSION)
   * replaced by {@code by}.
   */
  public record Superseded(
      String identity, String by, long generation, String shard, long document) {}

  /** Records the parser refused: how many, and the first few as {@code file:line (record): why}. */
  public record Problems(long count, List<String> first) {}
}
