package org.omnibiote.records;

import java.io.IOException;

/**
 * A pull-based stream of records from one file. Skippable problems go to the problem sink given
 * when the source was opened; a problem that ends the file (truncated gzip, or any problem under
 * --strict) is thrown as a {@link org.omnibiote.UserError} naming file and line.
 */
public interface RecordSource extends AutoCloseable {

  /** The next record, or null at the end of the file. */
  SeqRecord next() throws IOException;

  /** Bytes of the (compressed) file consumed so far, for progress and MB/s. */
  long bytesRead();

  /** Records returned, records skipped for want of a sequence, and problems, so far. */
  ParseCounts counts();

  @Override
  void close() throws IOException;
}
