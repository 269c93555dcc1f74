package org.omnibiote.shards;

/**
 * The element type of a token shard. uint16 holds every id of a vocabulary of up to 65,536 pieces
 * (the original's three models) at half the size of int32; larger vocabularies need int32.
 */
public enum NpyDtype {
  UINT16("<u2", 2),
  INT32("<i4", 4);

  private final String descr;
  private final int bytes;

  NpyDtype(String descr, int bytes) {
    this.descr = descr;
    this.bytes = bytes;
  }

  /** The numpy type string of the header ({@code descr}). */
  public String descr() {
    return descr;
  }

  public int bytesPerToken() {
    return bytes;
  }

  public static NpyDtype forVocabulary(int vocabSize) {
    return vocabSize <= 65_536 ? UINT16 : INT32;
  }
}
