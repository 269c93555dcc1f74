package org.omnibiote.shards;

import java.nio.file.Path;
import java.util.SortedMap;

/**
 * A shard renamed into place: where it is, what it holds (tokens, documents, documents per tag) and
 * the SHA-256 of the whole file as it lies on disk.
 */
public record FinishedShard(
    Path path, long tokens, long documents, SortedMap<String, Long> tagDocuments, String sha256) {}
