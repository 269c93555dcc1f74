package org.omnibiote.tokenizer;

/**
 * Read-only view of a darts-clone double-array trie, the format SentencePiece stores its
 * precompiled normalisation rules in. Each 32-bit unit packs a label (low byte, or bit 31 for a
 * value unit), a has-leaf flag (bit 8) and the XOR offset to its children (bits 10..31, scaled by
 * 256 when bit 9 is set).
 */
final class DoubleArray {
  /** Returned by {@link #longestPrefix} when no key is a prefix of the input. */
  static final long NO_MATCH = -1L;

  private final int[] units;

  DoubleArray(int[] units) {
    this.units = units;
  }

  int size() {
    return units.length;
  }

  private static int offset(int unit) {
    return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
  }

  private static boolean hasLeaf(int unit) {
    return ((unit >>> 8) & 1) == 1;
  }

  private static int label(int unit) {
    return unit & 0x800000FF;
  }

  /**
   * The longest key that is a prefix of {@code key[from, to)}: {@code (length << 32) | value}, or
   * {@link #NO_MATCH}. Like darts-clone's commonPrefixSearch keeping the longest result.
   */
  long longestPrefix(byte[] key, int from, int to) {
    if (units.length == 0) {
      return NO_MATCH;
    }
    long best = NO_MATCH;
    int node = offset(units[0]);
    for (int i = from; i < to; i++) {
      int c = key[i] & 0xFF;
      node ^= c;
      if (node < 0 || node >= units.length) {
        return best;
      }
      int unit = units[node];
      if (label(unit) != c) {
        return best;
      }
      node ^= offset(unit);
      if (hasLeaf(unit)) {
        if (node < 0 || node >= units.length) {
          return best;
        }
        best = ((long) (i + 1 - from) << 32) | (units[node] & 0x7FFFFFFFL);
      }
    }
    return best;
  }

  /** Whether some key starts with the bytes {@code first, second}. */
  boolean hasKeyStartingWith(int first, int second) {
    if (units.length == 0) {
      return false;
    }
    int node = offset(units[0]) ^ first;
    if (node < 0 || node >= units.length || label(units[node]) != first) {
      return false;
    }
    int child = node ^ offset(units[node]) ^ second;
    return child >= 0 && child < units.length && label(units[child]) == second;
  }
}
