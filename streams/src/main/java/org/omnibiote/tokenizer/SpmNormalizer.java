package org.omnibiote.tokenizer;

/**
 * SentencePiece's Normalizer: rewrites UTF-8 text by the longest matching rule of the model's
 * precompiled charsmap (nmt_nfkc here), leaves user-defined pieces untouched, drops leading,
 * trailing and repeated whitespace, adds the dummy-prefix {@code ▁} and escapes spaces as {@code
 * ▁}.
 *
 * <p>Most biological text is plain ASCII that no rule touches; such runs are copied in bulk. That
 * is exact because the fast path only takes a byte whose own rule (if any) maps it to itself, that
 * starts no user-defined piece, and whose longer rules (nmt_nfkc composes a letter with a following
 * combining mark) cannot match because the next byte is ASCII and no rule continues the byte with
 * an ASCII byte.
 */
final class SpmNormalizer {
  static final byte[] SPACE_SYMBOL = {(byte) 0xE2, (byte) 0x96, (byte) 0x81};
  private static final byte[] REPLACEMENT_CHAR = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};

  private final DoubleArray rules;
  private final byte[] replacements;
  private final UserSymbols userSymbols;
  private final boolean addDummyPrefix;
  private final boolean removeExtraWhitespaces;
  private final boolean escapeWhitespaces;

  /** The byte alone normalises to itself and starts no user-defined piece. */
  private final boolean[] asciiUnchanged = new boolean[128];

  /** Some rule continues the byte with another ASCII byte. */
  private final boolean[] asciiContinues = new boolean[128];

  SpmNormalizer(
      DoubleArray rules,
      byte[] replacements,
      UserSymbols userSymbols,
      boolean addDummyPrefix,
      boolean removeExtraWhitespaces,
      boolean escapeWhitespaces) {
    this.rules = rules;
    this.replacements = replacements;
    this.userSymbols = userSymbols;
    this.addDummyPrefix = addDummyPrefix;
    this.removeExtraWhitespaces = removeExtraWhitespaces;
    this.escapeWhitespaces = escapeWhitespaces;
    byte[] one = new byte[1];
    for (int b = 0; b < 128; b++) {
      if (b == ' ' || userSymbols.mayStartWith(b)) {
        continue;
      }
      one[0] = (byte) b;
      boolean unchanged = true;
      if (rules != null) {
        long m = rules.longestPrefix(one, 0, 1);
        if (m != DoubleArray.NO_MATCH) {
          int v = (int) m;
          unchanged =
              v + 1 < replacements.length && replacements[v] == b && replacements[v + 1] == 0;
        }
        for (int c = 1; c < 128; c++) {
          asciiContinues[b] |= rules.hasKeyStartingWith(b, c);
        }
      }
      asciiUnchanged[b] = unchanged;
    }
  }

  /** Normalises {@code in[off, off+len)} into {@code ws.norm}; returns the normalised length. */
  int normalize(byte[] in, int off, int len, Workspace ws) {
    int pos = off;
    int end = off + len;
    if (removeExtraWhitespaces) {
      while (pos < end) {
        int consumed = prefix(in, pos, end, ws);
        if (ws.prefixLen != 1 || ws.prefixSrc[ws.prefixOff] != ' ') {
          break;
        }
        pos += consumed;
      }
    }
    if (pos >= end) {
      return 0;
    }
    byte[] out = ws.norm(len + 16);
    int n = 0;
    if (addDummyPrefix) {
      n = appendSpace(out, n);
    }
    boolean prevSpace = removeExtraWhitespaces;
    while (pos < end) {
      if (plain(in, pos, end)) {
        int runEnd = pos + 1;
        while (runEnd < end && plain(in, runEnd, end)) {
          runEnd++;
        }
        int run = runEnd - pos;
        out = ws.growNorm(n + run);
        System.arraycopy(in, pos, out, n, run);
        n += run;
        pos = runEnd;
        prevSpace = false;
        continue;
      }
      int consumed = prefix(in, pos, end, ws);
      byte[] s = ws.prefixSrc;
      int so = ws.prefixOff;
      int sl = ws.prefixLen;
      while (prevSpace && sl > 0 && s[so] == ' ') {
        so++;
        sl--;
      }
      if (sl > 0) {
        out = ws.growNorm(n + 3 * sl);
        for (int k = so; k < so + sl; k++) {
          if (escapeWhitespaces && s[k] == ' ') {
            n = appendSpace(out, n);
          } else {
            out[n++] = s[k];
          }
        }
        prevSpace = s[so + sl - 1] == ' ';
      }
      pos += consumed;
      if (!removeExtraWhitespaces) {
        prevSpace = false;
      }
    }
    if (removeExtraWhitespaces) {
      if (escapeWhitespaces) {
        while (n >= 3
            && out[n - 3] == SPACE_SYMBOL[0]
            && out[n - 2] == SPACE_SYMBOL[1]
            && out[n - 1] == SPACE_SYMBOL[2]) {
          n -= 3;
        }
      } else {
        while (n >= 1 && out[n - 1] == ' ') {
          n--;
        }
      }
    }
    return n;
  }

  /** Whether the byte at {@code pos} normalises to itself whatever follows it. */
  private boolean plain(byte[] in, int pos, int end) {
    int b = in[pos];
    if (b < 0 || !asciiUnchanged[b]) {
      return false;
    }
    return pos + 1 == end || (in[pos + 1] >= 0 && !asciiContinues[b]);
  }

  private int appendSpace(byte[] out, int n) {
    if (escapeWhitespaces) {
      out[n] = SPACE_SYMBOL[0];
      out[n + 1] = SPACE_SYMBOL[1];
      out[n + 2] = SPACE_SYMBOL[2];
      return n + 3;
    }
    out[n] = ' ';
    return n + 1;
  }

  /**
   * SentencePiece's NormalizePrefix: what the text at {@code pos} becomes (left in {@code
   * ws.prefix*}) and how many input bytes that consumes.
   */
  private int prefix(byte[] in, int pos, int end, Workspace ws) {
    if (userSymbols.mayStartWith(in[pos])) {
      int m = userSymbols.match(in, pos, end);
      if (m >= 0) {
        int l = userSymbols.length(m);
        ws.setPrefix(in, pos, l);
        return l;
      }
    }
    if (rules != null) {
      long m = rules.longestPrefix(in, pos, end);
      if (m != DoubleArray.NO_MATCH) {
        int v = (int) m;
        int e = v;
        while (e < replacements.length && replacements[e] != 0) {
          e++;
        }
        ws.setPrefix(replacements, v, e - v);
        return (int) (m >>> 32);
      }
    }
    int l = Utf8.validCharLength(in, pos, end);
    if (l == 0) {
      ws.setPrefix(REPLACEMENT_CHAR, 0, 3);
      return 1;
    }
    ws.setPrefix(in, pos, l);
    return l;
  }
}
