package org.omnibiote.tokenizer;

import java.util.Arrays;

/**
 * Max-heap of (count, pair) entries with lazy deletion: an entry may be stale (its pair's count has
 * changed since it was pushed); the trainer checks the count when it pops. Ties on count are broken
 * by {@link Ties}, so the order of merges does not depend on hash order.
 */
final class PairHeap {
  /** Orders two pairs with equal counts: negative when {@code a} comes first. */
  interface Ties {
    int compare(int a, int b);
  }

  private final Ties ties;
  private long[] counts = new long[1024];
  private int[] pairs = new int[1024];
  private int size;

  PairHeap(Ties ties) {
    this.ties = ties;
  }

  boolean isEmpty() {
    return size == 0;
  }

  long topCount() {
    return counts[0];
  }

  int topPair() {
    return pairs[0];
  }

  void push(long count, int pair) {
    if (size == counts.length) {
      counts = Arrays.copyOf(counts, size * 2);
      pairs = Arrays.copyOf(pairs, size * 2);
    }
    int i = size++;
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (!before(count, pair, counts[parent], pairs[parent])) {
        break;
      }
      counts[i] = counts[parent];
      pairs[i] = pairs[parent];
      i = parent;
    }
    counts[i] = count;
    pairs[i] = pair;
  }

  void pop() {
    size--;
    if (size == 0) {
      return;
    }
    long count = counts[size];
    int pair = pairs[size];
    int i = 0;
    while (true) {
      int child = 2 * i + 1;
      if (child >= size) {
        break;
      }
      if (child + 1 < size
          && before(counts[child + 1], pairs[child + 1], counts[child], pairs[child])) {
        child++;
      }
      if (!before(counts[child], pairs[child], count, pair)) {
        break;
      }
      counts[i] = counts[child];
      pairs[i] = pairs[child];
      i = child;
    }
    counts[i] = count;
    pairs[i] = pair;
  }

  private boolean before(long countA, int a, long countB, int b) {
    if (countA != countB) {
      return countA > countB;
    }
    return a != b && ties.compare(a, b) < 0;
  }
}
