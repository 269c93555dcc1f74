package org.omnibiote.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Whether two sides of a benchmark wrote the same output file: a speed ratio between programs that
 * write different things compares nothing, so the benchmarks check this after timing.
 */
final class OutputFiles {
  /** Bytes shown before the first difference (the rest of what is shown follows it). */
  private static final int BEFORE = 20;

  private static final int SHOWN = 60;

  private OutputFiles() {}

  /**
   * How two files compare.
   *
   * @param lines lines ('\n') of the first file
   * @param bytes size of the first file
   * @param differingLine 1-based line where they first differ, 0 when they are identical
   * @param column 1-based byte of that line where they first differ
   * @param excerptA the first file around the difference, within the line
   * @param excerptB the same of the second file
   */
  record Comparison(
      long lines,
      long bytes,
      String sha256A,
      String sha256B,
      long differingLine,
      long column,
      String excerptA,
      String excerptB) {
    boolean identical() {
      return differingLine == 0;
    }
  }

  static Comparison compare(Path a, Path b) throws IOException {
    String shaA = sha256(a);
    String shaB = sha256(b);
    long size = Files.size(a);
    long lines = newlines(a, size)[0];
    long mismatch = Files.mismatch(a, b);
    if (mismatch < 0) {
      return new Comparison(lines, size, shaA, shaB, 0, 0, "", "");
    }
    // The files are equal up to the mismatch, so the line starts at the same offset in both.
    long[] before = newlines(a, mismatch);
    long lineStart = before[1] + 1;
    long from = Math.max(lineStart, mismatch - BEFORE);
    return new Comparison(
        lines,
        size,
        shaA,
        shaB,
        before[0] + 1,
        mismatch - lineStart + 1,
        excerpt(a, from, from > lineStart),
        excerpt(b, from, from > lineStart));
  }

  static String sha256(Path file) throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        sha.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  /**
   * The number of '\n' in the first {@code limit} bytes of {@code file}, and the last one's offset
   * (-1 if none).
   */
  private static long[] newlines(Path file, long limit) throws IOException {
    long count = 0;
    long last = -1;
    long seen = 0;
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      for (int n; seen < limit && (n = in.read(buf)) > 0; ) {
        int upTo = (int) Math.min(n, limit - seen);
        for (int i = 0; i < upTo; i++) {
          if (buf[i] == '\n') {
            count++;
            last = seen + i;
          }
        }
        seen += upTo;
      }
    }
    return new long[] {count, last};
  }

  /** Up to {@link #SHOWN} bytes of {@code file} from {@code from}, up to the end of the line. */
  private static String excerpt(Path file, long from, boolean cut) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(SHOWN);
    try (FileChannel ch = FileChannel.open(file)) {
      int n;
      do {
        n = ch.read(buf, from + buf.position());
      } while (n > 0 && buf.hasRemaining());
    }
    String s = new String(buf.array(), 0, buf.position(), StandardCharsets.ISO_8859_1);
    int nl = s.indexOf('\n');
    if (nl >= 0) {
      s = s.substring(0, nl) + "\\n";
    } else if (s.isEmpty()) {
      s = "(end of file)";
    } else {
      s += "...";
    }
    return cut ? "..." + s : s;
  }
}
