package org.omnibiote.io;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/**
 * Plain or gzip input, told apart by content (the magic bytes 1f 8b), never by file name: release
 * files are not always named for what they are.
 */
public final class Compressed {
  private static final int BUFFER = 1 << 16;

  private Compressed() {}

  /**
   * {@code raw}, buffered, and gunzipped when it starts with the gzip magic bytes (every member of
   * a multi-member file, as gzip -d does). A gzip stream cut short or damaged throws {@link
   * java.io.EOFException} or {@link java.util.zip.ZipException}, here for its header or later while
   * reading; callers turn those into a {@code UserError} naming the file.
   */
  public static InputStream decompressed(InputStream raw) throws IOException {
    BufferedInputStream in = new BufferedInputStream(raw, BUFFER);
    in.mark(2);
    int b1 = in.read();
    int b2 = in.read();
    in.reset();
    if (b1 != 0x1f || b2 != 0x8b) {
      return in;
    }
    return new GZIPInputStream(in, BUFFER);
  }
}
