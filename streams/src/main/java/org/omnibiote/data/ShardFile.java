package org.omnibiote.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.UserError;
import org.omnibiote.shards.NpyDtype;

/**
 * One token shard, memory-mapped read-only: a one-dimensional little-endian uint16 or int32 {@code
 * .npy} array. Opening checks the header against the manifest (dtype, element count) and the file
 * size against the header, so a truncated or foreign file is refused before training starts. The
 * data is mapped in segments of at most 1 GiB (a Java buffer is indexed by int), never copied onto
 * the heap. Reads are absolute, so one instance serves any number of threads.
 */
final class ShardFile {
  private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']*)'");
  private static final Pattern ORDER = Pattern.compile("'fortran_order':\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(\\s*(\\d+)\\s*,\\s*\\)");

  /** Tokens per mapped segment: 2^28 tokens, at most 1 GiB of int32. */
  static final int SEGMENT_SHIFT = 28;

  private final Path path;
  private final long tokens;
  private final int segmentShift;
  private final ShortBuffer[] shorts;
  private final IntBuffer[] ints;

  /** Set once the file matched its manifest SHA-256 (see {@link ShardVerifier}). */
  volatile boolean verified;

  private ShardFile(
      Path path, long tokens, int segmentShift, ShortBuffer[] shorts, IntBuffer[] ints) {
    this.path = path;
    this.tokens = tokens;
    this.segmentShift = segmentShift;
    this.shorts = shorts;
    this.ints = ints;
  }

  /**
   * Maps {@code path}, which the manifest says holds {@code expectedTokens} tokens of {@code
   * dtype}; any disagreement is a {@link UserError} naming the file.
   */
  static ShardFile open(Path path, NpyDtype dtype, long expectedTokens) {
    return open(path, dtype, expectedTokens, SEGMENT_SHIFT);
  }

  /** As {@link #open(Path, NpyDtype, long)} with 2^segmentShift tokens per mapping (tests). */
  static ShardFile open(Path path, NpyDtype dtype, long expectedTokens, int segmentShift) {
    long segmentTokens = 1L << segmentShift;
    if (!Files.isRegularFile(path)) {
      throw new UserError(
          "shard "
              + path
              + " is listed in the manifest but missing;"
              + " re-run the ingest into this folder to restore it");
    }
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer head = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, head, 0);
      head.flip();
      if (head.remaining() < 10
          || (head.get(0) & 0xff) != 0x93
          || !new String(head.array(), 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
        throw new UserError("shard " + path + " is not an .npy file (bad magic)");
      }
      int major = head.get(6);
      long dataStart;
      long headerLen;
      if (major == 1) {
        headerLen = Short.toUnsignedInt(head.getShort(8));
        dataStart = 10 + headerLen;
      } else if (major == 2 || major == 3) {
        if (head.remaining() < 12) {
          throw new UserError("shard " + path + ": truncated .npy header");
        }
        headerLen = Integer.toUnsignedLong(head.getInt(8));
        dataStart = 12 + headerLen;
      } else {
        throw new UserError("shard " + path + ": unsupported .npy version " + major);
      }
      if (dataStart > size) {
        throw new UserError("shard " + path + ": truncated .npy header (" + size + " bytes)");
      }
      ByteBuffer dict = ByteBuffer.allocate((int) headerLen);
      readFully(ch, dict, dataStart - headerLen);
      String header = new String(dict.array(), 0, dict.position(), StandardCharsets.ISO_8859_1);
      String descr = group(DESCR, header, path);
      if (!descr.equals(dtype.descr())) {
        throw new UserError(
            "shard "
                + path
                + " holds "
                + descr
                + " but the manifest says "
                + dtype.name().toLowerCase(Locale.ROOT)
                + " ("
                + dtype.descr()
                + ")");
      }
      if (!group(ORDER, header, path).equals("False")) {
        throw new UserError("shard " + path + " is in Fortran order");
      }
      long count = Long.parseLong(group(SHAPE, header, path));
      long dataBytes = size - dataStart;
      if (dataBytes != count * dtype.bytesPerToken()) {
        throw new UserError(
            "shard "
                + path
                + " holds "
                + dataBytes
                + " data bytes but its header"
                + " announces "
                + count
                + " tokens ("
                + count * dtype.bytesPerToken()
                + " bytes): truncated or damaged; re-run the ingest");
      }
      if (count != expectedTokens) {
        throw new UserError(
            "shard "
                + path
                + " holds "
                + count
                + " tokens but the manifest"
                + " lists "
                + expectedTokens
                + ": the folder was changed after the ingest");
      }
      int segments = (int) ((count + segmentTokens - 1) >>> segmentShift);
      ShortBuffer[] shorts = dtype == NpyDtype.UINT16 ? new ShortBuffer[segments] : null;
      IntBuffer[] ints = dtype == NpyDtype.INT32 ? new IntBuffer[segments] : null;
      for (int s = 0; s < segments; s++) {
        long first = (long) s << segmentShift;
        long n = Math.min(segmentTokens, count - first);
        MappedByteBuffer m =
            ch.map(
                FileChannel.MapMode.READ_ONLY,
                dataStart + first * dtype.bytesPerToken(),
                n * dtype.bytesPerToken());
        m.order(ByteOrder.LITTLE_ENDIAN);
        if (shorts != null) {
          shorts[s] = m.asShortBuffer();
        } else {
          ints[s] = m.asIntBuffer();
        }
      }
      return new ShardFile(path, count, segmentShift, shorts, ints);
    } catch (IOException e) {
      throw new UserError("cannot read shard " + path + ": " + e.getMessage(), e);
    }
  }

  Path path() {
    return path;
  }

  long tokens() {
    return tokens;
  }

  /** The size of the file on disk, header included (what its SHA-256 covers). */
  long fileBytes() {
    try {
      return Files.size(path);
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * Copies tokens {@code from .. from+len-1} into {@code dst[off..]}; returns how many it copied
   * (fewer than {@code len} only at a segment end).
   */
  int read(long from, int[] dst, int off, int len) {
    int seg = (int) (from >>> segmentShift);
    int at = (int) (from & ((1L << segmentShift) - 1));
    if (shorts != null) {
      ShortBuffer b = shorts[seg];
      int n = Math.min(len, b.limit() - at);
      for (int i = 0; i < n; i++) {
        dst[off + i] = Short.toUnsignedInt(b.get(at + i));
      }
      return n;
    }
    IntBuffer b = ints[seg];
    int n = Math.min(len, b.limit() - at);
    b.get(at, dst, off, n);
    return n;
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        return;
      }
      pos += n;
    }
  }

  private static String group(Pattern p, String header, Path path) {
    Matcher m = p.matcher(header);
    if (!m.find()) {
      throw new UserError(
          "shard "
              + path
              + ": the .npy header is not a one-dimensional array"
              + " ("
              + header.strip()
              + ")");
    }
    return m.group(1);
  }
}
