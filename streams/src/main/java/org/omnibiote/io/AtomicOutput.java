package org.omnibiote.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An output file that appears whole or not at all: bytes go to a temporary file beside the target
 * (same filesystem), which is fsynced and renamed over the target on {@link #commit} (see {@link
 * AtomicFiles}). Closing without commit deletes the temporary file.
 */
public final class AtomicOutput implements AutoCloseable {
  private final Path target;
  private final Path temp;
  private final FileChannel channel;
  private final OutputStream stream;
  private boolean committed;

  public AtomicOutput(Path target) throws IOException {
    this.target = target.toAbsolutePath();
    this.temp = AtomicFiles.createTemp(this.target, this.target.getParent());
    this.channel = FileChannel.open(temp, StandardOpenOption.WRITE);
    this.stream = Channels.newOutputStream(channel);
  }

  public OutputStream stream() {
    return stream;
  }

  /**
   * The temporary file's channel, for positional writes (results that arrive out of order); use
   * either it or {@link #stream()} for sequential writing, not both.
   */
  public FileChannel channel() {
    return channel;
  }

  /** Flushes, fsyncs and renames the temporary file to the target. */
  public void commit() throws IOException {
    stream.flush();
    channel.force(true);
    channel.close();
    AtomicFiles.moveIntoPlace(temp, target);
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
