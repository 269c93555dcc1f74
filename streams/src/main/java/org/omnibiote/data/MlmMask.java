package org.omnibiote.data;

import java.util.SplittableRandom;

/**
 * The original's masking of one row, drawn from an RNG seeded by the row's own seed (see {@link
 * Seeds}) instead of a global generator: each position independently with p = 0.15 becomes MASK,
 * never PAD or EOS; its target is the original id, every other target is {@link TokenIds#IGNORE}.
 * One draw is made per position whatever its token, so the mask of a sample depends on nothing but
 * its seed and its row.
 */
final class MlmMask {
  static final double PROBABILITY = 0.15;

  private MlmMask() {}

  /**
   * Masks {@code ids[off .. off+len)} into {@code inputs} and {@code targets} at the same place.
   */
  static void apply(
      long seed, long[] ids, int off, int len, long eosId, long[] inputs, long[] targets) {
    SplittableRandom rng = new SplittableRandom(seed);
    for (int i = off; i < off + len; i++) {
      long id = ids[i];
      boolean draw = rng.nextDouble() < PROBABILITY;
      if (draw && id != TokenIds.PAD && id != eosId) {
        inputs[i] = TokenIds.MASK;
        targets[i] = id;
      } else {
        inputs[i] = id;
        targets[i] = TokenIds.IGNORE;
      }
    }
  }
}
