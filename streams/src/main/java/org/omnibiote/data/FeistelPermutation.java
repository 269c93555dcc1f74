package org.omnibiote.data;

/**
 * A keyed pseudo-random permutation of [0, n) with its inverse, O(1) per value and no state: a
 * balanced Feistel network on the smallest even number of bits covering n, made a bijection of [0,
 * n) by cycle walking (re-encrypting values outside; at most four times n values exist, so a few
 * rounds on average). {@link RowOrder}'s permutation, so an order built on it reproduces RowOrder
 * exactly.
 */
final class FeistelPermutation {
  private static final int ROUNDS = 6;

  private final long key;
  private final long n;
  private final int halfBits;
  private final long halfMask;

  FeistelPermutation(long key, long n) {
    if (n < 1) {
      throw new IllegalArgumentException("nothing to permute");
    }
    this.key = key;
    this.n = n;
    int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
    bits += bits & 1;
    this.halfBits = bits / 2;
    this.halfMask = (1L << halfBits) - 1;
  }

  long size() {
    return n;
  }

  /** The value at position {@code x} of the permutation. */
  long apply(long x) {
    long y = x;
    do {
      y = encrypt(y);
    } while (y >= n);
    return y;
  }

  /** The position of value {@code y}: {@code apply(inverse(y)) == y}. */
  long inverse(long y) {
    long x = y;
    do {
      x = decrypt(x);
    } while (x >= n);
    return x;
  }

  private long round(long right, int r) {
    return Seeds.mix64(key ^ Seeds.mix64(right + r * 0x9e3779b97f4a7c15L)) & halfMask;
  }

  private long encrypt(long x) {
    long left = x >>> halfBits;
    long right = x & halfMask;
    for (int r = 0; r < ROUNDS; r++) {
      long next = left ^ round(right, r);
      left = right;
      right = next;
    }
    return (left << halfBits) | right;
  }

  private long decrypt(long x) {
    long left = x >>> halfBits;
    long right = x & halfMask;
    for (int r = ROUNDS - 1; r >= 0; r--) {
      long prev = right ^ round(left, r);
      right = left;
      left = prev;
    }
    return (left << halfBits) | right;
  }
}
