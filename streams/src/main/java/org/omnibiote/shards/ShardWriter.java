package org.omnibiote.shards;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SortedMap;
import java.util.TreeMap;
import org.omnibiote.io.AtomicFiles;

/**
 * Streams concatenated documents into one {@code .npy} shard. Tokens go to a temporary file
 * (outside the shard folders, so the trainer never sees it) behind a reserved header; on {@link
 * #finish} the header is rewritten with the final count, the file forced to disk, hashed and
 * renamed into place. Closing an unfinished writer deletes the temporary file. Not thread-safe: one
 * writer belongs to one stream stage.
 */
public final class ShardWriter implements AutoCloseable {
  private static final int BUFFER_BYTES = 1 << 20;

  private final Path temp;
  private final NpyDtype dtype;
  private final FileChannel channel;
  private final ByteBuffer buffer =
      ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private final SortedMap<String, Long> tagDocuments = new TreeMap<>();
  private long tokens;
  private long documents;
  private boolean open = true;

  public ShardWriter(Path temp, NpyDtype dtype) throws IOException {
    this.temp = temp;
    this.dtype = dtype;
    Files.createDirectories(temp.getParent());
    this.channel =
        FileChannel.open(
            temp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE);
    channel.write(ByteBuffer.wrap(NpyHeader.of(dtype, 0)));
  }

  /** Appends one document: the first {@code length} ids of {@code ids}. */
  public void append(int[] ids, int length, String tag) throws IOException {
    for (int i = 0; i < length; i++) {
      if (buffer.remaining() < dtype.bytesPerToken()) {
        drain();
      }
      if (dtype == NpyDtype.UINT16) {
        buffer.putShort((short) ids[i]);
      } else {
        buffer.putInt(ids[i]);
      }
    }
    tokens += length;
    documents++;
    tagDocuments.merge(tag, 1L, Long::sum);
  }

  /** Data bytes written so far (the header excluded). */
  public long dataBytes() {
    return tokens * dtype.bytesPerToken();
  }

  public long documents() {
    return documents;
  }

  /** Completes the file and renames it to {@code target}; the writer is closed after. */
  public FinishedShard finish(Path target) throws IOException {
    drain();
    channel.write(ByteBuffer.wrap(NpyHeader.of(dtype, tokens)), 0);
    channel.force(true);
    channel.close();
    open = false;
    // Hashing the forced file (from the page cache) hashes exactly what the trainer reads;
    // the header comes first but is known only now, so the digest cannot run ahead of it.
    String sha = sha256(temp);
    AtomicFiles.moveIntoPlace(temp, target);
    return new FinishedShard(target, tokens, documents, new TreeMap<>(tagDocuments), sha);
  }

  private void drain() throws IOException {
    buffer.flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
    buffer.clear();
  }

  @Override
  public void close() throws IOException {
    if (open) {
      open = false;
      channel.close();
      Files.deleteIfExists(temp);
    }
  }

  /** SHA-256 of a file, lower-case hex. */
  public static String sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      while (ch.read(buf) >= 0) {
        buf.flip();
        md.update(buf);
        buf.clear();
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
