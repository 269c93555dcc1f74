package org.omnibiote.records;

import java.nio.file.Path;

/**
 * A record (or a whole file) the parser refused or had to skip, located so a user can find it:
 * file, 1-based line, and the record's accession when it got that far (else null).
 */
public record Problem(Path file, long line, String recordId, String message) {
  @Override
  public String toString() {
    return file + ":" + line + (recordId == null ? "" : " (" + recordId + ")") + ": " + message;
  }
}
