package org.omnibiote.ingest;

import org.omnibiote.shards.Split;

/**
 * One record as it goes into a shard: ids of {@code <tag>SEQUENCE<EOS>} with the banned {@code ▁}
 * removed (the first {@code length} entries of {@code ids}), its split and split hash, and whether
 * its tag is a single piece of the vocabulary, and the record's identity ({@code id}:
 * ACCESSION.VERSION or the FASTA identifier) that the folder's record-id files list.
 */
public record EncodedDocument(
    String tag,
    int[] ids,
    int length,
    Split split,
    long splitHash,
    boolean tagSinglePiece,
    String id) {}
