package org.omnibiote.data;

import org.omnibiote.UserError;

/**
 * The rows of one dataset split: the token stream of its shards and the row index built by one pass
 * over it at open (see {@link RowPacker}). Documents are the token runs ending in EOS; banned
 * tokens are deleted from them (skipped when counted and when read). Reading a row touches only its
 * own tokens, so any row is available in O(ctxLen) at any time, from any thread.
 */
final class PackedRows {
  private static final int SCAN_CHUNK = 1 << 16;

  /** Row r takes {@code lengths[r]} unbanned tokens from stream offset {@code starts[r]}. */
  record Index(long[] starts, int[] lengths, long documents, long documentTokens) {
    long rowTokens() {
      long sum = 0;
      for (int l : lengths) {
        sum += l;
      }
      return sum;
    }
  }

  private final TokenStream stream;
  private final Index index;
  private final boolean[] banned;
  private final int ctxLen;

  private PackedRows(TokenStream stream, Index index, boolean[] banned, int ctxLen) {
    this.stream = stream;
    this.index = index;
    this.banned = banned;
    this.ctxLen = ctxLen;
  }

  /**
   * Scans {@code stream} once and packs its documents. {@code banned[id]} marks the ids to delete;
   * an id outside {@code [0, banned.length)} (the vocabulary) is refused, naming {@code what}.
   */
  static PackedRows pack(
      TokenStream stream,
      int ctxLen,
      boolean usePadding,
      boolean[] banned,
      int eosId,
      String what) {
    RowPacker packer = new RowPacker(ctxLen, usePadding);
    int[] buf = new int[SCAN_CHUNK];
    int vocab = banned.length;
    long length = stream.length();
    long docStart = -1;
    long docLength = 0;
    for (long pos = 0; pos < length; ) {
      int n = stream.read(pos, buf, 0, (int) Math.min(buf.length, length - pos));
      for (int j = 0; j < n; j++) {
        int t = buf[j];
        if (t < 0 || t >= vocab) {
          throw new UserError(
              what
                  + ": token "
                  + t
                  + " at offset "
                  + (pos + j)
                  + " is outside the vocabulary of "
                  + vocab
                  + " (shard damaged or from another"
                  + " tokenizer)");
        }
        if (banned[t]) {
          continue;
        }
        if (docLength == 0) {
          docStart = pos + j;
        }
        docLength++;
        if (t == eosId) {
          packer.document(docStart, docLength);
          docLength = 0;
        }
      }
      pos += n;
    }
    if (docLength > 0) {
      // A last run without EOS (the ingest never writes one) still counts as a document.
      packer.document(docStart, docLength);
    }
    return new PackedRows(stream, packer.finish(), banned, ctxLen);
  }

  int rows() {
    return index.starts().length;
  }

  long streamTokens() {
    return stream.length();
  }

  Index index() {
    return index;
  }

  /** Writes row {@code row}'s ctxLen ids into {@code dst[off..]}, PAD after its tokens. */
  void read(int row, long[] dst, int off) {
    long pos = index.starts()[row];
    int want = index.lengths()[row];
    int[] buf = new int[want];
    int filled = 0;
    while (filled < want) {
      int n = stream.readVerified(pos, buf, 0, want - filled);
      if (n == 0) {
        throw new IllegalStateException("row " + row + " runs past the end of its shards");
      }
      pos += n;
      for (int j = 0; j < n; j++) {
        int t = buf[j];
        if (!banned[t]) {
          dst[off + filled++] = t;
        }
      }
    }
    for (int i = off + want; i < off + ctxLen; i++) {
      dst[i] = TokenIds.PAD;
    }
  }
}
