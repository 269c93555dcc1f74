package org.omnibiote.shards;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The header of an NPY v1.0 file (one-dimensional token shards, or any C-order array): magic,
 * version, header length, then the Python dict literal padded with spaces and a newline. The header
 * is always {@value #LENGTH} bytes (a multiple of 64, as numpy aligns it) whatever the element
 * count, so a streaming writer can reserve it up front and rewrite it with the final count.
 */
public final class NpyHeader {
  /** Bytes before the data; fits any count below 10^60. */
  public static final int LENGTH = 128;

  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};

  private NpyHeader() {}

  public static byte[] of(NpyDtype dtype, long count) {
    return of(dtype.descr(), count);
  }

  /**
   * The header of a C-order array of any rank, e.g. {@code of("<f4", records, n)} for float32
   * encodings (numpy's {@code descr} type string, then the shape).
   */
  public static byte[] of(String descr, long... shape) {
    StringBuilder tuple = new StringBuilder();
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      tuple.append(s).append(shape.length == 1 ? "," : ", ");
    }
    String dims = shape.length > 1 ? tuple.substring(0, tuple.length() - 2) : tuple.toString();
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    int dictSpace = LENGTH - MAGIC.length - 2;
    StringBuilder padded = new StringBuilder(dict);
    while (padded.length() < dictSpace - 1) {
      padded.append(' ');
    }
    padded.append('\n');
    byte[] text = padded.toString().getBytes(StandardCharsets.US_ASCII);
    if (text.length != dictSpace) {
      throw new IllegalArgumentException("shape too large for an NPY header: " + dims);
    }
    ByteBuffer buf = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    buf.put(MAGIC).putShort((short) dictSpace).put(text);
    return buf.array();
  }
}
