package org.omnibiote.data;

/** The original OmniBioTE vocabulary's fixed ids, and the loss's ignore target. */
public final class TokenIds {
  private TokenIds() {}

  public static final long PAD = 1;
  public static final long MASK = 2;
  public static final long EOS = 3;

  /** Target of positions that carry no loss (PyTorch's default ignore_index). */
  public static final long IGNORE = -100;
}
