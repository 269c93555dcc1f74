package org.omnibiote.ingest;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.omnibiote.shards.Split;

/**
 * Train or val by record identity alone: the first 8 bytes of SHA-256(seed ':' id), read as an
 * unsigned number, below valFraction * 2^64 means val. The same record lands in the same split in
 * every run, on every machine, whatever file or order it comes in.
 */
public final class SplitRule {
  public static final String DESCRIPTION =
      "val iff first 8 bytes of sha256(seed + ':' + record id) as unsigned 64-bit"
          + " < valFraction * 2^64";

  private final String seed;
  private final long threshold;
  private final boolean none;

  public SplitRule(String seed, double valFraction) {
    this.seed = seed;
    this.none = valFraction <= 0;
    // valFraction * 2^64 as an unsigned long (valFraction < 1 keeps it in range).
    this.threshold =
        new java.math.BigDecimal(valFraction)
            .multiply(new java.math.BigDecimal(java.math.BigInteger.ONE.shiftLeft(64)))
            .toBigInteger()
            .longValue();
  }

  /** The 64-bit split hash of a record id. */
  public long hash(String recordId) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(seed.getBytes(StandardCharsets.UTF_8));
      md.update((byte) ':');
      md.update(recordId.getBytes(StandardCharsets.UTF_8));
      return ByteBuffer.wrap(md.digest()).getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public Split splitOf(long hash) {
    return !none && Long.compareUnsigned(hash, threshold) < 0 ? Split.VAL : Split.TRAIN;
  }
}
