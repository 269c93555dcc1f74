package org.omnibiote.finetune;

/**
 * One labelled input of a fine-tuning task: where it came from ({@code id}, e.g. {@code
 * train.csv:12} or a ProNAB protein and measurement), the group it must stay with in
 * cross-validation (the protein), the token ids the model sees, and its label (a class index for
 * classification, a value for regression). A per-residue task's example has {@code residues}
 * instead of one label: a label per residue and per token.
 */
public record Example(String id, String group, int[] tokens, double label, Residues residues) {

  /** A sequence-level example. */
  public Example(String id, String group, int[] tokens, double label) {
    this(id, group, tokens, label, null);
  }

  /**
   * The per-residue labels of a sequence and how they reach the tokens.
   *
   * @param sequence the residues, one letter each
   * @param labels per residue its label, NaN where it has none
   * @param tokenOf per residue the position in {@code tokens} of the token that covers it, -1 when
   *     that token was cut off by the maximum length
   * @param tokenLabels per token position the label it is trained and scored on (the most frequent
   *     class, or the mean value, of the labelled residues it covers), NaN for the tag, EOS and
   *     tokens without a labelled residue
   */
  public record Residues(String sequence, double[] labels, int[] tokenOf, double[] tokenLabels) {

    /** Tokens with a label. */
    public int labelledTokens() {
      int n = 0;
      for (double v : tokenLabels) {
        n += Double.isNaN(v) ? 0 : 1;
      }
      return n;
    }
  }
}
