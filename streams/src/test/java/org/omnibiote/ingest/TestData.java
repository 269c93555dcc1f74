package org.omnibiote.ingest;

import java.nio.file.Files;
import java.nio.file.Path;

/** The real files of ../shared (tokenizers and data) the tests read in place. */
final class TestData {
  private TestData() {}

  static Path shared() {
    String p = System.getProperty("omnibiote.shared");
    if (p == null || !Files.isDirectory(Path.of(p, "data"))) {
      throw new IllegalStateException(
          "system property omnibiote.shared must point at ../shared (surefire sets it); got " + p);
    }
    return Path.of(p).toAbsolutePath().normalize();
  }

  static Path data(String relative) {
    return shared().resolve("data").resolve(relative);
  }

  static Path tokenizer(String name) {
    return shared().resolve("tokenizers").resolve(name + ".model");
  }
}
