package org.omnibiote.tokenizer;

import java.lang.Character.UnicodeScript;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * The merge loop of SentencePiece's BPE trainer (bpe_model_trainer.cc) with incremental pair
 * counts: each merge touches only the occurrences of the merged pair and their neighbours, and the
 * most frequent pair comes from a heap instead of a scan over all pairs.
 *
 * <p>The corpus is one flat array of symbol ids, words separated by a boundary mark. A symbol
 * occupies the span from its start position to the next live start; positions inside a span hold
 * {@link #DEAD}, so the next symbol of {@code p} starts at {@code p + length(sym[p])}.
 *
 * <p>Semantics kept from spm: the best pair has the highest count, then the shorter piece, then the
 * smaller string; occurrences of a pair are merged left to right; a pair whose piece already exists
 * (reached by another path, "aa"+"a" vs "a"+"aa") is dropped, not merged; a pair is a candidate
 * only if its piece is valid (no unknown character, at most max_sentencepiece_length characters, no
 * whitespace mark after the first character, one Unicode script). Unlike spm 0.1.97, which rescans
 * a sampled "active" set of pairs, the choice here is always the exact best pair.
 */
final class BpeMergeLearner {
  static final int BOUNDARY = -2;
  static final int DEAD = -1;
  private static final int ANY_SCRIPT = -1;
  private static final int UNK_SCRIPT = -2;

  private final int[] sym;
  private final int[] prev;
  private final int[] wordStarts;
  private final long[] wordCounts;
  private final boolean unitWeights;
  private final int maxPieceLength;

  // Symbols: the alphabet first, then one per merge.
  private int symbols;
  private int[] symLength;
  private int[] symScript;
  private boolean[] symLeadingWs;
  private String[] symPiece;

  // Pairs of adjacent symbols.
  private final LongIntMap pairIds;
  private int pairs;
  private int[] pairLeft = new int[1024];
  private int[] pairRight = new int[1024];
  private long[] pairCount = new long[1024];
  private int[] pairOccurrences = new int[1024];
  private int[][] pairPositions = new int[1024][];
  private int[] pairPositionsSize = new int[1024];
  private boolean[] pairDone = new boolean[1024];
  private int[] pairTouched = new int[1024];
  // Pairs of a symbol with itself: their count is of non-overlapping occurrences ("AAA" holds
  // one "AA"), which the raw count overstates; it is recomputed when the pair reaches the top.
  private long[] exactCount = new long[1024];
  private boolean[] exactKnown = new boolean[1024];

  private final PairHeap heap = new PairHeap(this::compareTies);
  private int[] touched = new int[64];
  private int touchedCount;
  private int mergeStamp = 1;

  /**
   * @param text symbol ids of every word, each word followed by {@link #BOUNDARY}
   * @param wordStarts start position of each word, ascending
   * @param wordCounts occurrences of each word
   * @param alphabet the characters of symbols 0..n-1; symbol n is the unknown character
   */
  BpeMergeLearner(
      int[] text, int[] wordStarts, long[] wordCounts, int[] alphabet, int maxPieceLength) {
    this.sym = text;
    this.wordStarts = wordStarts;
    this.wordCounts = wordCounts;
    this.unitWeights = Arrays.stream(wordCounts).allMatch(c -> c == 1);
    this.maxPieceLength = maxPieceLength;
    int n = alphabet.length + 1;
    symLength = new int[n * 2];
    symScript = new int[n * 2];
    symLeadingWs = new boolean[n * 2];
    symPiece = new String[n * 2];
    for (int c : alphabet) {
      addSymbol(new String(Character.toChars(c)), 1, scriptOf(c), c == TrainingCorpus.WS);
    }
    addSymbol(new String(Character.toChars(TrainingCorpus.UNK_CHAR)), 1, UNK_SCRIPT, false);

    prev = new int[text.length];
    pairIds = new LongIntMap(1 << 12);
    countInitialPairs();
  }

  /**
   * Runs up to {@code merges} merges (fewer if the text runs out of pairs); returns the pieces in
   * order.
   */
  List<String> run(int merges, LongConsumer progress) {
    List<String> pieces = new ArrayList<>(merges);
    Set<String> seen = new HashSet<>(merges * 2);
    while (pieces.size() < merges) {
      int best = nextBest();
      if (best < 0) {
        break; // no pair is left to merge: the caller reports the shortfall
      }
      int a = pairLeft[best];
      int b = pairRight[best];
      String piece = symPiece[a] + symPiece[b];
      if (!seen.add(piece)) {
        retire(best);
        continue;
      }
      pieces.add(piece);
      merge(
          best, addSymbol(piece, symLength[a] + symLength[b], mergedScript(a, b), symLeadingWs[a]));
      progress.accept(pieces.size());
    }
    return pieces;
  }

  private void countInitialPairs() {
    // Two passes: count occurrences, then fill exactly sized position lists.
    for (int w = 0; w < wordStarts.length; w++) {
      int p = wordStarts[w];
      prev[p] = -1;
      for (; sym[p + 1] != BOUNDARY; p++) {
        prev[p + 1] = p;
        int id = pairIdCreating(sym[p], sym[p + 1]);
        if (id >= 0) {
          pairOccurrences[id]++;
          pairCount[id] += wordCounts[w];
        }
      }
    }
    for (int id = 0; id < pairs; id++) {
      pairPositions[id] = new int[pairOccurrences[id]];
    }
    for (int p = 0; p + 1 < sym.length; p++) {
      if (sym[p] >= 0 && sym[p + 1] >= 0) {
        int id = pairIds.get(key(sym[p], sym[p + 1]));
        if (id >= 0) {
          pairPositions[id][pairPositionsSize[id]++] = p;
        }
      }
    }
    for (int id = 0; id < pairs; id++) {
      heap.push(pairCount[id], id);
    }
  }

  /** Pops until the top entry is current; -1 when no pair is left. */
  private int nextBest() {
    while (!heap.isEmpty()) {
      long count = heap.topCount();
      int id = heap.topPair();
      heap.pop();
      if (pairDone[id]) {
        continue;
      }
      long current = pairCount[id];
      if (pairLeft[id] == pairRight[id]) {
        if (!exactKnown[id]) {
          exactCount[id] = countWithoutOverlaps(id);
          exactKnown[id] = true;
        }
        current = exactCount[id];
      }
      if (count == current) {
        if (current > 0) {
          return id;
        }
        continue;
      }
      // Stale: the count went down since this entry was pushed (increases push anew), or it
      // was the raw count of a self pair, an upper bound of its exact count.
      if (count > current && current > 0) {
        heap.push(current, id);
      }
    }
    return -1;
  }

  private void merge(int pair, int merged) {
    int a = pairLeft[pair];
    int b = pairRight[pair];
    int lengthA = symLength[a];
    int lengthB = symLength[b];
    int[] positions = pairPositions[pair];
    int n = pairPositionsSize[pair];
    sortPositions(positions, n); // left to right, as spm's ordered position set
    mergeStamp++;
    touchedCount = 0;
    for (int i = 0; i < n; i++) {
      int p = positions[i];
      if (sym[p] != a) {
        continue;
      }
      int q = p + lengthA;
      if (sym[q] != b) {
        continue;
      }
      int r = q + lengthB;
      int before = prev[p];
      int after = sym[r];
      long weight = unitWeights ? 1 : weightAt(p);
      if (before >= 0) {
        decrement(sym[before], a, weight);
      }
      if (after >= 0) {
        decrement(b, after, weight);
      }
      sym[p] = merged;
      sym[q] = DEAD;
      if (after >= 0) {
        prev[r] = p;
        increment(merged, after, weight, p);
      }
      if (before >= 0) {
        increment(sym[before], merged, weight, before);
      }
    }
    retire(pair);
    for (int i = 0; i < touchedCount; i++) {
      int id = touched[i];
      if (pairCount[id] > 0) {
        heap.push(pairCount[id], id);
      }
    }
  }

  /** Lists filled by the first scan are already in order; only later additions need a sort. */
  private static void sortPositions(int[] list, int n) {
    for (int i = 1; i < n; i++) {
      if (list[i - 1] > list[i]) {
        Arrays.sort(list, 0, n);
        return;
      }
    }
  }

  private void decrement(int left, int right, long weight) {
    int id = pairIds.get(key(left, right));
    if (id >= 0) {
      pairCount[id] -= weight;
      pairOccurrences[id]--;
      exactKnown[id] = false;
    }
  }

  private void increment(int left, int right, long weight, int position) {
    int id = pairIdCreating(left, right);
    if (id < 0 || pairDone[id]) {
      return;
    }
    pairCount[id] += weight;
    pairOccurrences[id]++;
    exactKnown[id] = false;
    addPosition(id, position);
    if (pairTouched[id] != mergeStamp) {
      pairTouched[id] = mergeStamp;
      if (touchedCount == touched.length) {
        touched = Arrays.copyOf(touched, touchedCount * 2);
      }
      touched[touchedCount++] = id;
    }
  }

  private void addPosition(int id, int position) {
    int[] list = pairPositions[id];
    int size = pairPositionsSize[id];
    if (list == null) {
      list = pairPositions[id] = new int[4];
    } else if (size == list.length) {
      // Most stale positions die here: drop them before deciding to grow.
      if (pairOccurrences[id] * 2 < size) {
        size = compact(id);
      }
      if (size == list.length) {
        list = pairPositions[id] = Arrays.copyOf(list, size + (size >> 1) + 4);
      }
    }
    list[size] = position;
    pairPositionsSize[id] = size + 1;
  }

  private int compact(int id) {
    int a = pairLeft[id];
    int b = pairRight[id];
    int lengthA = symLength[a];
    int[] list = pairPositions[id];
    int kept = 0;
    for (int i = 0, n = pairPositionsSize[id]; i < n; i++) {
      int p = list[i];
      if (sym[p] == a && sym[p + lengthA] == b) {
        list[kept++] = p;
      }
    }
    pairPositionsSize[id] = kept;
    return kept;
  }

  /**
   * The count of a self pair as its merge would realise it: left to right, an occurrence
   * overlapping the previous counted one is skipped (spm's ComputeFreq does the same). Drops stale
   * positions on the way.
   */
  private long countWithoutOverlaps(int id) {
    int x = pairLeft[id];
    int length = symLength[x];
    int[] list = pairPositions[id];
    int n = compact(id);
    sortPositions(list, n);
    long count = 0;
    int lastCounted = Integer.MIN_VALUE;
    for (int i = 0; i < n; i++) {
      int p = list[i];
      if (p == lastCounted + length) {
        lastCounted = Integer.MIN_VALUE; // "AAAA" holds two: the next one counts again
        continue;
      }
      count += unitWeights ? 1 : weightAt(p);
      lastCounted = p;
    }
    return count;
  }

  private void retire(int pair) {
    pairDone[pair] = true;
    pairPositions[pair] = null;
    pairPositionsSize[pair] = 0;
  }

  private long weightAt(int position) {
    int i = Arrays.binarySearch(wordStarts, position);
    return wordCounts[i >= 0 ? i : -i - 2];
  }

  /** The pair's id, registering it if new; -1 if its piece would not be valid. */
  private int pairIdCreating(int left, int right) {
    long key = key(left, right);
    int id = pairIds.get(key);
    if (id >= 0) {
      return id;
    }
    if (!validPair(left, right)) {
      return -1;
    }
    if (pairs == pairLeft.length) {
      int cap = pairs * 2;
      pairLeft = Arrays.copyOf(pairLeft, cap);
      pairRight = Arrays.copyOf(pairRight, cap);
      pairCount = Arrays.copyOf(pairCount, cap);
      pairOccurrences = Arrays.copyOf(pairOccurrences, cap);
      pairPositions = Arrays.copyOf(pairPositions, cap);
      pairPositionsSize = Arrays.copyOf(pairPositionsSize, cap);
      pairDone = Arrays.copyOf(pairDone, cap);
      pairTouched = Arrays.copyOf(pairTouched, cap);
      exactCount = Arrays.copyOf(exactCount, cap);
      exactKnown = Arrays.copyOf(exactKnown, cap);
    }
    id = pairs++;
    pairLeft[id] = left;
    pairRight[id] = right;
    pairIds.putNew(key, id);
    return id;
  }

  /** spm's IsValidSentencePiece for the concatenation of two valid pieces. */
  private boolean validPair(int left, int right) {
    int sl = symScript[left];
    int sr = symScript[right];
    return sl != UNK_SCRIPT
        && sr != UNK_SCRIPT
        && symLength[left] + symLength[right] <= maxPieceLength
        && !symLeadingWs[right]
        && (sl == ANY_SCRIPT || sr == ANY_SCRIPT || sl == sr);
  }

  private int mergedScript(int a, int b) {
    return symScript[a] != ANY_SCRIPT ? symScript[a] : symScript[b];
  }

  @SuppressWarnings("EnumOrdinal") // an int id of the script, only compared within this run
  private static int scriptOf(int c) {
    if (c == TrainingCorpus.WS) {
      return ANY_SCRIPT; // the mark does not count towards a piece's script
    }
    UnicodeScript s = UnicodeScript.of(c);
    // spm counts Hiragana, Katakana and the prolonged sound mark as Han.
    if (s == UnicodeScript.HIRAGANA || s == UnicodeScript.KATAKANA || c == 0x30FC) {
      s = UnicodeScript.HAN;
    }
    return s.ordinal();
  }

  private int addSymbol(String piece, int length, int script, boolean leadingWs) {
    if (symbols == symLength.length) {
      int cap = symbols * 2;
      symLength = Arrays.copyOf(symLength, cap);
      symScript = Arrays.copyOf(symScript, cap);
      symLeadingWs = Arrays.copyOf(symLeadingWs, cap);
      symPiece = Arrays.copyOf(symPiece, cap);
    }
    symLength[symbols] = length;
    symScript[symbols] = script;
    symLeadingWs[symbols] = leadingWs;
    symPiece[symbols] = piece;
    return symbols++;
  }

  /** Equal counts: the shorter piece first, then the smaller string (spm's tie-break). */
  private int compareTies(int x, int y) {
    int lengthX = symLength[pairLeft[x]] + symLength[pairRight[x]];
    int lengthY = symLength[pairLeft[y]] + symLength[pairRight[y]];
    if (lengthX != lengthY) {
      return lengthX - lengthY;
    }
    return compareConcatenations(
        symPiece[pairLeft[x]], symPiece[pairRight[x]],
        symPiece[pairLeft[y]], symPiece[pairRight[y]]);
  }

  private static int compareConcatenations(String x1, String x2, String y1, String y2) {
    int nx = x1.length() + x2.length();
    int ny = y1.length() + y2.length();
    for (int i = 0, n = Math.min(nx, ny); i < n; i++) {
      char cx = i < x1.length() ? x1.charAt(i) : x2.charAt(i - x1.length());
      char cy = i < y1.length() ? y1.charAt(i) : y2.charAt(i - y1.length());
      if (cx != cy) {
        return TrainingCorpus.codePointOrder(cx) - TrainingCorpus.codePointOrder(cy);
      }
    }
    return nx - ny;
  }

  private static long key(int left, int right) {
    return ((long) left << 32) | right;
  }
}
