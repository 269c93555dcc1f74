package org.omnibiote.records;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A growable byte buffer for one record's sequence (one byte per residue, so a 250 Mbp
 * chromosome takes 250 MB, not the 500 MB of a StringBuilder of UTF-16). Lines are copied
 * in with spaces dropped and ASCII letters upper-cased, as Biopython's
 * {@code "".join(lines).replace(" ", "").upper()} does.
 */
public final class SequenceBuffer {
  private static final int INITIAL = 1 << 16;
  /** After a huge record, give the memory back instead of keeping the peak for the file. */
  private static final int KEEP_AT_MOST = 64 << 20;

  /** Output byte for each input byte: ASCII letters upper-cased. */
  private static final byte[] UPPER = new byte[256];
  /** 1 for the bytes kept, 0 for the space Biopython removes. */
  private static final byte[] KEEP = new byte[256];

  static {
    for (int i = 0; i < 256; i++) {
      UPPER[i] = (byte) (i >= 'a' && i <= 'z' ? i - 32 : i);
      KEEP[i] = (byte) (i == ' ' ? 0 : 1);
    }
  }

  private byte[] buf = new byte[INITIAL];
  private int length;
  private int high;

  public void clear() {
    if (buf.length > KEEP_AT_MOST) {
      buf = new byte[INITIAL];
    }
    length = 0;
    high = 0;
  }

  public int length() {
    return length;
  }

  /** Appends {@code src[from..to)} without its spaces, upper-casing a-z. */
  public void append(byte[] src, int from, int to) {
    // One byte of slack: every byte is stored, and the position only advances past kept ones
    // (no branch on the space that comes every eleventh byte of a GenBank sequence line).
    int need = length + (to - from) + 1;
    if (need > buf.length) {
      grow(need);
    }
    byte[] out = buf;
    int n = length;
    int h = high;
    for (int i = from; i < to; i++) {
      int b = src[i] & 0xff;
      out[n] = UPPER[b];
      n += KEEP[b];
      h |= b;
    }
    length = n;
    high = h;
  }

  private void grow(int need) {
    long cap = Math.max((long) need, (long) buf.length * 2);
    if (cap > Integer.MAX_VALUE - 16) {
      if (need > Integer.MAX_VALUE - 16) {
        throw new IllegalStateException("sequence longer than 2 GB");
      }
      cap = Integer.MAX_VALUE - 16;
    }
    byte[] bigger = new byte[(int) cap];
    System.arraycopy(buf, 0, bigger, 0, length);
    buf = bigger;
  }

  /**
   * The sequence as a String; non-ASCII text is decoded as UTF-8 and upper-cased as a whole,
   * like Python's {@code str.upper()}.
   *
   * @throws CharacterCodingException when the bytes are not valid UTF-8
   */
  public String toSequence() throws CharacterCodingException {
    if (high < 0x80) {
      return new String(buf, 0, length, StandardCharsets.ISO_8859_1);
    }
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(buf, 0, length))
        .toString()
        .toUpperCase(Locale.ROOT);
  }
}
