package org.omnibiote.tokenizer;

import java.util.Arrays;

/**
 * Which piece two adjacent symbols merge into: (left symbol, right symbol) -> piece id, for every
 * piece whose text is the concatenation of two symbols. An open-addressing table with key and value
 * packed in one long (21 bits each), so a look-up touches one cache line.
 */
final class PairTable {
  static final int MAX_ID = (1 << 21) - 1;
  private static final long EMPTY = -1L;

  private final long[] slots;
  private final int mask;

  PairTable(int expectedEntries) {
    int cap = Integer.highestOneBit(Math.max(16, expectedEntries * 2) - 1) << 1;
    slots = new long[cap];
    Arrays.fill(slots, EMPTY);
    mask = cap - 1;
  }

  private static int hash(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) (h >>> 32) ^ (int) h;
  }

  void put(int left, int right, int merged) {
    long key = ((long) left << 21) | right;
    int i = hash(key) & mask;
    while (slots[i] != EMPTY) {
      if ((slots[i] >>> 21) == key) {
        slots[i] = (key << 21) | merged;
        return;
      }
      i = (i + 1) & mask;
    }
    slots[i] = (key << 21) | merged;
  }

  /** The merged piece, or {@code none} when the pair is not a piece. */
  int get(int left, int right, int none) {
    long key = ((long) left << 21) | right;
    int i = hash(key) & mask;
    while (true) {
      long s = slots[i];
      if (s == EMPTY) {
        return none;
      }
      if ((s >>> 21) == key) {
        return (int) (s & MAX_ID);
      }
      i = (i + 1) & mask;
    }
  }
}
