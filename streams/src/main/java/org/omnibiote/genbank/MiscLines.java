package org.omnibiote.genbank;

import java.util.List;

/**
 * The lines between the features and the sequence (ORIGIN, BASE COUNT, CONTIG, WGS, TSA, TLS),
 * checked as Biopython 1.80's {@code GenBankScanner._feed_misc_lines} does: a CONTIG location
 * continues on indented lines and may be followed by ORIGIN, nothing else.
 */
final class MiscLines {
  private static final String SPACER = " ".repeat(12);

  private MiscLines() {}

  /**
   * @param lines right-stripped lines, in file order
   */
  static void feed(List<String> lines) throws GenBankFormatException {
    int i = 0;
    int n = lines.size();
    while (i < n) {
      String line = lines.get(i++);
      if (!line.startsWith("CONTIG")) {
        continue;
      }
      while (true) {
        String next = i < n ? lines.get(i++) : "";
        if (next.isEmpty() || next.startsWith("ORIGIN")) {
          break;
        }
        if (!next.startsWith(SPACER)) {
          throw new GenBankFormatException("Expected CONTIG continuation line, got: " + next);
        }
      }
    }
  }
}
