package org.omnibiote.genbank;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.omnibiote.records.LineReader;
import org.omnibiote.records.LineRecordSource;
import org.omnibiote.records.Problem;
import org.omnibiote.records.PyText;
import org.omnibiote.records.SeqRecord;

/**
 * Streams the records of a GenBank/GenPept flat file (a release {@code .seq} with its header, or
 * any number of LOCUS ... // records) as Biopython 1.80's {@code SeqIO.parse(handle, "genbank")}
 * reads them: the same record boundaries, ids, {@code molecule_type} and sequence, and a {@link
 * Problem} wherever Biopython raises. After a problem, parsing resumes at the next LOCUS line
 * (Biopython would stop the file).
 *
 * <p>Only the current record is held, its sequence as one byte per residue. Sequence lines are
 * copied from the read buffer in one loop, never through a String.
 */
public final class GenBankParser extends LineRecordSource {
  private static final String RECORD_START = "LOCUS       ";
  private static final Set<String> SEQUENCE_HEADERS =
      Set.of("CONTIG", "ORIGIN", "BASE COUNT", "WGS", "TSA", "TLS");
  private static final String FEATURES_SHORT = "FEATURES";
  private static final String FEATURES_LONG = "FEATURES             Location/Qualifiers";
  private static final int QUALIFIER_INDENT = 21;

  private final RecordBuilder rec = new RecordBuilder();
  private final FeatureChecker feature = new FeatureChecker();

  /** The reader's current line is still to be looked at by findStart (Python's self.line). */
  private boolean pending;

  private long recordLine;

  public GenBankParser(
      Path file,
      LineReader in,
      LongSupplier bytesRead,
      Consumer<Problem> problems,
      boolean strict) {
    super(file, in, bytesRead, problems, strict);
  }

  @Override
  public SeqRecord next() throws IOException {
    while (findStart()) {
      recordLine = in.lineNumber();
      rec.reset();
      try {
        SeqRecord r = parseRecord();
        if (r != null) {
          return counted(r);
        }
        countSkippedNoSequence();
      } catch (GenBankFormatException e) {
        report(e.getMessage());
      } catch (CharacterCodingException e) {
        report("line " + in.lineNumber() + " is not valid UTF-8 text (Biopython reads UTF-8)");
      }
    }
    return null;
  }

  private void report(String message) {
    report(new Problem(file, in.lineNumber(), rec.label(), message));
    // Resume at the next LOCUS line; the line that failed may itself start the next record,
    // unless it is this record's own LOCUS line.
    pending = !in.atEnd() && in.lineNumber() != recordLine;
  }

  /** Python's find_start: skips anything (release header, blank lines, //) up to LOCUS. */
  private boolean findStart() throws IOException {
    while (true) {
      if (pending) {
        pending = false;
      } else if (!in.next()) {
        return false;
      }
      if (in.startsWith(RECORD_START)) {
        return true;
      }
      if (in.nonAscii()) {
        checkSkippedLineText();
      }
    }
  }

  /** Python decodes the lines it skips too: invalid UTF-8 between records fails there. */
  private void checkSkippedLineText() {
    try {
      in.text();
    } catch (CharacterCodingException e) {
      report(
          new Problem(
              file,
              in.lineNumber(),
              null,
              "line " + in.lineNumber() + " is not valid UTF-8 text (Biopython reads UTF-8)"));
    }
  }

