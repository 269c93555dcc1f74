package org.omnibiote.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputFilesTest {
  @TempDir Path dir;

  private Path file(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text, StandardCharsets.ISO_8859_1);
  }

  @Test
  void identicalFilesHaveOneShaAndNoDifferingLine() throws IOException {
    OutputFiles.Comparison c =
        OutputFiles.compare(
            file("a", "<DNA>ACGT<EOS>\n<RNA>U<EOS>\n"), file("b", "<DNA>ACGT<EOS>\n<RNA>U<EOS>\n"));
    assertTrue(c.identical());
    assertEquals(2, c.lines());
    assertEquals(27, c.bytes());
    assertEquals(c.sha256A(), c.sha256B());
    // sha256 of the empty file, to pin the encoding of the digest.
    assertEquals(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        OutputFiles.sha256(file("empty", "")));
  }

  @Test
  void aDifferenceIsNamedByLineAndByteWithTheTextAroundIt() throws IOException {
    String longSeq = "A".repeat(100);
    OutputFiles.Comparison c =
        OutputFiles.compare(
            file("a", "<DNA>AC<EOS>\n<DNA>" + longSeq + "C" + longSeq + "<EOS>\n"),
            file("b", "<DNA>AC<EOS>\n<DNA>" + longSeq + "G" + longSeq + "<EOS>\n"));
    assertFalse(c.identical());
    assertNotEquals(c.sha256A(), c.sha256B());
    assertEquals(2, c.differingLine());
    assertEquals(106, c.column());
    assertEquals("..." + "A".repeat(20) + "C" + "A".repeat(39) + "...", c.excerptA());
    assertEquals("..." + "A".repeat(20) + "G" + "A".repeat(39) + "...", c.excerptB());
  }

  @Test
  void aMissingLineShowsAsTheEndOfTheFile() throws IOException {
    OutputFiles.Comparison c = OutputFiles.compare(file("a", "1 2\n3\n"), file("b", "1 2\n"));
    assertEquals(2, c.differingLine());
    assertEquals(1, c.column());
    assertEquals("3\\n", c.excerptA());
    assertEquals("(end of file)", c.excerptB());
  }
}
