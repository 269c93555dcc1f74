package org.omnibiote.records;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.omnibiote.UserError;

/**
 * What every flat-file parser shares: the file and its lines, the byte count for progress, the
 * tally of records, records without sequence and problems, and the problem rule (a {@link
 * UserError} under --strict, else the problem sink).
 */
public abstract class LineRecordSource implements RecordSource {
  protected final Path file;
  protected final LineReader in;
  private final LongSupplier bytesRead;
  private final Consumer<Problem> problems;
  private final boolean strict;

  private long records;
  private long skippedNoSequence;
  private long problemCount;

  protected LineRecordSource(
      Path file,
      LineReader in,
      LongSupplier bytesRead,
      Consumer<Problem> problems,
      boolean strict) {
    this.file = file;
    this.in = in;
    this.bytesRead = bytesRead;
    this.problems = problems;
    this.strict = strict;
  }

  /** Counts {@code r} as returned; returns it. */
  protected final SeqRecord counted(SeqRecord r) {
    records++;
    return r;
  }

  /** Counts a record skipped because it has no sequence. */
  protected final void countSkippedNoSequence() {
    skippedNoSequence++;
  }

  /** Counts a problem; throws it under --strict, else hands it to the problem sink. */
  protected final void report(Problem p) {
    problemCount++;
    if (strict) {
      throw new UserError(p.toString());
    }
    problems.accept(p);
  }

  @Override
  public final long bytesRead() {
    return bytesRead.getAsLong();
  }

  @Override
  public final ParseCounts counts() {
    return new ParseCounts(records, skippedNoSequence, problemCount);
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
