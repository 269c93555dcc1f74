package org.omnibiote.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.LongConsumer;
import org.omnibiote.io.ByteLines;

/**
 * spm_encode's loop: each line of text in, one line out of its ids (or pieces) separated by single
 * spaces, as {@code spm_encode --output_format=id|piece} writes them. {@code omnibiote tokenize}
 * runs it, and {@code bench tokenizer} times it against spm_encode.
 */
public final class LineEncoder {
  /** What a line of output holds. */
  public enum Output {
    ID,
    PIECE
  }

  private LineEncoder() {}

  /**
   * Encodes every line of {@code in} into {@code out} (which the caller flushes and closes);
   * returns the number of lines. {@code bytesRead} is told the input bytes consumed after each
   * line.
   */
  public static long encode(
      SentencePieceTokenizer model,
      InputStream in,
      OutputStream out,
      Output format,
      LongConsumer bytesRead)
      throws IOException {
    ByteLines lines = new ByteLines(in);
    byte[] digits = new byte[12];
    long done = 0;
    long count = 0;
    while (lines.next()) {
      if (format == Output.ID) {
        int[] ids = model.encodeUtf8(lines.bytes(), 0, lines.length());
        for (int i = 0; i < ids.length; i++) {
          if (i > 0) {
            out.write(' ');
          }
          writeInt(out, ids[i], digits);
        }
      } else {
        String[] pieces = model.encodeUtf8AsPieces(lines.bytes(), 0, lines.length());
        for (int i = 0; i < pieces.length; i++) {
          if (i > 0) {
            out.write(' ');
          }
          out.write(pieces[i].getBytes(StandardCharsets.UTF_8));
        }
      }
      out.write('\n');
      count++;
      done += lines.length() + 1;
      bytesRead.accept(done);
    }
    return count;
  }

  /** Decimal digits without a String per id. */
  private static void writeInt(OutputStream out, int v, byte[] digits) throws IOException {
    if (v == 0) {
      out.write('0');
      return;
    }
    int n = digits.length;
    boolean negative = v < 0;
    long x = Math.abs((long) v);
    while (x > 0) {
      digits[--n] = (byte) ('0' + x % 10);
      x /= 10;
    }
    if (negative) {
      digits[--n] = '-';
    }
    out.write(digits, n, digits.length - n);
  }
}