  private SeqRecord parseRecord() throws IOException, GenBankFormatException {
    LocusLine.feed(in.text() + (in.terminated() ? "\n" : ""), rec);

    // parse_header: up to FEATURES or a sequence section header.
    List<String> header = new ArrayList<>();
    String stop;
    while (true) {
      if (!in.next()) {
        throw new GenBankFormatException("Premature end of line during sequence data");
      }
      String line = PyText.rstrip(in.text());
      if (line.equals(FEATURES_LONG) || line.equals(FEATURES_SHORT)) {
        stop = line;
        break;
      }
      if (SEQUENCE_HEADERS.contains(PyText.rstrip(PyText.slice(line, 0, 12)))) {
        stop = line;
        break;
      }
      if (line.equals("//")) {
        throw new GenBankFormatException("Premature end of sequence data marker '//' found");
      }
      header.add(line);
    }
    HeaderLines.feed(header, rec);

    if (stop.equals(FEATURES_LONG) || stop.equals(FEATURES_SHORT)) {
      features();
    }
    List<String> misc = footer();
    MiscLines.feed(misc);
    rec.recordEnd();

    if (rec.sequenceUndefined() || rec.sequence.length() == 0) {
      return null;
    }
    if (rec.moleculeType == null) {
      throw new GenBankFormatException(
          "no molecule type: the LOCUS line gives none (Biopython sets no molecule_type)");
    }
    return new SeqRecord(rec.id, rec.moleculeType, rec.sequence.toSequence(), file, recordLine);
  }

  /** parse_features: leaves the reader on the first sequence-section line. */
  private void features() throws IOException, GenBankFormatException {
    boolean have;
    do {
      have = in.next();
    } while (have && isFeaturesMarker());
    while (true) {
      if (in.atEnd()) {
        throw new GenBankFormatException("Premature end of line during features table");
      }
      if (isSequenceHeader()) {
        return;
      }
      if (in.nonAscii()) {
        in.text(); // Python decodes every line: invalid UTF-8 fails there
      }
      byte[] b = in.buffer();
      int s = in.start();
      int e = rstrip(b, s, in.end());
      int len = e - s;
      if (len == 2 && b[s] == '/' && b[s + 1] == '/') {
        throw new GenBankFormatException("Premature end of features table, marker '//' found");
      }
      if (isBlank(b, Math.min(s + 2, e), Math.min(s + QUALIFIER_INDENT, e))) {
        in.next();
        continue; // an empty line between features
      }
      if (len < QUALIFIER_INDENT) {
        in.next();
        continue; // Biopython warns "line too short to contain a feature" and skips it
      }
      if (len == QUALIFIER_INDENT) {
        throw new GenBankFormatException(
            "string index out of range (feature line of 21 characters)");
      }
      if (b[s + QUALIFIER_INDENT] != ' ' && indexOf(b, s + QUALIFIER_INDENT, e, (byte) ' ') >= 0) {
        // Over-indented key: the key is the first word, the location the rest.
        int k = s + 2;
        while (isSpace(b[k])) {
          k++;
        }
        int ke = k;
        while (!isSpace(b[ke])) {
          ke++;
        }
        feature.start(
            new String(b, k, ke - k, StandardCharsets.UTF_8), rec.expectedSize, rec.circular);
        featureLine(b, ke, e);
      } else {
        feature.start(
            new String(b, s + 2, QUALIFIER_INDENT - 2, StandardCharsets.UTF_8).strip(),
            rec.expectedSize,
            rec.circular);
        featureLine(b, s + QUALIFIER_INDENT, e);
      }
      while (in.next() && (startsWithSpaces(QUALIFIER_INDENT) || isBlankLine())) {
        if (in.nonAscii()) {
          in.text();
        }
        byte[] c = in.buffer();
        int from = Math.min(in.start() + QUALIFIER_INDENT, in.end());
        featureLine(c, from, in.end());
      }
      feature.end();
    }
  }

  private void featureLine(byte[] b, int from, int to) throws GenBankFormatException {
    while (from < to && isSpace(b[from])) {
      from++;
    }
    to = rstrip(b, from, to);
    if (from < to) {
      feature.line(b, from, to);
    }
  }

