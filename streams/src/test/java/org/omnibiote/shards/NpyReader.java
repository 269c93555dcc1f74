package org.omnibiote.shards;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An .npy reader for tests, written from the NPY format description and independent of the writer
 * (it shares none of its code): it parses the header dict itself and checks that the file holds
 * exactly the data the header announces.
 */
public final class NpyReader {
  private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([<>|][a-z]\\d)'");
  private static final Pattern ORDER = Pattern.compile("'fortran_order':\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\((\\d+),\\)");

  /** The array of a one-dimensional npy file, with the header's descr. */
  public record Array(String descr, int headerLength, int[] values) {}

  private NpyReader() {}

  public static Array read(Path file) throws IOException {
    byte[] all = Files.readAllBytes(file);
    ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[6];
    buf.get(magic);
    if ((magic[0] & 0xff) != 0x93
        || !new String(magic, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
      throw new IOException(file + ": not an npy file");
    }
    int major = buf.get();
    int minor = buf.get();
    if (major != 1 || minor != 0) {
      throw new IOException(file + ": npy version " + major + "." + minor);
    }
    int headerLen = Short.toUnsignedInt(buf.getShort());
    int dataStart = 10 + headerLen;
    if (dataStart % 64 != 0) {
      throw new IOException(file + ": data not 64-byte aligned (" + dataStart + ")");
    }
    String header = new String(all, 10, headerLen, StandardCharsets.US_ASCII);
    if (!header.endsWith("\n")) {
      throw new IOException(file + ": header does not end with a newline");
    }
    String descr = group(DESCR, header, file);
    if (!group(ORDER, header, file).equals("False")) {
      throw new IOException(file + ": fortran order");
    }
    long count = Long.parseLong(group(SHAPE, header, file));
    int width =
        switch (descr) {
          case "<u2" -> 2;
          case "<i4" -> 4;
          default -> throw new IOException(file + ": unexpected descr " + descr);
        };
    if (all.length - dataStart != count * width) {
      throw new IOException(
          file
              + ": header says "
              + count
              + " values, file holds "
              + (all.length - dataStart)
              + " data bytes");
    }
    int[] values = new int[(int) count];
    buf.position(dataStart);
    for (int i = 0; i < count; i++) {
      values[i] = width == 2 ? Short.toUnsignedInt(buf.getShort()) : buf.getInt();
    }
    return new Array(descr, headerLen, values);
  }

  private static String group(Pattern p, String header, Path file) throws IOException {
    Matcher m = p.matcher(header);
    if (!m.find()) {
      throw new IOException(file + ": header lacks " + p.pattern() + ": " + header);
    }
    return m.group(1);
  }
}
