package org.omnibiote.fasta;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.omnibiote.records.LineReader;
import org.omnibiote.records.LineRecordSource;
import org.omnibiote.records.Problem;
import org.omnibiote.records.PyText;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.records.SequenceBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams a (UniProt/UniRef100) FASTA file as Biopython 1.80's {@code SeqIO.parse(handle, "fasta")}
 * reads it: text before the first {@code >} is ignored (logged), the id is the title's first word,
 * each sequence line loses its trailing whitespace and every space, and the sequence is
 * upper-cased. Every record is a protein. A record with an empty sequence (Biopython yields it) is
 * skipped and counted.
 */
public final class FastaParser extends LineRecordSource {
  private static final Logger log = LoggerFactory.getLogger(FastaParser.class);
  public static final String MOLECULE_TYPE = "protein";

  private final SequenceBuffer sequence = new SequenceBuffer();

  private boolean started;

  public FastaParser(
      Path file,
      LineReader in,
      LongSupplier bytesRead,
      Consumer<Problem> problems,
      boolean strict) {
    super(file, in, bytesRead, problems, strict);
  }

  @Override
  public SeqRecord next() throws IOException {
    if (!started) {
      started = true;
      long preamble = 0;
      while (in.next() && !isTitle()) {
        preamble++;
      }
      if (preamble > 0 && !in.atEnd()) {
        log.warn("{}: ignored {} line(s) before the first '>' (as Biopython does)", file, preamble);
      }
    }
    while (!in.atEnd()) {
      long titleLine = in.lineNumber();
      String id;
      try {
        id = firstWord(PyText.rstrip(in.text().substring(1)));
      } catch (CharacterCodingException e) {
        id = null;
      }
      sequence.clear();
      boolean badText = id == null;
      while (in.next() && !isTitle()) {
        if (in.nonAscii()) {
          try {
            in.text();
          } catch (CharacterCodingException e) {
            badText = true;
          }
        }
        byte[] b = in.buffer();
        int s = in.start();
        int e = in.end();
        while (e > s && PyText.isSpaceByte(b[e - 1])) {
          e--;
        }
        sequence.append(b, s, e);
      }
      if (badText) {
        report(titleLine, id, "not valid UTF-8 text (Biopython reads UTF-8)");
        continue;
      }
      if (sequence.length() == 0) {
        countSkippedNoSequence();
        continue;
      }
      String seq;
      try {
        seq = sequence.toSequence();
      } catch (CharacterCodingException e) {
        report(titleLine, id, "sequence is not valid UTF-8 text");
        continue;
      }
      return counted(new SeqRecord(id, MOLECULE_TYPE, seq, file, titleLine));
    }
    return null;
  }

  private boolean isTitle() {
    return in.length() > 0 && in.at(0) == '>';
  }

  /** {@code title.split(None, 1)[0]}, or "" for an empty title. */
  private static String firstWord(String title) {
    var words = PyText.split(title);
    return words.isEmpty() ? "" : words.get(0);
  }

  private void report(long line, String id, String message) {
    report(new Problem(file, line, id, message));
  }
}
