package org.omnibiote.shards;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Never a half-written output file: content goes to a temporary file on the same
 * filesystem, is forced to disk, then renamed over the target; the folder is forced too so
 * the rename itself survives a crash.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Renames a finished, already forced {@code temp} to {@code target} atomically. */
  public static void moveIntoPlace(Path temp, Path target) throws IOException {
    Files.createDirectories(target.getParent());
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    forceFolder(target.getParent());
  }

  /** Writes {@code content} to {@code target} through a temp file in {@code tempFolder}. */
  public static void write(Path target, byte[] content, Path tempFolder) throws IOException {
    Files.createDirectories(tempFolder);
    Path temp = Files.createTempFile(tempFolder, target.getFileName().toString(), ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(content);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      moveIntoPlace(temp, target);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  public static void forceFolder(Path folder) throws IOException {
    try (FileChannel ch = FileChannel.open(folder, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
