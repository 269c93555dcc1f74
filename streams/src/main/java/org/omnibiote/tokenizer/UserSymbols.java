package org.omnibiote.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * SentencePiece's PrefixMatcher over the user-defined pieces ({@code <DNA>}, {@code <EOS>}, ...):
 * at a position, the longest user-defined piece that starts there. Both the normaliser (which
 * leaves such pieces untouched) and BPE (which never merges them) use it. There are only a handful
 * of user-defined pieces, so candidates are kept per first byte, longest first.
 */
final class UserSymbols {
  private final byte[][][] byFirstByte = new byte[256][][];
  private final int[][] idsByFirstByte = new int[256][];
  private final int[][] ordinalsByFirstByte = new int[256][];
  private final int count;

  UserSymbols(List<byte[]> pieces, List<Integer> ids) {
    this.count = pieces.size();
    List<List<Integer>> buckets = new ArrayList<>();
    for (int b = 0; b < 256; b++) {
      buckets.add(new ArrayList<>());
    }
    for (int i = 0; i < pieces.size(); i++) {
      if (pieces.get(i).length > 0) {
        buckets.get(pieces.get(i)[0] & 0xFF).add(i);
      }
    }
    for (int b = 0; b < 256; b++) {
      List<Integer> bucket = buckets.get(b);
      if (bucket.isEmpty()) {
        continue;
      }
      bucket.sort(Comparator.comparingInt((Integer i) -> -pieces.get(i).length));
      byFirstByte[b] = new byte[bucket.size()][];
      idsByFirstByte[b] = new int[bucket.size()];
      ordinalsByFirstByte[b] = new int[bucket.size()];
      for (int k = 0; k < bucket.size(); k++) {
        byFirstByte[b][k] = pieces.get(bucket.get(k));
        idsByFirstByte[b][k] = ids.get(bucket.get(k));
        ordinalsByFirstByte[b][k] = bucket.get(k);
      }
    }
  }

  /** Whether any user-defined piece starts with this byte (the cheap test before matching). */
  boolean mayStartWith(int b) {
    return byFirstByte[b & 0xFF] != null;
  }

  /**
   * Index (into {@link #id}/{@link #length}) of the longest user-defined piece at {@code text[pos,
   * end)}, or -1.
   */
  int match(byte[] text, int pos, int end) {
    byte[][] candidates = byFirstByte[text[pos] & 0xFF];
    if (candidates == null) {
      return -1;
    }
    outer:
    for (int k = 0; k < candidates.length; k++) {
      byte[] c = candidates[k];
      if (c.length > end - pos) {
        continue;
      }
      for (int j = 1; j < c.length; j++) {
        if (text[pos + j] != c[j]) {
          continue outer;
        }
      }
      return ((text[pos] & 0xFF) << 8) | k;
    }
    return -1;
  }

  int id(int match) {
    return idsByFirstByte[match >>> 8][match & 0xFF];
  }

  /** Position of the matched piece in the list given to the constructor. */
  int ordinal(int match) {
    return ordinalsByFirstByte[match >>> 8][match & 0xFF];
  }

  int count() {
    return count;
  }

  int length(int match) {
    return byFirstByte[match >>> 8][match & 0xFF].length;
  }
}
