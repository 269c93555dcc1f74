package org.omnibiote.tokenizer;

import java.util.Map;

/**
 * SentencePiece's BPE segmentation (bpe_model.cc) over normalised UTF-8 bytes: the text is split
 * into characters (user-defined pieces as single frozen symbols), then, while any two adjacent
 * symbols concatenate to a piece, the pair whose piece has the highest score is merged, ties going
 * to the leftmost pair.
 *
 * <p>SentencePiece keeps a heap of candidate pairs; this keeps, for every symbol start, the piece
 * its pair with the next symbol would make, and a tournament tree over groups of 16 byte positions
 * holding the best (rank, position) of each group. Picking the best pair is then one read of the
 * root, a merge rescans at most three groups and their paths up an 8-ary tree. About 10 bytes of
 * scratch per input byte, so a 250 Mbp chromosome fits a 4 GB heap.
 *
 * <p>Symbols are "extended ids": piece ids for pieces, then ids for characters that occur inside
 * pieces without being pieces, then frozen user-defined pieces, then unknown characters of 1..4
 * bytes. Only the first two kinds can merge.
 */
final class BpeMerger {
  private static final int DEAD = -1;
  private static final int GROUP_SHIFT = 4;
  private static final int GROUP = 1 << GROUP_SHIFT;

  /** Rank of "no pair here"; also the rank half of an empty tree node. */
  private static final int NO_RANK = Integer.MAX_VALUE;

  private static final long NO_PAIR = Long.MAX_VALUE;

  private final PairTable pairs;

  /** rank[id]: 0 for the highest-scoring piece; equal scores share a rank; NO_RANK if none. */
  private final int[] rank;

  /** The piece of a rank, or -1 when several pieces share it (then the pair is looked up). */
  private final int[] pieceOfRank;

  private final int none;
  private final int[] symbolLength;
  private final int[] finalId;
  private final int[] asciiSymbol;
  private final Map<Integer, Integer> charSymbol;
  private final int unknownCharBase;
  private final int frozenBase;
  private final UserSymbols userSymbols;
  private final boolean[] unusedPiece;
  private final boolean hasUnused;

  /** The dummy prefix ▁ starts every document: its symbol without a map look-up. */
  private static final int SPACE_KEY = 0xE29681;

  private final int spaceSymbol;

  BpeMerger(
      PairTable pairs,
      int[] rank,
      int[] pieceOfRank,
      int none,
      int[] symbolLength,
      int[] finalId,
      int[] asciiSymbol,
      Map<Integer, Integer> charSymbol,
      int frozenBase,
      int unknownCharBase,
      UserSymbols userSymbols,
      boolean[] unusedPiece) {
    this.pairs = pairs;
    this.rank = rank;
    this.pieceOfRank = pieceOfRank;
    this.none = none;
    this.symbolLength = symbolLength;
    this.finalId = finalId;
    this.asciiSymbol = asciiSymbol;
    this.charSymbol = charSymbol;
    this.frozenBase = frozenBase;
    this.unknownCharBase = unknownCharBase;
    this.userSymbols = userSymbols;
    this.unusedPiece = unusedPiece;
    boolean any = false;
    for (boolean u : unusedPiece) {
      any |= u;
    }
    this.hasUnused = any;
    Integer space = charSymbol.get(SPACE_KEY);
    this.spaceSymbol = space != null ? space : unknownCharBase + 2;
  }

  /** Key of a character for {@link #charSymbol}: its UTF-8 bytes packed in an int. */
  static int charKey(byte[] s, int pos, int len) {
    int k = 0;
    for (int i = 0; i < len; i++) {
      k = (k << 8) | (s[pos + i] & 0xFF);
    }
    return k;
  }

