package org.omnibiote.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * NumPy's .npy format (version 1.0) for int64 arrays, written from Java so that a Python baseline
 * reads exactly our token ids with {@code numpy.load}: the magic string, the version, a
 * little-endian uint16 header length, a Python-literal header padded with spaces to a multiple of
 * 64 bytes and ending in a newline, then the values in C order.
 */
final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};

  private Npy() {}

  /**
   * Writes {@code chunks}, concatenated in order, as one little-endian int64 array of {@code shape}
   * (the chunks' lengths must add up to the shape's product).
   */
  static void writeLongs(Path path, long[][] chunks, long... shape) throws IOException {
    long count = 1;
    for (long s : shape) {
      count *= s;
    }
    long total = Arrays.stream(chunks).mapToLong(c -> c.length).sum();
    if (total != count) {
      throw new IllegalArgumentException(
          total + " values do not fill shape " + Arrays.toString(shape) + " (" + count + ")");
    }
    String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
    StringBuilder header =
        new StringBuilder("{'descr': '<i8', 'fortran_order': False, 'shape': (")
            .append(dims)
            .append(shape.length == 1 ? ",), }" : "), }");
    int unpadded = MAGIC.length + 2 + header.length() + 1;
    header.append(" ".repeat((64 - unpadded % 64) % 64)).append('\n');
    byte[] h = header.toString().getBytes(StandardCharsets.US_ASCII);
    try (OutputStream out = Files.newOutputStream(path)) {
      out.write(MAGIC);
      out.write(h.length & 0xff);
      out.write(h.length >>> 8);
      out.write(h);
      for (long[] chunk : chunks) {
        ByteBuffer b =
            ByteBuffer.allocate(chunk.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(chunk);
        out.write(b.array());
      }
    }
  }
}
