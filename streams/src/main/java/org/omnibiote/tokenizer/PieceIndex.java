package org.omnibiote.tokenizer;

import java.util.Arrays;

/**
 * Piece id of a byte slice, without making a String per look-up (building the merge table looks up
 * every split of every piece). Open addressing over ids.
 */
final class PieceIndex {
  private final byte[][] pieces;
  private final int[] slots;
  private final int mask;

  /** Indexes the pieces whose {@code include} flag is set. */
  PieceIndex(byte[][] pieces, boolean[] include) {
    this.pieces = pieces;
    int cap = Integer.highestOneBit(Math.max(16, pieces.length * 2) - 1) << 1;
    slots = new int[cap];
    Arrays.fill(slots, -1);
    mask = cap - 1;
    for (int id = 0; id < pieces.length; id++) {
      if (include[id]) {
        int i = hash(pieces[id], 0, pieces[id].length) & mask;
        while (slots[i] >= 0) {
          i = (i + 1) & mask;
        }
        slots[i] = id;
      }
    }
  }

  private static int hash(byte[] s, int off, int len) {
    int h = 0x811C9DC5;
    for (int i = off; i < off + len; i++) {
      h = (h ^ (s[i] & 0xFF)) * 0x01000193;
    }
    return h ^ (h >>> 15);
  }

  /** The id of the first indexed piece equal to {@code s[off, off+len)}, or -1. */
  int get(byte[] s, int off, int len) {
    int i = hash(s, off, len) & mask;
    while (true) {
      int id = slots[i];
      if (id < 0) {
        return -1;
      }
      byte[] p = pieces[id];
      if (p.length == len && Arrays.equals(p, 0, len, s, off, off + len)) {
        return id;
      }
      i = (i + 1) & mask;
    }
  }
}
