package org.omnibiote.data;

/**
 * Hashes tuples of longs into 64-bit seeds (SplitMix64's finaliser, applied after each element), so
 * that nearby inputs such as consecutive sample indices give unrelated seeds. {@link
 * java.util.SplittableRandom} needs this: the streams of seeds s and s + its gamma overlap.
 */
final class Seeds {
  private Seeds() {}

  static long mix(long... parts) {
    long h = 0x6a09e667f3bcc909L;
    for (long p : parts) {
      h = mix64(h ^ mix64(p + 0x9e3779b97f4a7c15L));
    }
    return h;
  }

  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
