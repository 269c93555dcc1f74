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
  private static final long NO_PAIR = Long.MAX_VALUE;

  private final PairTable pairs;
  /** rank[id]: 0 for the highest-scoring piece; equal scores share a rank. */
  private final long[] rank;
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
      long[] rank,
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

    int prev = -1;
    for (int p = 0; p < n; p++) {
      pair[p] = none;
      if (sym[p] != DEAD) {
        if (prev >= 0) {
          pair[prev] = lookup(sym[prev], sym[p], revMerge);
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
      if (top == NO_PAIR) {
        break;
      }
      int p = (int) top;
      int merged = pair[p];
      int q = p + symbolLength[sym[p]];
      int r = q + symbolLength[sym[q]];
      sym[p] = merged;
      sym[q] = DEAD;
      pair[q] = none;
      int x = p - 1;
      while (x >= 0 && sym[x] == DEAD) {
        x--;
      }
      if (x >= 0) {
        pair[x] = lookup(sym[x], merged, revMerge);
      }
      pair[p] = r < n ? lookup(merged, sym[r], revMerge) : none;

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

  private int lookup(int left, int right, Map<Integer, Long> revMerge) {
    if (left >= frozenBase || right >= frozenBase) {
      return none;
    }
    int merged = pairs.get(left, right, none);
    if (hasUnused && merged != none && unusedPiece[merged]) {
      revMerge.put(merged, ((long) left << 32) | right);
    }
    return merged;
  }

  private long groupBest(int[] pair, int n, int g) {
    long best = NO_PAIR;
    int from = g << GROUP_SHIFT;
    int to = Math.min(n, from + GROUP);
    for (int i = from; i < to; i++) {
      int m = pair[i];
      if (m != none) {
        long key = rank[m] | i;
        if (key < best) {
          best = key;
        }
      }
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
