package org.omnibiote.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Training documents made from the real sequences in $shared/data, by a deliberately tiny test-only
 * extraction (FASTA records; GenBank ORIGIN blocks with the LOCUS molecule type), in the form the
 * ingest writes: {@code <protein>SEQ<EOS>}, {@code <DNA>SEQ<EOS>}.
 */
final class RealTrainingDocuments {
  private static final Pattern LOCUS_TYPE = Pattern.compile("\\s(?:bp|aa)\\s+(\\S+)");

  private RealTrainingDocuments() {}

  static Path shared() {
    String s = System.getProperty("omnibiote.shared");
    if (s == null || !Files.isDirectory(Path.of(s, "data"))) {
      throw new IllegalStateException(
          "system property omnibiote.shared must point at the shared folder with data/ (set by surefire)");
    }
    return Path.of(s);
  }

  /** Proteins of two UniProt FASTA files and the nucleotide records of several GenBank files. */
  static List<String> mixed() {
    Path data = shared().resolve("data");
    List<String> docs = new ArrayList<>();
    docs.addAll(fasta(data.resolve("gh-ahl27-GRarr/UP000000625_83333.fasta")));
    docs.addAll(fasta(data.resolve("deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta")));
    for (String f :
        List.of(
            "deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq",
            "deb-emboss-test_6.6.0+dfsg-12/genbank/gbinv1.seq",
            "deb-emboss-test_6.6.0+dfsg-12/genbank/gbbct1.seq",
            "deb-python-biopython-doc_1.80+dfsg-4/GenBank/ls_orchid.gbk",
            "deb-python-biopython-doc_1.80+dfsg-4/GenBank/NC_000932.gb",
            "deb-python-biopython-doc_1.80+dfsg-4/GenBank/cor6_6.gb",
            "deb-python-biopython-doc_1.80+dfsg-4/GenBank/EU851978.gbk",
            "deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank",
            "gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb")) {
      docs.addAll(genbank(data.resolve(f)));
    }
    return docs;
  }

  static List<String> fasta(Path file) {
    List<String> docs = new ArrayList<>();
    StringBuilder seq = null;
    for (String line : lines(file)) {
      if (line.startsWith(">")) {
        add(docs, "protein", seq);
        seq = new StringBuilder();
      } else if (seq != null) {
        seq.append(line.strip().toUpperCase(Locale.ROOT));
      }
    }
    add(docs, "protein", seq);
    return docs;
  }

  static List<String> genbank(Path file) {
    List<String> docs = new ArrayList<>();
    String type = "DNA";
    StringBuilder seq = null;
    for (String line : lines(file)) {
      if (line.startsWith("LOCUS")) {
        Matcher m = LOCUS_TYPE.matcher(line);
        type = m.find() && m.group(1).matches("[a-z-]*[DR]NA") ? m.group(1) : "DNA";
      } else if (line.startsWith("ORIGIN")) {
        seq = new StringBuilder();
      } else if (line.startsWith("//")) {
        add(docs, type, seq);
        seq = null;
      } else if (seq != null) {
        for (int i = 0; i < line.length(); i++) {
          char c = line.charAt(i);
          if (Character.isLetter(c)) {
            seq.append(Character.toUpperCase(c));
          }
        }
      }
    }
    return docs;
  }

  private static void add(List<String> docs, String tag, StringBuilder seq) {
    if (seq != null && seq.length() > 0) {
      docs.add("<" + tag + ">" + seq + "<EOS>");
    }
  }

  private static List<String> lines(Path file) {
    try {
      return Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
