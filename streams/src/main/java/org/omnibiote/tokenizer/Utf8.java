package org.omnibiote.tokenizer;

/** UTF-8 character lengths, with SentencePiece's rules for what counts as valid. */
final class Utf8 {
  private Utf8() {}

  /** Length of the character a lead byte announces (1 for stray continuation bytes). */
  static int charLength(byte lead) {
    int b = lead & 0xFF;
    if (b < 0xC0) {
      return 1;
    }
    if (b < 0xE0) {
      return 2;
    }
    if (b < 0xF0) {
      return 3;
    }
    return 4;
  }

  private static boolean trail(byte b) {
    return (b & 0xC0) == 0x80;
  }

  private static boolean validCodepoint(int c) {
    return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF);
  }

  /** Length of the well-formed character at {@code pos}, or 0 when it is malformed. */
  static int validCharLength(byte[] s, int pos, int end) {
    int len = end - pos;
    int b0 = s[pos] & 0xFF;
    if (b0 < 0x80) {
      return 1;
    }
    if (len >= 2 && (b0 & 0xE0) == 0xC0) {
      int cp = ((b0 & 0x1F) << 6) | (s[pos + 1] & 0x3F);
      return trail(s[pos + 1]) && cp >= 0x80 && validCodepoint(cp) ? 2 : 0;
    }
    if (len >= 3 && (b0 & 0xF0) == 0xE0) {
      int cp = ((b0 & 0x0F) << 12) | ((s[pos + 1] & 0x3F) << 6) | (s[pos + 2] & 0x3F);
      return trail(s[pos + 1]) && trail(s[pos + 2]) && cp >= 0x800 && validCodepoint(cp) ? 3 : 0;
    }
    if (len >= 4 && (b0 & 0xF8) == 0xF0) {
      int cp =
          ((b0 & 0x07) << 18)
              | ((s[pos + 1] & 0x3F) << 12)
              | ((s[pos + 2] & 0x3F) << 6)
              | (s[pos + 3] & 0x3F);
      return trail(s[pos + 1])
              && trail(s[pos + 2])
              && trail(s[pos + 3])
              && cp >= 0x10000
              && validCodepoint(cp)
          ? 4
          : 0;
    }
    return 0;
  }
}
