package org.omnibiote.model;

import java.util.Locale;
import org.omnibiote.UserError;

/** How {@link OmniBioTA#encode} turns the final hidden states of a row into its encoding. */
public enum Pooling {
  /** Mean over the non-PAD positions: [B, N]. */
  MEAN,
  /** The first non-PAD position (the tag, for right-padded input): [B, N]. */
  FIRST,
  /** The last non-PAD position: [B, N]. */
  LAST,
  /** Channel-wise maximum over the non-PAD positions: [B, N]. */
  MAX,
  /** Every position: [B, T, N], zero at PAD positions. */
  ALL;

  public static Pooling parse(String name) {
    try {
      return valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new UserError("unknown pooling method '" + name + "' (mean, first, last, max, all)");
    }
  }
}
