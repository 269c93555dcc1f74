package org.omnibiote.genbank;

import static org.omnibiote.records.PyText.slice;
import static org.omnibiote.records.PyText.strip;

import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.records.PyText;

/**
 * The header lines between LOCUS and FEATURES, walked as Biopython 1.80's {@code
 * GenBankScanner._feed_header_lines} walks them. Only what decides the record id (ACCESSION,
 * VERSION) is kept; the rest is followed just far enough to raise where Biopython raises (a
 * malformed REFERENCE range, reference fields without a REFERENCE, a malformed structured COMMENT).
 */
final class HeaderLines {
  private static final String SPACER = " ".repeat(12);

  /** Reference fields whose consumer methods dereference the current reference. */
  private static final Set<String> NEED_REFERENCE =
      Set.of("AUTHORS", "CONSRTM", "JOURNAL", "MEDLINE", "PUBMED", "REMARK");

  private static final Set<String> SIMPLE =
      Set.of(
          "DEFINITION",
          "ACCESSION",
          "NID",
          "PID",
          "DBSOURCE",
          "KEYWORDS",
          "SEGMENT",
          "SOURCE",
          "AUTHORS",
          "CONSRTM",
          "PROJECT",
          "TITLE",
          "JOURNAL",
          "MEDLINE",
          "PUBMED",
          "REMARK");
  private static final String SC_START = "-START##";
  private static final String SC_END = "-END##";
  private static final String SC_DELIM = " :: ";
  private static final Pattern SC_KEY = Pattern.compile("([^#]+)" + Pattern.quote(SC_START) + "$");
  private static final Pattern SC_ITEM =
      Pattern.compile("(.+?)\\s*" + Pattern.quote(SC_DELIM) + "\\s*(.+)");

  private HeaderLines() {}

  /**
   * @param rawLines header lines, each already right-stripped
   */
  static void feed(List<String> rawLines, RecordBuilder b) throws GenBankFormatException {
    List<String> lines = rawLines.stream().filter(l -> !l.isEmpty()).toList();
    Cursor it = new Cursor(lines);
    String line = it.next();
    while (!line.isEmpty()) {
      String type = strip(slice(line, 0, 12));
      String data = strip(slice(line, 12));
      switch (type) {
        case "VERSION" -> {
          data = PyText.collapseSpaces(data);
          int gi = data.indexOf(" GI:");
          b.version(gi < 0 ? data : data.substring(0, gi));
          line = it.next();
        }
        case "DBLINK" -> {
          do {
            line = it.next();
          } while (line.startsWith(SPACER));
        }
        case "REFERENCE" -> {
          line = it.next();
          while (line.startsWith(SPACER)) {
            data += " " + slice(line, 12);
            line = it.next();
          }
          data = PyText.collapseSpaces(data);
          b.haveReference = true;
          int space = data.indexOf(' ');
          if (space >= 0) {
            b.referenceBases(data.substring(space + 1));
          }
        }
        case "ORGANISM" -> {
          do {
            line = it.next();
          } while (line.startsWith(SPACER));
        }
        case "COMMENT" -> line = comment(line, it);
        default -> {
          if (SIMPLE.contains(type)) {
            line = it.next();
            while (line.startsWith(SPACER)) {
              data += " " + slice(line, 12);
              line = it.next();
            }
            if (type.equals("ACCESSION")) {
              b.accession(data);
            } else if (NEED_REFERENCE.contains(type) && !b.haveReference) {
              throw new GenBankFormatException(type + " line without a REFERENCE line");
            }
          } else {
            line = it.next();
          }
        }
      }
    }
  }

  /** Walks a COMMENT; Biopython fails on a structured-comment item it cannot match. */
  private static String comment(String first, Cursor it) throws GenBankFormatException {
    String key = null;
    Matcher keyMatch = SC_KEY.matcher(slice(first, 12));
    if (keyMatch.find()) {
      key = keyMatch.group(1);
    }
    while (true) {
      String line = it.next();
      String data = slice(line, 12);
      if (!line.startsWith(SPACER)) {
        return line;
      }
      if (data.contains(SC_START)) {
        Matcher m = SC_KEY.matcher(data);
        if (m.find()) {
          key = m.group(1);
        }
      } else if (key != null && data.contains(SC_DELIM)) {
        Matcher m = SC_ITEM.matcher(data);
        if (!m.find()) {
          throw new GenBankFormatException(
              "Malformed structured comment line: " + PyText.rstrip(line));
        }
      } else if (data.contains(SC_END)) {
        key = null;
      }
    }
  }

  /** Python's {@code next(line_iter)} over the lines plus the "" sentinel. */
  private static final class Cursor {
    private final List<String> lines;
    private int i;

    Cursor(List<String> lines) {
      this.lines = lines;
    }

    String next() {
      return i < lines.size() ? lines.get(i++) : "";
    }
  }
}