  /** Segments {@code norm[0, n)}; appends the final symbols' extended ids to {@code ws.out}. */
  void segment(byte[] norm, int n, Workspace ws, Map<Integer, Long> revMerge) {
    if (n == 0) {
      return;
    }
    ws.ensureSymbols(n);
    int[] sym = ws.sym;
    int[] pair = ws.pair;
    split(norm, n, sym);

    long[] cache = ws.pairCache();
    int prev = -1;
    for (int p = 0; p < n; p++) {
      pair[p] = NO_RANK;
      if (sym[p] != DEAD) {
        if (prev >= 0) {
          pair[prev] = rank[lookup(sym[prev], sym[p], revMerge, cache)];
        }
        prev = p;
      }
    }

    // An 8-ary tournament tree over the groups: each node holds the least (rank, position)
    // of its subtree; children share one cache line, so an update touches few lines.
    int groups = (n + GROUP - 1) >>> GROUP_SHIFT;
    int[] offset = ws.levelOffset;
    int levels = 0;
    int total = 0;
    int count = groups;
    while (true) {
      offset[levels++] = total;
      if (count == 1 && levels > 1) {
        total += 1;
        break;
      }
      int padded = (count + 7) & ~7;
      total += padded;
      count = padded >>> 3;
    }
    long[] tree = ws.tree(total);
    for (int g = 0; g < offset[1]; g++) {
      tree[g] = g < groups ? groupBest(pair, n, g) : NO_PAIR;
    }
    for (int k = 1; k < levels; k++) {
      int from = offset[k - 1];
      int nodes = (offset[k] - from) >>> 3;
      int size = k + 1 < levels ? offset[k + 1] - offset[k] : 1;
      for (int i = 0; i < size; i++) {
        tree[offset[k] + i] = i < nodes ? min8(tree, from + (i << 3)) : NO_PAIR;
      }
    }
    int root = offset[levels - 1];

    while (true) {
      long top = tree[root];
      int topRank = (int) (top >>> 32);
      if (topRank == NO_RANK) {
        break;
      }
      int p = (int) top;
      int q = p + symbolLength[sym[p]];
      int merged = pieceOfRank[topRank];
      if (merged < 0) {
        merged = pairs.get(sym[p], sym[q], none);
      }
      int r = q + symbolLength[sym[q]];
      sym[p] = merged;
      sym[q] = DEAD;
      pair[q] = NO_RANK;
      int x = p - 1;
      while (x >= 0 && sym[x] == DEAD) {
        x--;
      }
      if (x >= 0) {
        pair[x] = rank[lookup(sym[x], merged, revMerge, cache)];
      }
      pair[p] = r < n ? rank[lookup(merged, sym[r], revMerge, cache)] : NO_RANK;

      int gp = p >>> GROUP_SHIFT;
      update(tree, offset, levels, pair, n, gp);
      if (x >= 0 && (x >>> GROUP_SHIFT) != gp) {
        update(tree, offset, levels, pair, n, x >>> GROUP_SHIFT);
      }
      if ((q >>> GROUP_SHIFT) != gp) {
        update(tree, offset, levels, pair, n, q >>> GROUP_SHIFT);
      }
    }

    for (int p = 0; p < n; p += symbolLength[sym[p]]) {
      ws.emit(sym[p]);
    }
  }

  /** Splits into characters, user-defined pieces taken whole (and frozen). */
  private void split(byte[] norm, int n, int[] sym) {
    int p = 0;
    while (p < n) {
      byte b = norm[p];
      int len;
      int s;
      int m = userSymbols.mayStartWith(b) ? userSymbols.match(norm, p, n) : -1;
      if (m >= 0) {
        len = userSymbols.length(m);
        s = frozenBase + userSymbols.ordinal(m);
      } else if (b >= 0) {
        len = 1;
        s = asciiSymbol[b];
      } else {
        len = Math.min(n - p, Utf8.charLength(b));
        int key = charKey(norm, p, len);
        if (key == SPACE_KEY) {
          s = spaceSymbol;
        } else {
          Integer c = charSymbol.get(key);
          s = c != null ? c : unknownCharBase + len - 1;
        }
      }
      sym[p] = s;
      for (int k = 1; k < len; k++) {
        sym[p + k] = DEAD;
      }
      p += len;
    }
  }

  private int lookup(int left, int right, Map<Integer, Long> revMerge, long[] cache) {
    if (left >= frozenBase || right >= frozenBase) {
      return none;
    }
    // A small per-thread direct-mapped cache in front of the pair table: biological text
    // repeats the same few thousand merges, and the table itself does not fit in L2.
    long key = ((long) left << 21) | right;
    int slot = (int) ((key * 0x9E3779B97F4A7C15L) >>> 50) & (cache.length - 1);
    long c = cache[slot];
    int merged;
    if ((c >>> 21) == key) {
      merged = (int) (c & PairTable.MAX_ID);
    } else {
      merged = pairs.get(left, right, none);
      cache[slot] = (key << 21) | merged;
    }
    if (hasUnused && merged != none && unusedPiece[merged]) {
      revMerge.put(merged, ((long) left << 32) | right);
    }
    return merged;
  }

  private static long groupBest(int[] pair, int n, int g) {
    long best = NO_PAIR;
    int from = g << GROUP_SHIFT;
    int to = Math.min(n, from + GROUP);
    for (int i = from; i < to; i++) {
      best = min(best, ((long) pair[i] << 32) | i);
    }
    return best;
  }

  /**
   * Branch-free minimum of two non-negative keys: which key wins is data-dependent and
   * unpredictable, and mispredicted branches cost more than the arithmetic.
   */
  private static long min(long a, long b) {
    long d = a - b;
    return b + (d & (d >> 63));
  }

  private static long min8(long[] t, int i) {
    long a = min(min(t[i], t[i + 1]), min(t[i + 2], t[i + 3]));
    long b = min(min(t[i + 4], t[i + 5]), min(t[i + 6], t[i + 7]));
    return min(a, b);
  }

  private static void update(long[] tree, int[] offset, int levels, int[] pair, int n, int g) {
    tree[g] = groupBest(pair, n, g);
    int idx = g;
    for (int k = 1; k < levels; k++) {
      idx >>>= 3;
      long v = min8(tree, offset[k - 1] + (idx << 3));
      int at = offset[k] + idx;
      if (tree[at] == v) {
        return;
      }
      tree[at] = v;
    }
  }

  /** The id SentencePiece reports for a final symbol (unknown characters become unk). */
  int finalId(int symbol) {
    return finalId[symbol];
  }

  int symbolLength(int symbol) {
    return symbolLength[symbol];
  }

  boolean hasUnusedPieces() {
    return hasUnused;
  }

  boolean isUnused(int id) {
    return hasUnused && id < unusedPiece.length && unusedPiece[id];
  }
}
