package org.omnibiote.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Line splitting as Python's universal newlines, whatever the read sizes. */
class LineReaderTest {

  /** Hands out at most a few bytes per read, so every line end falls across refills. */
  private static final class Trickle extends InputStream {
    private final byte[] data;
    private int pos;
    private int turn;

    Trickle(byte[] data) {
      this.data = data;
    }

    @Override
    public int read() {
      return pos < data.length ? data[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (pos >= data.length) {
        return -1;
      }
      int n = Math.min(Math.min(len, 1 + (turn++ % 13)), data.length - pos);
      System.arraycopy(data, pos, b, off, n);
      pos += n;
      return n;
    }
  }

  private static List<String> read(InputStream in) throws IOException {
    List<String> lines = new ArrayList<>();
    LineReader r = new LineReader(in);
    while (r.next()) {
      lines.add(new String(r.buffer(), r.start(), r.length(), StandardCharsets.ISO_8859_1));
      assertEquals(lines.size(), r.lineNumber());
    }
    assertTrue(r.atEnd());
    assertFalse(r.next());
    return lines;
  }

  /** The lines Python's text mode gives (newline=None), terminators dropped. */
  private static List<String> python(String text) {
    List<String> out = new ArrayList<>(Arrays.asList(text.split("\r\n|\r|\n", -1)));
    if (out.get(out.size() - 1).isEmpty()) {
      out.remove(out.size() - 1);
    }
    return out;
  }

  @Test
  @SuppressWarnings("StringSplitter") // the file's final newline must not add an empty line
  void mixedLineEndsSplitAsPythonUniversalNewlines() throws Exception {
    String real =
        Files.readString(
            SharedData.file("deb-python-biopython-doc_1.80+dfsg-4/GenBank/cor6_6.gb"),
            StandardCharsets.ISO_8859_1);
    StringBuilder mixed = new StringBuilder();
    String[] ends = {"\n", "\r\n", "\r", "\r\r\n", "\n\r"};
    int k = 0;
    for (String line : real.split("\n")) {
      mixed.append(line).append(ends[k++ % ends.length]);
    }
    mixed.append("no terminator at the end");
    String text = mixed.toString();
    byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
    assertEquals(python(text), read(new ByteArrayInputStream(bytes)));
    assertEquals(python(text), read(new Trickle(bytes)));
  }

  @Test
  void linesLongerThanTheBufferGrowIt() throws Exception {
    String longLine = "ACGT".repeat(100_000);
    String text = ">x\n" + longLine + "\r\n" + longLine + "\n";
    assertEquals(
        List.of(">x", longLine, longLine),
        read(new Trickle(text.getBytes(StandardCharsets.ISO_8859_1))));
  }

  @Test
  void nonAsciiLinesAreFlaggedAndDecodedAsUtf8() throws Exception {
    byte[] bytes = "plain\nd\u00e9j\u00e0 vu\n\u00ff\n".getBytes(StandardCharsets.UTF_8);
    bytes[bytes.length - 2] = (byte) 0xff; // not UTF-8
    LineReader r = new LineReader(new ByteArrayInputStream(bytes));
    assertTrue(r.next());
    assertFalse(r.nonAscii());
    assertTrue(r.next());
    assertTrue(r.nonAscii());
    assertEquals("d\u00e9j\u00e0 vu", r.text());
    assertTrue(r.next());
    assertTrue(r.nonAscii());
    org.junit.jupiter.api.Assertions.assertThrows(
        java.nio.charset.CharacterCodingException.class, r::text);
  }
}
