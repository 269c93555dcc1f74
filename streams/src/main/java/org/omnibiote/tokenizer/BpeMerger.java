package org.omnibiote.tokenizer;

import java.util.Map;

/**
 * SentencePiece's BPE segmentation (bpe_model.cc) over normalised UTF-8 bytes: the text is
 * split into characters (user-defined pieces as single frozen symbols), then, while any two
 * adjacent symbols concatenate to a piece, the pair whose piece has the highest score is
 * merged, ties going to the leftmost pair.
 *
 * <p>SentencePiece keeps a heap of candidate pairs; this keeps, for every symbol start, the
 * piece its pair with the next symbol would make, and a tournament tree over groups of 16
 * byte positions holding the best (rank, position) of each group. Picking the best pair is
 * then one read of the root, a merge rescans at most three groups. About 9 bytes per input
 * byte, so a 250 Mbp chromosome fits a 4 GB heap.
 *
 * <p>Symbols are "extended ids": piece ids for pieces, then ids for characters that occur
 * inside pieces without being pieces, then frozen user-defined pieces, then unknown
 * characters of 1..4 bytes. Only the first two kinds can merge.
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

    int groups = (n + GROUP - 1) >>> GROUP_SHIFT;
    int size = groups == 1 ? 1 : Integer.highestOneBit(groups - 1) << 1;
    long[] tree = ws.tree(2 * size);
    for (int g = 0; g < size; g++) {
      tree[size + g] = g < groups ? groupBest(pair, n, g) : NO_PAIR;
    }
    for (int i = size - 1; i >= 1; i--) {
      tree[i] = Math.min(tree[2 * i], tree[2 * i + 1]);
    }
    if (size == 1) {
      tree[1] = tree[size];
    }

    while (true) {
      long top = tree[1];
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
      update(tree, size, pair, n, gp);
      if (x >= 0 && (x >>> GROUP_SHIFT) != gp) {
        update(tree, size, pair, n, x >>> GROUP_SHIFT);
      }
      if ((q >>> GROUP_SHIFT) != gp) {
        update(tree, size, pair, n, q >>> GROUP_SHIFT);
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
        Integer c = charSymbol.get(charKey(norm, p, len));
        s = c != null ? c : unknownCharBase + len - 1;
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
      best = Math.min(best, ((long) pair[i] << 32) | i);
    }
    return best;
  }

  private void update(long[] tree, int size, int[] pair, int n, int g) {
    int i = size + g;
    tree[i] = groupBest(pair, n, g);
    if (size == 1) {
      tree[1] = tree[i];
      return;
    }
    i >>>= 1;
    while (i >= 1) {
      long v = Math.min(tree[2 * i], tree[2 * i + 1]);
      if (tree[i] == v) {
        break;
      }
      tree[i] = v;
      i >>>= 1;
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
