package org.omnibiote.tokenizer;

import java.util.List;

/** Lines that exercise the tokenizer's edge cases (whitespace, unknown characters, pieces). */
public final class EdgeLines {
  private EdgeLines() {}

  public static final List<String> LINES =
      List.of(
          "",
          " ",
          "   <DNA>ACGT<EOS>",
          "<DNA>ACGT<EOS>   ",
          "<DNA>AC  GT   TTGA<EOS>",
          "ACGTACGTNNNN",
          "acgtACGTnnnn",
          "<dna>acgt<eos>",
          "\tACGT\tTT\t",
          "ＡＣＧＴ ＡＢＣ full width",
          "café é ÉCOLE naïve",
          "<DNA><DNA>NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN<EOS><EOS>",
          "<EOS>",
          "<protein>MKVLAAGIVGLLLAX*<EOS>",
          "x<EOS>y<ss-RNA>z",
          "①②③ ﬁ ｶﾞ ㌀ ™",
          "\u200bACGT\u00a0TT",
          "<DNA>ACGU<EOS>\r");
}
