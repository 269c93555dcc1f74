package org.omnibiote.records;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads lines as byte ranges of an internal buffer, without a String per line. Line ends are those
 * of Python's text mode ("universal newlines": {@code \n}, {@code \r\n} and a lone {@code \r}),
 * because the original reads its files through Python. The current line is {@code buffer()[start()
 * .. end())}, terminator excluded, valid until the next call of {@link #next()}. The buffer grows
 * to the longest line, so memory follows the longest line.
 */
public final class LineReader implements Closeable {
  private static final int INITIAL = 1 << 16;
  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGHS = 0x8080808080808080L;
  private static final long NEWLINES = 0x0A0A0A0A0A0A0A0AL;
  private static final long RETURNS = 0x0D0D0D0D0D0D0D0DL;

  private final InputStream in;
  private byte[] buf = new byte[INITIAL];
  private int pos;
  private int limit;
  private boolean eof;

  private int start;
  private int end;
  private boolean terminated;
  private boolean nonAscii;
  private long lineNumber;
  private boolean atEnd;

  public LineReader(InputStream in) {
    this.in = in;
  }

  /** Advances to the next line; false (and {@link #atEnd()}) once the input is exhausted. */
  public boolean next() throws IOException {
    int scan = pos;
    long high = 0;
    while (true) {
      byte[] b = buf;
      int lim = limit;
      int i = scan;
      // Eight bytes at a time until a word holds \n or \r (exact "has zero byte" test on
      // the word xor'ed with each terminator), then byte by byte.
      while (i + 8 <= lim) {
        long w = (long) LONGS.get(b, i);
        long x = w ^ NEWLINES;
        long y = w ^ RETURNS;
        if (hasTerminator(x, y)) {
          break;
        }
        high |= w & HIGHS;
        i += 8;
      }
      while (i < lim) {
        byte c = b[i];
        if (c == '\n' || c == '\r') {
          break;
        }
        high |= c & 0x80;
        i++;
      }
      if (i < lim) {
        if (b[i] == '\r' && i + 1 == lim && !eof) {
          // A \r at the end of the buffer may be the first half of \r\n: look ahead first.
          int shift = fill();
          scan = i - shift;
          continue;
        }
        start = pos;
        end = i;
        int skip = (b[i] == '\r' && i + 1 < lim && b[i + 1] == '\n') ? 2 : 1;
        pos = i + skip;
        terminated = true;
        return accept(high);
      }
      if (eof) {
        if (pos < limit) {
          start = pos;
          end = limit;
          pos = limit;
          terminated = false;
          return accept(high);
        }
        atEnd = true;
        start = end = pos;
        terminated = false;
        return false;
      }
      int shift = fill();
      scan = i - shift;
    }
  }

  private static boolean hasTerminator(long x, long y) {
    return (((x - ONES) & ~x & HIGHS) | ((y - ONES) & ~y & HIGHS)) != 0;
  }

  private boolean accept(long high) {
    nonAscii = high != 0;
    lineNumber++;
    return true;
  }

  /** Moves unread bytes to the front (growing when full), reads more; returns the shift. */
  private int fill() throws IOException {
    int shift = pos;
    if (shift > 0) {
      System.arraycopy(buf, pos, buf, 0, limit - pos);
      limit -= pos;
      pos = 0;
    }
    if (limit == buf.length) {
      byte[] bigger = new byte[Math.max(INITIAL, buf.length * 2)];
      System.arraycopy(buf, 0, bigger, 0, limit);
      buf = bigger;
    }
    int n = in.read(buf, limit, buf.length - limit);
    if (n < 0) {
      eof = true;
    } else {
      limit += n;
    }
    return shift;
  }

  public byte[] buffer() {
    return buf;
  }

  public int start() {
    return start;
  }

  public int end() {
    return end;
  }

  public int length() {
    return end - start;
  }

  /** True when the line ended with a line terminator (Python's line keeps a "\n"). */
  public boolean terminated() {
    return terminated;
  }

  /** True when the line holds bytes above 0x7f (column positions then need decoding). */
  public boolean nonAscii() {
    return nonAscii;
  }

  /** 1-based number of the current line. */
  public long lineNumber() {
    return lineNumber;
  }

  /** True once {@link #next()} has returned false (Python's readline() returning ""). */
  public boolean atEnd() {
    return atEnd;
  }

  /** The byte at column {@code i} of the current line. */
  public byte at(int i) {
    return buf[start + i];
  }

  /** Whether the current line starts with the ASCII text {@code prefix}. */
  public boolean startsWith(String prefix) {
    int n = prefix.length();
    if (end - start < n) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      if (buf[start + i] != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The current line decoded as UTF-8 (Python's default text encoding here).
   *
   * @throws CharacterCodingException when the line is not valid UTF-8, where Python raises
   *     UnicodeDecodeError
   */
  public String text() throws CharacterCodingException {
    if (!nonAscii) {
      return new String(buf, start, end - start, StandardCharsets.ISO_8859_1);
    }
    return StandardCharsets.UTF_8
        .newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(buf, start, end - start))
        .toString();
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
