package org.omnibiote.records;

/**
 * What a parser did with one file so far.
 *
 * @param records records returned (documents written)
 * @param skippedNoSequence records with no sequence to write: CONTIG-only (CON) records,
 *     WGS/TSA/TLS masters, and records whose sequence is empty
 * @param problems records (or files) refused and reported as a {@link Problem}
 */
public record ParseCounts(long records, long skippedNoSequence, long problems) {
  public static final ParseCounts ZERO = new ParseCounts(0, 0, 0);

  public ParseCounts plus(ParseCounts other) {
    return new ParseCounts(
        records + other.records,
        skippedNoSequence + other.skippedNoSequence,
        problems + other.problems);
  }
}
