package org.omnibiote.shards;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The header of a one-dimensional NPY v1.0 file: magic, version, header length, then the
 * Python dict literal padded with spaces and a newline. The header is always
 * {@value #LENGTH} bytes (a multiple of 64, as numpy aligns it) whatever the element count,
 * so a streaming writer can reserve it up front and rewrite it with the final count.
 */
public final class NpyHeader {
  /** Bytes before the data; fits any count below 10^60. */
  public static final int LENGTH = 128;

  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};

  private NpyHeader() {}

  public static byte[] of(NpyDtype dtype, long count) {
    String dict =
        "{'descr': '" + dtype.descr() + "', 'fortran_order': False, 'shape': (" + count + ",), }";
    int dictSpace = LENGTH - MAGIC.length - 2;
    StringBuilder padded = new StringBuilder(dict);
    while (padded.length() < dictSpace - 1) {
      padded.append(' ');
    }
    padded.append('\n');
    byte[] text = padded.toString().getBytes(StandardCharsets.US_ASCII);
    if (text.length != dictSpace) {
      throw new IllegalArgumentException("count too large for an NPY header: " + count);
    }
    ByteBuffer buf = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    buf.put(MAGIC).putShort((short) dictSpace).put(text);
    return buf.array();
  }
}
