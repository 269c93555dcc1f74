package org.omnibiote.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * An output file that appears whole or not at all: bytes go to a temporary file beside the
 * target (same filesystem), which is fsynced and renamed over the target on {@link #commit}.
 * Closing without commit deletes the temporary file.
 */
public final class AtomicOutput implements AutoCloseable {
  private final Path target;
  private final Path temp;
  private final FileChannel channel;
  private final OutputStream stream;
  private boolean committed;

  public AtomicOutput(Path target) throws IOException {
    this.target = target.toAbsolutePath();
    Path dir = this.target.getParent();
    Files.createDirectories(dir);
    this.temp = Files.createTempFile(dir, "." + this.target.getFileName() + ".", ".tmp");
    this.channel = FileChannel.open(temp, StandardOpenOption.WRITE);
    this.stream = Channels.newOutputStream(channel);
  }

  public OutputStream stream() {
    return stream;
  }

  /** Flushes, fsyncs and renames the temporary file to the target. */
  public void commit() throws IOException {
    stream.flush();
    channel.force(true);
    channel.close();
    try {
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
    }
    committed = true;
  }

  @Override
  public void close() throws IOException {
    if (!committed) {
      channel.close();
      Files.deleteIfExists(temp);
    }
  }
}
