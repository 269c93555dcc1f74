package org.omnibiote.tokenizer;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.zip.ZipException;
import org.omnibiote.UserError;
import org.omnibiote.io.Compressed;
import org.omnibiote.io.CountingInputStream;

/**
 * Reads document-per-line text files, plain or gzip (recognised by content, not by name), strictly
 * as UTF-8; a missing, unreadable, truncated or non-UTF-8 file is a {@link UserError} naming the
 * file (and line where known).
 */
public final class TrainingDocuments {
  private TrainingDocuments() {}

  /** Checks that every input exists and is a readable file, before any work starts. */
  public static void checkReadable(List<Path> inputs) {
    if (inputs.isEmpty()) {
      throw new UserError("no input files given");
    }
    for (Path p : inputs) {
      if (!Files.exists(p)) {
        throw new UserError("input file " + p + " does not exist");
      }
      if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
        throw new UserError("input " + p + " is not a readable file");
      }
    }
  }

  /** Passes each line of {@code file} to {@code sink}. */
  public static void forEachLine(Path file, Consumer<String> sink) {
    forEachLine(file, sink, bytes -> {});
  }

  /**
   * Passes each line of {@code file} to {@code sink}; after each line, tells {@code fileBytesRead}
   * how many bytes of the file (compressed, if gzip) have been read.
   */
  public static void forEachLine(Path file, Consumer<String> sink, LongConsumer fileBytesRead) {
    long line = 0;
    try (CountingInputStream counted = new CountingInputStream(Files.newInputStream(file));
        BufferedReader reader =
            new BufferedReader(
                new InputStreamReader(
                    Compressed.decompressed(counted),
                    StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)),
                1 << 16)) {
      String s;
      while ((s = reader.readLine()) != null) {
        line++;
        sink.accept(s);
        fileBytesRead.accept(counted.count());
      }
    } catch (NoSuchFileException e) {
      throw new UserError("input file " + file + " does not exist", e);
    } catch (EOFException e) {
      throw new UserError(
          file + " is truncated (gzip stream ends early after line " + line + ")", e);
    } catch (ZipException e) {
      throw new UserError(
          file + " is a corrupt gzip file (after line " + line + "): " + e.getMessage(), e);
    } catch (CharacterCodingException e) {
      throw new UserError(file + " line " + (line + 1) + " is not valid UTF-8 text", e);
    } catch (IOException e) {
      throw new UserError("cannot read " + file + " (after line " + line + "): " + e, e);
    }
  }
}
