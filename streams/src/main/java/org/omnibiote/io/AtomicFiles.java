package org.omnibiote.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Never a half-written output file: content goes to a temporary file on the same filesystem, is
 * forced to disk, then renamed over the target; the folder is forced too so the rename itself
 * survives a crash. {@link AtomicOutput} streams through the same steps.
 */
public final class AtomicFiles {
  private static final Logger log = LoggerFactory.getLogger(AtomicFiles.class);

  private AtomicFiles() {}

  /** Renames a finished, already forced {@code temp} to {@code target} atomically. */
  public static void moveIntoPlace(Path temp, Path target) throws IOException {
    Path folder = target.toAbsolutePath().getParent();
    Files.createDirectories(folder);
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    forceFolder(folder);
  }

  /** Writes {@code content} to {@code target} through a temp file beside it. */
  public static void write(Path target, byte[] content) throws IOException {
    write(target, content, target.toAbsolutePath().getParent());
  }

  /** Writes {@code content} to {@code target} through a temp file in {@code tempFolder}. */
  public static void write(Path target, byte[] content, Path tempFolder) throws IOException {
    write(createTemp(target, tempFolder), target, content);
  }

  /** As {@link #write(Path, byte[])}, readable and writable by the owner only (0600): secrets. */
  public static void writeOwnerOnly(Path target, byte[] content) throws IOException {
    Path folder = target.toAbsolutePath().getParent();
    Files.createDirectories(folder);
    // createTempFile makes it 0600 (where the file system has POSIX permissions).
    write(Files.createTempFile(folder, "." + target.getFileName() + ".", ".tmp"), target, content);
  }

  private static void write(Path temp, Path target, byte[] content) throws IOException {
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

  /** A new, empty, hidden temporary file for {@code target} in {@code tempFolder}. */
  static Path createTemp(Path target, Path tempFolder) throws IOException {
    Files.createDirectories(tempFolder);
    Path temp = Files.createTempFile(tempFolder, "." + target.getFileName() + ".", ".tmp");
    // createTempFile makes it owner-only (0600); outputs are shared files (shards others
    // read, checkpoints a cluster reads), so give them the usual rw-r--r--.
    if (Files.getFileStore(temp).supportsFileAttributeView(PosixFileAttributeView.class)) {
      Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r--r--"));
    }
    return temp;
  }

  /** Forces a file written by other means (a download's part file) to disk. */
  public static void forceFile(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  /**
   * Makes a rename in {@code folder} durable. Some file systems cannot sync a folder; the rename is
   * still atomic there and the data itself is synced, so that is only logged.
   */
  public static void forceFolder(Path folder) {
    try (FileChannel ch = FileChannel.open(folder, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      log.debug("cannot fsync folder {}: {}", folder, e.toString());
    }
  }
}
