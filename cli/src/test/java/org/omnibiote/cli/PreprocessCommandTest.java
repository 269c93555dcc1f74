package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.omnibiote.cli.CliRun.run;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The preprocess command on real files: documents, problems on stderr, summary, --strict. */
class PreprocessCommandTest {
  private static final String BIO = "deb-python-biopython-doc_1.80+dfsg-4/GenBank/";

  @TempDir Path tmp;

  private static Path data(String relative) {
    String shared = System.getProperty("omnibiote.shared");
    if (shared == null) {
      fail("set -Domnibiote.shared to the folder holding data/");
    }
    Path p = Path.of(shared, "data", relative);
    assertTrue(Files.isRegularFile(p), "shared data file " + p);
    return p;
  }

  @Test
  void genbankFilesBecomeOneDocumentPerLineWithProblemsReported() throws Exception {
    Path gz = tmp.resolve("cor6_6.gb.gz");
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
      Files.copy(data(BIO + "cor6_6.gb"), o);
    }
    Path bad = data(BIO + "no_origin_no_end.gb");
    Path out = tmp.resolve("docs/genbank.txt");
    CliRun r =
        run(
            "preprocess",
            "--format",
            "genbank",
            "--input",
            gz.toString(),
            data(BIO + "NT_019265.gb").toString(),
            data(BIO + "protein_refseq2.gb").toString(),
            bad.toString(),
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.err());
    List<String> docs = Files.readAllLines(out, StandardCharsets.UTF_8);
    assertEquals(7, docs.size());
    assertTrue(
        docs.get(0).startsWith("<mRNA>AACAAAACACACATCAAAAACGATTTTACAAGAAAAAAATA"), docs.get(0));
    assertTrue(docs.get(1).startsWith("<DNA>"), docs.get(1));
    assertTrue(docs.get(6).startsWith("<protein>MNNRWILHAAF"), docs.get(6));
    docs.forEach(
        d -> {
          String seq = d.substring(d.indexOf('>') + 1, d.length() - "<EOS>".length());
          assertTrue(
              d.endsWith("<EOS>") && seq.equals(seq.toUpperCase(Locale.ROOT)) && !seq.isEmpty(), d);
        });
    assertTrue(
        r.err().contains(bad + ":14 (AB070938): Premature end of line during features" + " table"),
        r.err());
    assertTrue(r.out().contains("7 documents written"), r.out());
    assertTrue(r.out().contains("1 records without sequence skipped"), r.out());
    assertTrue(r.out().contains("1 problems"), r.out());
    assertNoTemporaryFiles(out.getParent());
  }

  @Test
  void formatIsSniffedWhenNotGiven() throws Exception {
    Path out = tmp.resolve("mixed.txt");
    CliRun r =
        run(
            "preprocess",
            "--input",
            data(BIO + "iro.gb").toString(),
            data("deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN").toString(),
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.err());
    List<String> docs = Files.readAllLines(out);
    assertEquals(2, docs.size());
    assertTrue(docs.get(0).startsWith("<mRNA>"));
    assertTrue(docs.get(1).startsWith("<protein>M"));
  }

  @Test
  void strictStopsAtTheFirstProblemAndWritesNothing() throws Exception {
    Path out = tmp.resolve("strict.txt");
    Files.writeString(out, "previous content\n");
    CliRun r =
        run(
            "preprocess",
            "--format",
            "genbank",
            "--strict",
            "--input",
            data(BIO + "cor6_6.gb").toString(),
            data(BIO + "no_origin_no_end.gb").toString(),
            "--output",
            out.toString());
    assertEquals(2, r.exitCode());
    assertTrue(r.err().startsWith("error: " + data(BIO + "no_origin_no_end.gb") + ":14"), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    assertEquals("previous content\n", Files.readString(out), "the old output is untouched");
    assertNoTemporaryFiles(tmp);
  }

  @Test
  void badInputIsAClearError() throws Exception {
    Path out = tmp.resolve("x.txt");
    CliRun missing =
        run("preprocess", "--input", tmp.resolve("nope.gb").toString(), "--output", out.toString());
    assertEquals(2, missing.exitCode());
    assertTrue(missing.err().contains("no such file: " + tmp.resolve("nope.gb")), missing.err());

    CliRun csv =
        run(
            "preprocess",
            "--input",
            data("gh-MAGICS-LAB-DNABERT_2/sample_data/train.csv").toString(),
            "--output",
            out.toString());
    assertEquals(2, csv.exitCode());
    assertTrue(csv.err().contains("not a GenBank or FASTA file"), csv.err());

    CliRun format =
        run(
            "preprocess",
            "--format",
            "embl",
            "--input",
            data(BIO + "iro.gb").toString(),
            "--output",
            out.toString());
    assertEquals(2, format.exitCode());
    assertTrue(format.err().contains("--format must be genbank or fasta"), format.err());
    assertFalse(Files.exists(out));
    assertNoTemporaryFiles(tmp);
  }

  @Test
  void helpDescribesTheCommand() {
    CliRun r = run("preprocess", "--help");
    assertEquals(0, r.exitCode());
    assertTrue(r.out().contains("--strict") && r.out().contains("<molecule_type>SEQUENCE<EOS>"));
  }

  private static void assertNoTemporaryFiles(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(), s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList());
    }
  }
}
