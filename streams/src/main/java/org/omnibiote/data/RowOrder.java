package org.omnibiote.data;

/**
 * The order in which a dataset's rows are visited: epoch e (= k / n for the dataset's k-th sample
 * and n rows) is a pseudo-random permutation of [0, n) keyed by (seed, dataset, e), so every row is
 * seen exactly once per epoch and each lookup is O(1) with no state. The permutation is a balanced
 * Feistel network on the smallest even number of bits covering n, made a bijection of [0, n) by
 * cycle walking (re-encrypting values outside; at most four times n values exist, so a few rounds
 * on average).
 */
final class RowOrder {
  private static final int ROUNDS = 6;

  private final long seed;
  private final long datasetKey;
  private final long n;
  private final int halfBits;
  private final long halfMask;

  RowOrder(long seed, long datasetKey, long n) {
    if (n < 1) {
      throw new IllegalArgumentException("no rows to order");
    }
    this.seed = seed;
    this.datasetKey = datasetKey;
    this.n = n;
    int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
    bits += bits & 1;
    this.halfBits = bits / 2;
    this.halfMask = (1L << halfBits) - 1;
  }

  /** The row visited at position {@code k} of the dataset's sample sequence. */
  long row(long k) {
    long epoch = k / n;
    long key = Seeds.mix(seed, datasetKey, epoch);
    long x = k % n;
    do {
      x = encrypt(x, key);
    } while (x >= n);
    return x;
  }

  private long encrypt(long x, long key) {
    long left = x >>> halfBits;
    long right = x & halfMask;
    for (int r = 0; r < ROUNDS; r++) {
      long f = Seeds.mix64(key ^ Seeds.mix64(right + r * 0x9e3779b97f4a7c15L)) & halfMask;
      long next = left ^ f;
      left = right;
      right = next;
    }
    return (left << halfBits) | right;
  }
}
