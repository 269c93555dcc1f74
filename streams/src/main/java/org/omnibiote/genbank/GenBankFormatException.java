package org.omnibiote.genbank;

/**
 * A record Biopython's GenBank parser refuses (it raises ValueError, AssertionError or a similar
 * error there); the parser reports it as a Problem and moves on to the next record.
 */
final class GenBankFormatException extends Exception {
  GenBankFormatException(String message) {
    super(message, null, false, false);
  }
}
