package org.omnibiote.genbank;

import static org.omnibiote.records.PyText.slice;
import static org.omnibiote.records.PyText.strip;

import java.util.List;
import org.omnibiote.records.PyText;

/**
 * The LOCUS line, read as Biopython 1.80's {@code GenBankScanner._feed_first_line} reads it: the
 * old (pre-2004) and new column layouts, space-separated and truncated variants, and the same
 * refusals. The molecule type comes from the columns of the column layouts only; otherwise it is
 * derived later from the residue type (see {@link RecordBuilder#recordEnd}).
 */
final class LocusLine {
  private static final List<String> UNITS = List.of(" bp ", " aa ", " rc ");
  private static final List<String> TOPOLOGIES = List.of("", "linear", "circular");

  private LocusLine() {}

  /**
   * @param line the LOCUS line as Python holds it: with its trailing "\n" when it had one
   */
  static void feed(String line, RecordBuilder b) throws GenBankFormatException {
    if (!slice(line, 0, 12).equals("LOCUS       ")) {
      throw fail("LOCUS line does not start correctly", line);
    }
    if (UNITS.contains(slice(line, 29, 33)) && slice(line, 55, 62).equals("       ")) {
      oldLayout(line, b);
    } else if (UNITS.contains(slice(line, 40, 44))
        && TOPOLOGIES.contains(strip(slice(line, 54, 64)))) {
      newLayout(line, b);
    } else if (strip(slice(line, 12)).indexOf(' ') < 0) {
      // Truncated LOCUS line as some EMBOSS tools write it: a name only (or nothing).
      if (!strip(slice(line, 12)).isEmpty()) {
        b.locus(strip(slice(line, 12)));
      }
    } else {
      List<String> split = PyText.split(line);
      if (split.size() == 8
          && (split.get(3).equals("aa") || split.get(3).equals("bp"))
          && (split.get(5).equals("linear") || split.get(5).equals("circular"))) {
        b.locus(split.get(1));
        b.size(split.get(2));
        b.residueType(split.get(4));
        b.topology(split.get(5));
      } else if (split.size() == 7 && (split.get(3).equals("aa") || split.get(3).equals("bp"))) {
        b.locus(split.get(1));
        b.size(split.get(2));
        b.residueType(split.get(4));
      } else if (split.size() >= 4 && (split.get(3).equals("aa") || split.get(3).equals("bp"))) {
        b.locus(split.get(1));
        b.size(split.get(2));
      } else if (split.size() >= 4
          && (split.get(split.size() - 1).equals("aa")
              || split.get(split.size() - 1).equals("bp"))) {
        b.locus(strip(rsplitHead(slice(line, 5))));
        b.size(split.get(split.size() - 2));
      } else {
        throw fail("Did not recognise the LOCUS line layout", line);
      }
    }
  }

  private static void oldLayout(String line, RecordBuilder b) throws GenBankFormatException {
    if (!slice(line, 41, 42).equals(" ")) {
      throw fail("LOCUS line does not contain space at position 42", line);
    }
    if (!TOPOLOGIES.contains(strip(slice(line, 42, 51)))) {
      throw fail("LOCUS line does not contain valid entry (linear, circular, ...)", line);
    }
    if (!slice(line, 51, 52).equals(" ")) {
      throw fail("LOCUS line does not contain space at position 52", line);
    }
    if (!strip(slice(line, 62, 73)).isEmpty()) {
      if (!slice(line, 64, 65).equals("-")) {
        throw fail("LOCUS line does not contain - at position 65 in date", line);
      }
      if (!slice(line, 68, 69).equals("-")) {
        throw fail("LOCUS line does not contain - at position 69 in date", line);
      }
    }
    String[] nameAndLength = nameAndLength(slice(line, 12, 29), line);
    b.locus(nameAndLength[0]);
    b.size(nameAndLength[1]);
    if (strip(slice(line, 33, 51)).isEmpty() && slice(line, 29, 33).equals(" aa ")) {
      b.residueType("PROTEIN");
    } else {
      b.residueType(strip(slice(line, 33, 51)));
    }
    b.moleculeType(strip(slice(line, 33, 41)));
    b.topology(strip(slice(line, 42, 51)));
  }

  private static void newLayout(String line, RecordBuilder b) throws GenBankFormatException {
    if (line.length() < 79) {
      // JBEI-style line without division and date: Biopython pads it and warns.
      line = line + " ".repeat(79 - line.length());
    }
    String strand = slice(line, 44, 47);
    if (!(strand.equals("   ")
        || strand.equals("ss-")
        || strand.equals("ds-")
        || strand.equals("ms-"))) {
      throw fail("LOCUS line does not have valid strand type (Single stranded, ...)", line);
    }
    String type = strip(slice(line, 47, 54));
    String upper = type.toUpperCase(java.util.Locale.ROOT);
    if (!(type.isEmpty() || upper.contains("DNA") || upper.contains("RNA"))) {
      throw fail("LOCUS line does not contain valid sequence type (DNA, RNA, ...)", line);
    }
    if (!slice(line, 54, 55).equals(" ")) {
      throw fail("LOCUS line does not contain space at position 55", line);
    }
    if (!TOPOLOGIES.contains(strip(slice(line, 55, 63)))) {
      throw fail("LOCUS line does not contain valid entry (linear, circular, ...)", line);
    }
    if (!slice(line, 63, 64).equals(" ")) {
      throw fail("LOCUS line does not contain space at position 64", line);
    }
    if (!slice(line, 67, 68).equals(" ")) {
      throw fail("LOCUS line does not contain space at position 68", line);
    }
    if (!strip(slice(line, 68, 79)).isEmpty()) {
      if (!slice(line, 70, 71).equals("-")) {
        throw fail("LOCUS line does not contain - at position 71 in date", line);
      }
      if (!slice(line, 74, 75).equals("-")) {
        throw fail("LOCUS line does not contain - at position 75 in date", line);
      }
    }
    String[] nameAndLength = nameAndLength(slice(line, 12, 40), line);
    b.locus(nameAndLength[0]);
    b.size(nameAndLength[1]);
    if (strip(slice(line, 44, 54)).isEmpty() && slice(line, 40, 44).equals(" aa ")) {
      b.residueType(strip("PROTEIN " + slice(line, 54, 63)));
    } else {
      b.residueType(strip(slice(line, 44, 63)));
    }
    b.moleculeType(strip(slice(line, 44, 54)));
    b.topology(strip(slice(line, 55, 63)));
  }

  private static String[] nameAndLength(String field, String line) throws GenBankFormatException {
    List<String> parts = PyText.split(PyText.collapseSpaces(field), " ");
    if (parts.size() > 2) {
      throw fail("Cannot parse the name and length in the LOCUS line", line);
    }
    if (parts.size() == 1) {
      throw fail("Name and length collide in the LOCUS line", line);
    }
    return new String[] {parts.get(0), parts.get(1)};
  }

  /** {@code s.rsplit(None, 2)[0]}: what is left after cutting the last two words off. */
  private static String rsplitHead(String s) {
    int end = s.length();
    for (int word = 0; word < 2; word++) {
      while (end > 0 && PyText.isSpace(s.charAt(end - 1))) {
        end--;
      }
      while (end > 0 && !PyText.isSpace(s.charAt(end - 1))) {
        end--;
      }
    }
    while (end > 0 && PyText.isSpace(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end);
  }

  private static GenBankFormatException fail(String what, String line) {
    return new GenBankFormatException(what + ": " + PyText.rstrip(line));
  }
}
