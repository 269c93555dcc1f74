package org.omnibiote.records;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A growable byte buffer for one record's sequence (one byte per residue, so a 250 Mbp chromosome
 * takes 250 MB, not the 500 MB of a StringBuilder of UTF-16). Lines are copied in with spaces
 * dropped and ASCII letters upper-cased, as Biopython's {@code "".join(lines).replace(" ",
 * "").upper()} does.
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

  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGHS = 0x8080808080808080L;
  private static final long SPACES = 0x2020202020202020L;

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
    ensure(to - from);
    byte[] out = buf;
    int n = length;
    long hi = 0;
    int i = from;
    // Eight residues at a time while a word holds no space (FASTA lines have none).
    for (; i + 8 <= to; i += 8) {
      long w = (long) LONGS.get(src, i);
      if (hasSpace(w)) {
        break;
      }
      LONGS.set(out, n, upper(w));
      n += 8;
      hi |= w;
    }
    length = n;
    high |= (hi & HIGHS) != 0 ? 0x80 : 0;
    appendBytes(src, i, to);
  }

  /**
   * Appends the residues of a GenBank sequence line from column 10 on: blocks of ten separated by
   * one space are copied ten at a time; anything else byte by byte, with the same result as {@link
   * #append}.
   */
  public void appendGenBankLine(byte[] src, int from, int to) {
    ensure(to - from);
    byte[] out = buf;
    int n = length;
    long hi = 0;
    int i = from;
    while (i + 10 <= to) {
      long w = (long) LONGS.get(src, i);
      byte b8 = src[i + 8];
      byte b9 = src[i + 9];
      if (hasSpace(w) || b8 == ' ' || b9 == ' ' || (i + 10 < to && src[i + 10] != ' ')) {
        break;
      }
      LONGS.set(out, n, upper(w));
      out[n + 8] = UPPER[b8 & 0xff];
      out[n + 9] = UPPER[b9 & 0xff];
      n += 10;
      hi |= w | (b8 & 0xff) | (b9 & 0xff);
      i += 11;
    }
    length = n;
    high |= (hi & HIGHS) != 0 ? 0x80 : 0;
    if (i < to) {
      appendBytes(src, i, to);
    }
  }

  private void appendBytes(byte[] src, int from, int to) {
    byte[] out = buf;
    int n = length;
    int h = high;
    // Every byte is stored, and the position only advances past kept ones: no branch on
    // the spaces (there is one byte of slack).
    for (int i = from; i < to; i++) {
      int b = src[i] & 0xff;
      out[n] = UPPER[b];
      n += KEEP[b];
      h |= b;
    }
    length = n;
    high = h;
  }

  /** Room for {@code more} bytes plus the slack the word and branch-free stores need. */
  private void ensure(int more) {
    int need = length + more + 8;
    if (need > buf.length) {
      grow(need);
    }
  }

  /** Whether a word holds a space byte (exact "has zero byte" test). */
  private static boolean hasSpace(long w) {
    long x = w ^ SPACES;
    return ((x - ONES) & ~x & HIGHS) != 0;
  }

  /** ASCII a-z upper-cased in all eight bytes; other bytes (non-ASCII too) unchanged. */
  private static long upper(long w) {
    long t = w & ~HIGHS;
    long atLeastA = t + 0x1f1f1f1f1f1f1f1fL; // high bit set where t >= 'a' (0x61)
    long aboveZ = t + 0x0505050505050505L; // high bit set where t > 'z' (0x7a)
    long lower = atLeastA & ~aboveZ & ~w & HIGHS;
    return w ^ (lower >>> 2);
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
   * The sequence as a String; non-ASCII text is decoded as UTF-8 and upper-cased as a whole, like
   * Python's {@code str.upper()}.
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