  /**
   * parse_footer: the misc lines (ORIGIN, CONTIG, BASE COUNT, WGS ...), then the sequence lines up
   * to //. Returns the misc lines, right-stripped.
   */
  private List<String> footer() throws IOException, GenBankFormatException {
    List<String> misc = new ArrayList<>();
    // The reader is on the line that stopped the header or the features (a section header).
    while (isSequenceHeader() || startsWithSpaces(12) || in.startsWith("WGS")) {
      misc.add(PyText.rstrip(in.text()));
      if (!in.next()) {
        throw new GenBankFormatException("Premature end of file");
      }
    }
    while (true) {
      if (in.atEnd()) {
        return misc; // Biopython warns "Premature end of file in sequence data" and accepts
      }
      byte[] b = in.buffer();
      int s = in.start();
      int e = rstrip(b, s, in.end());
      int len = e - s;
      if (len == 0) {
        in.next(); // "Blank line in sequence data": a warning
        continue;
      }
      if (len == 2 && b[s] == '/' && b[s + 1] == '/') {
        return misc;
      }
      if (in.startsWith("CONTIG")) {
        // Biopython ends the sequence here, then fails its check that the record ended on //.
        throw new GenBankFormatException("CONTIG line after the sequence data (no // before it)");
      }
      if (in.nonAscii()) {
        sequenceLineText();
      } else {
        if (len > 9 && b[s + 9] != ' ') {
          // "Invalid indentation for sequence line": Biopython drops one leading character.
          s++;
          len--;
          if (len > 9 && b[s + 9] != ' ') {
            throw new GenBankFormatException(
                "Sequence line mal-formed, '" + PyText.rstrip(in.text()).substring(1) + "'");
          }
        }
        if (len > 10) {
          rec.sequence.appendGenBankLine(b, s + 10, e);
        }
      }
      in.next();
    }
  }

  /** The same sequence line rules on decoded text, where columns are characters. */
  private void sequenceLineText() throws CharacterCodingException, GenBankFormatException {
    String line = PyText.rstrip(in.text());
    if (line.length() > 9 && line.charAt(9) != ' ') {
      line = line.substring(1);
      if (line.length() > 9 && line.charAt(9) != ' ') {
        throw new GenBankFormatException("Sequence line mal-formed, '" + line + "'");
      }
    }
    byte[] bytes = PyText.slice(line, 10).getBytes(StandardCharsets.UTF_8);
    rec.sequence.append(bytes, 0, bytes.length);
  }

  private boolean isFeaturesMarker() throws CharacterCodingException {
    String line = PyText.rstrip(in.text());
    return line.equals(FEATURES_LONG) || line.equals(FEATURES_SHORT);
  }

  /** {@code line[:12].rstrip() in SEQUENCE_HEADERS}. */
  private boolean isSequenceHeader() {
    if (in.atEnd()) {
      return false;
    }
    byte[] b = in.buffer();
    int s = in.start();
    int e = rstrip(b, s, Math.min(in.end(), s + 12));
    int n = e - s;
    if (n < 3 || n > 10) {
      return false;
    }
    String head = new String(b, s, n, StandardCharsets.ISO_8859_1);
    return SEQUENCE_HEADERS.contains(head);
  }

  private boolean startsWithSpaces(int n) {
    if (in.length() < n) {
      return false;
    }
    byte[] b = in.buffer();
    int s = in.start();
    for (int i = 0; i < n; i++) {
      if (b[s + i] != ' ') {
        return false;
      }
    }
    return true;
  }

  private boolean isBlankLine() {
    return isBlank(in.buffer(), in.start(), in.end());
  }

  private static boolean isBlank(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (!isSpace(b[i])) {
        return false;
      }
    }
    return true;
  }

  private static int rstrip(byte[] b, int from, int to) {
    while (to > from && isSpace(b[to - 1])) {
      to--;
    }
    return to;
  }

  private static int indexOf(byte[] b, int from, int to, byte c) {
    for (int i = from; i < to; i++) {
      if (b[i] == c) {
        return i;
      }
    }
    return -1;
  }

  private static boolean isSpace(byte c) {
    return PyText.isSpaceByte(c);
  }
}
