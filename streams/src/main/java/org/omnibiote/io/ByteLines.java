package org.omnibiote.io;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Reads lines of raw bytes (split at '\n' only, as std::getline does, so a '\r' stays part of the
 * line) without decoding them, for lines of any length. The returned line is valid until the next
 * call.
 */
public final class ByteLines {
  private final InputStream in;
  private byte[] buf = new byte[1 << 16];
  private int start;
  private int end;
  private boolean eof;
  private byte[] line = new byte[1 << 12];
  private int lineLength;

  public ByteLines(InputStream in) {
    this.in = in;
  }

  /** Reads the next line; false at the end of the input. */
  public boolean next() throws IOException {
    lineLength = 0;
    boolean any = false;
    while (true) {
      if (start == end) {
        if (eof || !fill()) {
          return any;
        }
      }
      any = true;
      int nl = -1;
      for (int i = start; i < end; i++) {
        if (buf[i] == '\n') {
          nl = i;
          break;
        }
      }
      int stop = nl < 0 ? end : nl;
      append(buf, start, stop - start);
      if (nl >= 0) {
        start = nl + 1;
        return true;
      }
      start = end;
    }
  }

  private boolean fill() throws IOException {
    int n = in.read(buf, 0, buf.length);
    if (n <= 0) {
      eof = true;
      start = end = 0;
      return false;
    }
    start = 0;
    end = n;
    return true;
  }

  private void append(byte[] src, int off, int len) {
    if (lineLength + len > line.length) {
      line = Arrays.copyOf(line, Math.max(lineLength + len, line.length * 2));
    }
    System.arraycopy(src, off, line, lineLength, len);
    lineLength += len;
  }

  /** The bytes of the current line, {@code [0, length())}. */
  public byte[] bytes() {
    return line;
  }

  public int length() {
    return lineLength;
  }
}
