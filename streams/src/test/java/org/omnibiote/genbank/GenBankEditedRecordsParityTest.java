package org.omnibiote.genbank;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.records.Biopython;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SharedData;

/**
 * The malformed cases real files do not cover, made by small edits of real records (in a temporary
 * folder) and checked against Biopython like the shared files: where Biopython accepts the edited
 * file we make its documents, where it raises we report a problem.
 */
class GenBankEditedRecordsParityTest {
  private static final String BIO = "deb-python-biopython-doc_1.80+dfsg-4/GenBank/";
  private static final String COR = BIO + "cor6_6.gb";
  private static final String IRO = BIO + "iro.gb";
  private static final String NT = BIO + "NT_019265.gb";
  private static final String PRI = BIO + "pri1.gb";
  private static final String GP = BIO + "protein_refseq2.gb";
  private static final String NC = BIO + "NC_005816.gb";

  @TempDir Path tmp;

  @Test
  void editedRealRecordsParseAsBiopythonParsesThem() throws Exception {
    Map<String, Edit> edits = new LinkedHashMap<>();
    edits.put("no-end-markers", new Edit(COR, t -> t.replace("\n//\n", "\n")));
    edits.put("second-origin-removed", new Edit(COR, t -> replaceNth(t, "ORIGIN      \n", "", 2)));
    edits.put("crlf", new Edit(COR, t -> t.replace("\n", "\r\n")));
    edits.put("lone-cr", new Edit(COR, t -> t.replace("\n", "\r")));
    edits.put("lower-and-upper-case", new Edit(COR, t -> t.replace("aacc", "AaCc")));
    edits.put("ambiguity-codes", new Edit(COR, t -> t.replace("gtcg", "nryk")));
    edits.put(
        "blank-line-in-sequence",
        new Edit(COR, t -> replaceNth(t, "\n       61 ", "\n\n       61 ", 1)));
    edits.put(
        "over-indented-sequence", new Edit(COR, t -> t.replace("\n       61 ", "\n        61 ")));
    edits.put(
        "sequence-indent-two-too-many",
        new Edit(COR, t -> t.replace("\n       61 ", "\n         61 ")));
    edits.put(
        "contig-after-sequence",
        new Edit(
            COR, t -> replaceNth(t, "\n//\n", "\nCONTIG      join(X55053.1:1..513)\n//\n", 1)));
    edits.put(
        "contig-then-junk",
        new Edit(
            NT,
            t -> t.replaceFirst("\nCONTIG      (.*)\n", "\nCONTIG      $1\nJUNK        here\n")));
    edits.put(
        "contig-without-locus-size",
        new Edit(NT, t -> t.replaceFirst("LOCUS .*\n", "LOCUS       NT_019265\n")));
    edits.put(
        "truncated-in-sequence",
        new Edit(COR, t -> t.substring(0, t.indexOf("      121 ", t.indexOf("ORIGIN")))));
    edits.put(
        "truncated-in-features",
        new Edit(COR, t -> t.substring(0, t.indexOf("/db_xref", t.indexOf("FEATURES")))));
    edits.put("truncated-in-header", new Edit(COR, t -> t.substring(0, t.indexOf("JOURNAL"))));
    edits.put(
        "end-marker-in-header", new Edit(COR, t -> replaceNth(t, "COMMENT ", "//\nCOMMENT ", 1)));
    edits.put(
        "end-marker-in-features",
        new Edit(COR, t -> replaceNth(t, "     CDS ", "//\n     CDS ", 1)));
    edits.put("unclosed-quote", new Edit(IRO, t -> cutLastQuote(t)));
    edits.put(
        "continuation-after-pseudo",
        new Edit(
            COR,
            t ->
                replaceNth(
                    t,
                    "                     /strain=\"Columbia\"\n",
                    "                     /pseudo\n                     Columbia\n",
                    1)));
    edits.put(
        "location-never-closed",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "     source          1..513\n", "     source          join(1..100,\n")));
    edits.put(
        "feature-line-21-chars",
        new Edit(
            COR, t -> t.replaceFirst("     source          1..513\n", "     source         1\n")));
    edits.put(
        "short-feature-line",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "     source          1..513\n",
                    "     source\n                     1..513\n")));
    edits.put(
        "over-indented-feature-key",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "     source          1..513\n", "     source_feature_keyX 1..513\n")));
    edits.put(
        "authors-without-reference",
        new Edit(IRO, t -> t.replaceFirst("REFERENCE   1 [^\n]*\n", "")));
    edits.put(
        "reference-range-reversed",
        new Edit(COR, t -> t.replaceFirst("\\(bases 1 to 513\\)", "(bases 513 to 1)")));
    edits.put(
        "reference-range-unclosed",
        new Edit(COR, t -> t.replaceFirst("\\(bases 1 to 513\\)", "(bases 1 to 513")));
    edits.put(
        "reference-sites", new Edit(COR, t -> t.replaceFirst("\\(bases 1 to 513\\)", "(sites)")));
    edits.put(
        "reference-odd", new Edit(COR, t -> t.replaceFirst("\\(bases 1 to 513\\)", "(whatever)")));
    edits.put(
        "empty-accession",
        new Edit(COR, t -> t.replaceFirst("ACCESSION   X55053\n", "ACCESSION\n")));
    edits.put(
        "no-accession-no-version",
        new Edit(
            COR, t -> t.replaceFirst("ACCESSION   X55053\nVERSION     X55053.1  GI:16229\n", "")));
    edits.put(
        "version-differs",
        new Edit(COR, t -> t.replaceFirst("VERSION     X55053.1", "VERSION     Y00001.7")));
    edits.put(
        "version-without-number",
        new Edit(COR, t -> t.replaceFirst("VERSION     X55053.1", "VERSION     X55053")));
    edits.put(
        "two-accessions",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "ACCESSION   X55053\n", "ACCESSION   X55053; X00002\n            X00003\n")));
    edits.put(
        "locus-name-only",
        new Edit(COR, t -> t.replaceFirst("LOCUS .*\n", "LOCUS       ATCOR66M\n")));
    edits.put("locus-empty", new Edit(COR, t -> t.replaceFirst("LOCUS .*\n", "LOCUS       \n")));
    edits.put(
        "locus-unrecognised",
        new Edit(COR, t -> t.replaceFirst("LOCUS .*\n", "LOCUS       ATCOR66M is a record\n")));
    edits.put("locus-bad-date", new Edit(COR, t -> t.replaceFirst("02-MAR-1992", "02/MAR/1992")));
    edits.put(
        "locus-bad-size",
        new Edit(COR, t -> t.replaceFirst("ATCOR66M      513 bp", "ATCOR66M      5x3 bp")));
    edits.put(
        "locus-name-collides",
        new Edit(COR, t -> t.replaceFirst("ATCOR66M      513 bp", "ATCOR66M123456789 bp")));
    edits.put(
        "locus-old-type-xyz",
        new Edit(COR, t -> t.replaceFirst("513 bp    mRNA    ", "513 bp    XYZ     ")));
    edits.put(
        "locus-old-type-blank",
        new Edit(COR, t -> t.replaceFirst("513 bp    mRNA    ", "513 bp            ")));
    edits.put(
        "locus-old-type-lower",
        new Edit(COR, t -> t.replaceFirst("513 bp    mRNA    ", "513 bp    mrna    ")));
    edits.put(
        "locus-space-separated",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "LOCUS .*\n", "LOCUS       ATCOR66M 513 bp mRNA linear PLN 02-MAR-1992\n")));
    edits.put(
        "locus-ensembl",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "LOCUS .*\n", "LOCUS       ATCOR66M 513 bp mRNA PLN 02-MAR-1992\n")));
    edits.put(
        "locus-emboss-overflow",
        new Edit(
            COR, t -> t.replaceFirst("LOCUS .*\n", "LOCUS       ATCOR66M 513 bp x y z w v u\n")));
    edits.put(
        "locus-size-last",
        new Edit(
            COR, t -> t.replaceFirst("LOCUS .*\n", "LOCUS       RNA5 complete thing 513 bp\n")));
    edits.put(
        "locus-new-circular-type",
        new Edit(
            NC, t -> t.replaceFirst("9609 bp    DNA     circular", "9609 bp    DNA     circul  ")));
    edits.put(
        "locus-new-strand-xx",
        new Edit(NC, t -> t.replaceFirst("9609 bp    DNA ", "9609 bp xx-DNA ")));
    edits.put(
        "locus-new-type-protein",
        new Edit(NC, t -> t.replaceFirst("9609 bp    DNA ", "9609 bp    PRT ")));
    edits.put(
        "locus-new-ss-trna",
        new Edit(NC, t -> t.replaceFirst("9609 bp    DNA ", "9609 bp ss-tRNA")));
    edits.put(
        "locus-new-truncated", new Edit(NC, t -> t.replaceFirst("(LOCUS .*circular).*\n", "$1\n")));
    edits.put(
        "locus-genpept-prt",
        new Edit(GP, t -> t.replaceFirst("182 aa            linear", "182 aa    PRT     linear")));
    edits.put(
        "locus-genpept-no-topology",
        new Edit(GP, t -> t.replaceFirst("182 aa            linear", "182 aa                  ")));
    edits.put("locus-old-rc", new Edit(PRI, t -> t.replaceFirst(" bp    DNA ", " rc    DNA ")));
    edits.put(
        "base-count-line",
        new Edit(
            COR,
            t ->
                replaceNth(
                    t,
                    "ORIGIN      \n",
                    "BASE COUNT      100 a    200 c    100 g    113 t\nORIGIN      \n",
                    1)));
    edits.put(
        "structured-comment",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "COMMENT     Cor6.6 homologous to KIN1.[^\n]*\n",
                    "COMMENT     ##Assembly-Data-START##\n            Assembly Method :: Newbler v. 2.3\n            continued value\n            ##Assembly-Data-END##\n")));
    edits.put(
        "structured-comment-bad-item",
        new Edit(
            COR,
            t ->
                t.replaceFirst(
                    "COMMENT     Cor6.6 homologous to KIN1.[^\n]*\n",
                    "COMMENT     ##Assembly-Data-START##\n             :: Newbler\n")));
    edits.put(
        "utf8-in-definition",
        new Edit(COR, t -> t.replaceFirst("A.thaliana cor6.6", "A.thaliana \u00c3\u00a9 cor6.6")));
    edits.put(
        "latin1-in-definition",
        new Edit(COR, t -> t.replaceFirst("A.thaliana cor6.6", "A.thaliana \u00e9 cor6.6")));
    edits.put(
        "latin1-between-records",
        new Edit(COR, t -> replaceNth(t, "\n//\n", "\n//\nd\u00e9j\u00e0\n", 3)));
    edits.put(
        "junk-between-records",
        new Edit(COR, t -> replaceNth(t, "\n//\n", "\n//\nthis is not a record\n\n", 2)));
    edits.put("tab-in-sequence", new Edit(COR, t -> t.replace("\n       61 ", "\n       61\t")));
    edits.put(
        "loc-complement-unclosed",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n", "     source          complement(1..10)x\n")));
    edits.put(
        "loc-join-empty",
        new Edit(
            COR, t -> t.replace("     source          1..513\n", "     source          join()\n")));
    edits.put(
        "loc-location-partial-match",
        new Edit(
            COR, t -> t.replace("     source          1..513\n", "     source          1..2x\n")));
    edits.put(
        "loc-location-words",
        new Edit(
            COR, t -> t.replace("     source          1..513\n", "     source          abc\n")));
    edits.put(
        "loc-one-of-malformed",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n", "     source          one-of(1,,2)..10\n")));
    edits.put(
        "loc-location-reversed-linear",
        new Edit(
            COR,
            t -> t.replace("     source          1..513\n", "     source          200..100\n")));
    edits.put(
        "loc-join-with-junk",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n", "     source          join(1..10,abc)\n")));
    edits.put(
        "loc-join-trailing-comma",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n",
                    "     source          join(1..10,20..30,)\n")));
    edits.put(
        "loc-join-junk-trailing-comma",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n", "     source          join(1..10,abc,)\n")));
    edits.put(
        "loc-order-of-join",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n",
                    "     source          order(1..10,join(2..3))\n")));
    edits.put(
        "loc-double-complement",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n",
                    "     source          complement(join(1..10,complement(20..30)))\n")));
    edits.put(
        "loc-between-ok",
        new Edit(
            COR, t -> t.replace("     source          1..513\n", "     source          5^6\n")));
    edits.put(
        "loc-between-bad",
        new Edit(
            COR, t -> t.replace("     source          1..513\n", "     source          5^9\n")));
    edits.put(
        "loc-bond",
        new Edit(
            COR,
            t -> t.replace("     source          1..513\n", "     source          bond(5)\n")));
    edits.put(
        "loc-within-and-one-of",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n",
                    "     source          (1.5)..one-of(20,30)\n")));
    edits.put(
        "loc-negative-start",
        new Edit(
            COR, t -> t.replace("     source          1..513\n", "     source          -5..10\n")));
    edits.put(
        "loc-reference-location",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n", "     source          X55053.1:1..513\n")));
    edits.put(
        "loc-replace-location",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n", "     source          replace(266,\"c\")\n")));
    edits.put(
        "loc-wrapped-location",
        new Edit(
            COR,
            t ->
                t.replace(
                    "     source          1..513\n",
                    "     source          join(1..10,\n                     20..30)\n")));
    edits.put(
        "loc-circular-wrap",
        new Edit(
            NC,
            t -> t.replace("     source          1..9609\n", "     source          9000..100\n")));
    edits.put(
        "loc-circular-wrap-beyond-length",
        new Edit(
            NC,
            t -> t.replace("     source          1..9609\n", "     source          10000..100\n")));
    edits.put(
        "loc-circular-wrap-negative-end",
        new Edit(
            NC,
            t -> t.replace("     source          1..9609\n", "     source          9000..-5\n")));

    List<Path> files = new ArrayList<>();
    for (Map.Entry<String, Edit> e : edits.entrySet()) {
      Path src = SharedData.file(e.getValue().source());
      String text = Files.readString(src, StandardCharsets.ISO_8859_1);
      String edited = e.getValue().change().apply(text);
      assertNotEquals(
          text.length() + ":" + text.hashCode(),
          edited.length() + ":" + edited.hashCode(),
          e.getKey() + ": the edit changed the file");
      Path f = tmp.resolve(e.getKey() + ".gb");
      Files.writeString(f, edited, StandardCharsets.ISO_8859_1);
      files.add(f);
    }
    Map<Path, Biopython.Outcome> bio = Biopython.parse("genbank", files);
    long refused = bio.values().stream().filter(o -> !o.ok()).count();
    List<Executable> checks = new ArrayList<>();
    for (Path f : files) {
      checks.add(() -> ParityCheck.check(f, bio.get(f), SeqFormat.GENBANK));
    }
    assertAll(checks);
    // The edits exercise both sides: many are refused, many accepted (with warnings).
    assertEquals(true, refused >= 15 && refused <= files.size() - 15, "refused: " + refused);
  }

  private record Edit(String source, UnaryOperator<String> change) {}

  private static String replaceNth(String text, String what, String with, int n) {
    int at = -1;
    for (int i = 0; i < n; i++) {
      at = text.indexOf(what, at + 1);
      if (at < 0) {
        return text;
      }
    }
    return text.substring(0, at) + with + text.substring(at + what.length());
  }

  /** Drops the closing quote of the record's last quoted qualifier. */
  private static String cutLastQuote(String text) {
    int origin = text.indexOf("\nORIGIN");
    int quote = text.lastIndexOf("\"\n", origin);
    return text.substring(0, quote) + text.substring(quote + 1);
  }
}
