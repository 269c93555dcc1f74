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

  /**
   * Row r takes {@code lengths[r]} unbanned tokens from stream offset {@code starts[r]}; it holds
   * documents {@code [firstDocs[r], firstDocs[r + 1])} (the last row: up to {@code documents}),
   * numbered in stream order.
   */
  record Index(
      long[] starts, int[] lengths, long[] firstDocs, long documents, long documentTokens) {
    long rowTokens() {
      long sum = 0;
      for (int l : lengths) {
        sum += l;
      }
      return sum;
    }
  }

  /** Which documents of the stream are no longer trained (see {@link #read}). */
  @FunctionalInterface
  interface DeadDocuments {
    DeadDocuments NONE = doc -> false;

    boolean dead(long doc);
  }

  private final TokenStream stream;
  private final Index index;
  // shardFirstDoc[s]: the number of documents before shard s (documents never straddle shards).
  private final long[] shardFirstDoc;
  private final boolean[] banned;
  private final int ctxLen;
  private final int eosId;

  private PackedRows(
      TokenStream stream,
      Index index,
      long[] shardFirstDoc,
      boolean[] banned,
      int ctxLen,
      int eosId) {
    this.eosId = eosId;
    this.stream = stream;
    this.index = index;
    this.shardFirstDoc = shardFirstDoc;
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
    long docs = 0;
    long[] shardFirstDoc = new long[stream.shardCount()];
    int nextShard = 0;
    for (long pos = 0; pos < length; ) {
      int n = stream.read(pos, buf, 0, (int) Math.min(buf.length, length - pos));
      for (int j = 0; j < n; j++) {
        while (nextShard < shardFirstDoc.length && stream.shardStart(nextShard) <= pos + j) {
          shardFirstDoc[nextShard++] = docs;
        }
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
          docs++;
        }
      }
      pos += n;
    }
    if (docLength > 0) {
      // A last run without EOS (the ingest never writes one) still counts as a document.
      packer.document(docStart, docLength);
      docs++;
    }
    while (nextShard < shardFirstDoc.length) {
      shardFirstDoc[nextShard++] = docs; // empty shards at the end
    }
    return new PackedRows(stream, packer.finish(), shardFirstDoc, banned, ctxLen, eosId);
  }

  int rows() {
    return index.starts().length;
  }

  int ctxLen() {
    return ctxLen;
  }

  long streamTokens() {
    return stream.length();
  }

  Index index() {
    return index;
  }

  /** The number of documents before shard {@code shard} of the stream. */
  long shardFirstDoc(int shard) {
    return shardFirstDoc[shard];
  }

  /**
   * The row holding document {@code doc}, or -1 when packing dropped it (or it is out of range).
   */
  int rowOf(long doc) {
    long[] first = index.firstDocs();
    int i = java.util.Arrays.binarySearch(first, doc);
    if (i < 0) {
      i = -i - 2;
    } else {
      while (i + 1 < first.length && first[i + 1] == doc) {
        i++; // rows holding no document of their own do not occur; be safe anyway
      }
    }
    return i;
  }

  /** Documents {@code [first, end)} of row {@code row}. */
  long rowDocsEnd(int row) {
    return row + 1 < index.firstDocs().length ? index.firstDocs()[row + 1] : index.documents();
  }

  /** Writes row {@code row}'s ctxLen ids into {@code dst[off..]}, PAD after its tokens. */
  void read(int row, long[] dst, int off) {
    read(row, dst, off, DeadDocuments.NONE);
  }

  /**
   * As {@link #read(int, long[], int)}, leaving out the tokens of the row's documents that {@code
   * dead} names (a superseded record): the row is then shorter and padded; its other documents are
   * trained as before. Returns the tokens written.
   */
  int read(int row, long[] dst, int off, DeadDocuments dead) {
    long pos = index.starts()[row];
    int want = index.lengths()[row];
    int[] buf = new int[want];
    int taken = 0; // unbanned tokens of the row consumed
    int filled = 0; // of those, written (not of a dead document)
    long doc = index.firstDocs()[row];
    boolean skip = dead.dead(doc);
    while (taken < want) {
      int n = stream.readVerified(pos, buf, 0, want - taken);
      if (n == 0) {
        throw new IllegalStateException("row " + row + " runs past the end of its shards");
      }
      pos += n;
      for (int j = 0; j < n; j++) {
        int t = buf[j];
        if (banned[t]) {
          continue;
        }
        taken++;
        if (!skip) {
          dst[off + filled++] = t;
        }
        if (t == eosId && taken < want) {
          doc++;
          skip = dead.dead(doc);
        }
      }
    }
    for (int i = off + filled; i < off + ctxLen; i++) {
      dst[i] = TokenIds.PAD;
    }
    return filled;
  }
}
