package org.omnibiote.records;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The real files of ../shared/data (surefire passes their place as omnibiote.shared). */
public final class SharedData {
  private SharedData() {}

  public static Path dir() {
    String shared = System.getProperty("omnibiote.shared");
    if (shared == null || !Files.isDirectory(Path.of(shared, "data"))) {
      fail(
          "the shared test data is missing: set -Domnibiote.shared=/path/to/shared "
              + "(a folder holding data/), got "
              + shared);
    }
    return Path.of(shared, "data").toAbsolutePath().normalize();
  }

  public static Path file(String relative) {
    Path p = dir().resolve(relative);
    if (!Files.isRegularFile(p)) {
      fail("shared data file missing: " + p);
    }
    return p;
  }

  /** Every regular file under data/, sorted. */
  public static List<Path> allFiles() {
    try (Stream<Path> s = Files.walk(dir())) {
      return s.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
