package org.omnibiote.data;

import java.util.Arrays;
import java.util.List;

/**
 * The concatenation of one dataset split's shards in manifest order, addressed by a global token
 * offset. Documents never straddle shards (the ingest closes a shard between documents), but rows
 * may.
 */
final class TokenStream {
  private final ShardFile[] shards;
  private final ShardVerifier verifier;

  /** starts[s] = offset of shard s's first token; starts[shards.length] = length. */
  private final long[] starts;

  TokenStream(List<ShardFile> shards) {
    this(shards, null);
  }

  /** A stream whose {@link #readVerified} reads only shards {@code verifier} found good. */
  TokenStream(List<ShardFile> shards, ShardVerifier verifier) {
    this.verifier = verifier;
    this.shards = shards.toArray(new ShardFile[0]);
    this.starts = new long[this.shards.length + 1];
    for (int s = 0; s < this.shards.length; s++) {
      starts[s + 1] = starts[s] + this.shards[s].tokens();
    }
  }

  int shardCount() {
    return shards.length;
  }

  /** The folder of the first shard (for messages). */
  java.nio.file.Path firstShardFolder() {
    return shards.length == 0 ? null : shards[0].path().getParent();
  }

  /** The offset of shard {@code s}'s first token. */
  long shardStart(int s) {
    return starts[s];
  }

  /** Shard {@code s}'s file. */
  ShardFile shard(int s) {
    return shards[s];
  }

  long length() {
    return starts[shards.length];
  }

  /**
   * Copies up to {@code len} tokens from offset {@code from} into {@code dst[off..]}, across shard
   * and segment boundaries; returns how many (fewer only at the end of the stream).
   */
  int read(long from, int[] dst, int off, int len) {
    return read(from, dst, off, len, false);
  }

  /**
   * As {@link #read}, but each shard is first checked against its manifest SHA-256 (once; see
   * {@link ShardVerifier}): what rows are built from. The scan at open reads unchecked.
   */
  int readVerified(long from, int[] dst, int off, int len) {
    return read(from, dst, off, len, verifier != null);
  }

  private int read(long from, int[] dst, int off, int len, boolean verify) {
    int copied = 0;
    long pos = from;
    int s = shardOf(pos);
    while (copied < len && s < shards.length) {
      long inShard = pos - starts[s];
      if (inShard >= shards[s].tokens()) {
        s++;
        continue;
      }
      if (verify) {
        verifier.ensure(shards[s]);
      }
      int n = shards[s].read(inShard, dst, off + copied, len - copied);
      copied += n;
      pos += n;
    }
    return copied;
  }

  private int shardOf(long pos) {
    if (shards.length == 0) {
      return 0;
    }
    int i = Arrays.binarySearch(starts, 0, shards.length, pos);
    // Equal starts (empty shards) are skipped by read's loop, so any match will do.
    return i >= 0 ? i : -i - 2;
  }
}
