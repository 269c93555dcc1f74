package org.omnibiote.ingest;

import java.util.concurrent.atomic.AtomicLong;

/** Per input file: what the parse stage saw, read when the file's shards are finished. */
final class FileCounters {
  final AtomicLong records = new AtomicLong();
  final AtomicLong skippedRecords = new AtomicLong();
  final AtomicLong problems = new AtomicLong();
  final AtomicLong bytesRead = new AtomicLong();
}
