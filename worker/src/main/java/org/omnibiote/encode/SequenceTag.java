package org.omnibiote.encode;

/**
 * The tag a FASTA sequence gets when --tag is not given, from its alphabet: only nucleotide letters
 * (ACGTUN and the IUPAC ambiguity codes RYSWKMBDHV, gaps '-' and '.') make {@code <DNA>}, or {@code
 * <RNA>} when it has U and no T; anything else is {@code <protein>}. A short peptide made only of
 * those letters (e.g. "GAVD") reads as DNA: pass --tag then.
 */
public final class SequenceTag {
  public static final String DNA = "<DNA>";
  public static final String RNA = "<RNA>";
  public static final String PROTEIN = "<protein>";

  private static final String NUCLEOTIDE_LETTERS = "ACGTUNRYSWKMBDHV-.";

  private SequenceTag() {}

  /** The tag for an upper-case sequence. */
  public static String of(CharSequence sequence) {
    boolean t = false;
    boolean u = false;
    for (int i = 0; i < sequence.length(); i++) {
      char c = sequence.charAt(i);
      if (NUCLEOTIDE_LETTERS.indexOf(c) < 0) {
        return PROTEIN;
      }
      t |= c == 'T';
      u |= c == 'U';
    }
    return u && !t ? RNA : DNA;
  }

  /** {@code DNA} or {@code <DNA>} as given to --tag, in the bracketed form of the vocabulary. */
  public static String normalise(String flag) {
    String s = flag.strip();
    return s.startsWith("<") && s.endsWith(">") ? s : "<" + s + ">";
  }
}
