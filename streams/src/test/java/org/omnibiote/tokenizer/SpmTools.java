package org.omnibiote.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs Debian's SentencePiece command-line tools; fails (never skips) when they are missing. */
final class SpmTools {
  private SpmTools() {}

  /** Runs {@code command} with {@code stdin} as input; returns stdout's lines. */
  static List<String> run(Path stdin, String... command) throws IOException, InterruptedException {
    require(command[0]);
    Path out = Files.createTempFile("spm-out", ".txt");
    Path err = Files.createTempFile("spm-err", ".txt");
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectInput(stdin.toFile())
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
      if (!p.waitFor(5, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        fail(String.join(" ", command) + " did not finish within 5 minutes");
      }
      assertEquals(0, p.exitValue(), () -> String.join(" ", command) + " failed: " + read(err));
      return Files.readAllLines(out, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  @SuppressWarnings("StringSplitter") // as before, an empty last PATH entry is not searched
  static void require(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return;
      }
    }
    fail(
        tool
            + " is not installed: this test compares with SentencePiece's own tools;"
            + " install them with `apt-get install -y sentencepiece` (Debian/Ubuntu)");
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      return "(no stderr: " + e + ")";
    }
  }
}
