package org.omnibiote.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.sources.RecordSources;

/** Opening plain and gzip files (by content, not name), broken gzip, format sniffing. */
class RecordSourcesTest {
  private static final String CORE = "deb-python-biopython-doc_1.80+dfsg-4/GenBank/cor6_6.gb";
  private static final String PRI = "deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq";
  private static final String PROTEOME = "gh-ahl27-GRarr/UP000000625_83333.fasta";

  @TempDir Path tmp;

  @Test
  void gzipInputGivesTheSameRecordsWhateverTheFileIsCalled() throws Exception {
    Path plain = SharedData.file(PRI);
    Path gz = gzip(plain, "gbpri1.seq.gz");
    Path misnamed = gzip(plain, "gbpri1.txt");
    Parsed expected = Parsed.of(plain, SeqFormat.GENBANK);
    assertEquals(18, expected.records().size());
    assertEquals(expected.documents(), Parsed.of(gz, SeqFormat.GENBANK).documents());
    assertEquals(expected.documents(), Parsed.of(misnamed, SeqFormat.GENBANK).documents());

    Path fasta = gzip(SharedData.file(PROTEOME), "proteome.fa.gz");
    assertEquals(
        Parsed.of(SharedData.file(PROTEOME), SeqFormat.FASTA).documents(),
        Parsed.of(fasta, SeqFormat.FASTA).documents());
  }

  @Test
  void concatenatedGzipMembersAreReadToTheEnd() throws Exception {
    String bio = "deb-python-biopython-doc_1.80+dfsg-4/GenBank/";
    Path a = gzip(SharedData.file(bio + "cor6_6.gb"), "a.gz");
    Path b = gzip(SharedData.file(bio + "iro.gb"), "b.gz");
    Path both = tmp.resolve("both.gb.gz");
    Files.write(both, Files.readAllBytes(a));
    Files.write(both, Files.readAllBytes(b), java.nio.file.StandardOpenOption.APPEND);
    Parsed p = Parsed.of(both, SeqFormat.GENBANK);
    assertEquals(
        List.of(
            "X55053.1",
            "X62281.1",
            "M81224.1",
            "AJ237582.1",
            "L31939.1",
            "AF297471.1",
            "AL109817.1"),
        p.ids());
  }

  @Test
  void bytesReadCountsTheCompressedFile() throws Exception {
    Path gz = gzip(SharedData.file(PRI), "gbpri1.seq.gz");
    try (RecordSource src = RecordSources.open(gz, SeqFormat.GENBANK, p -> {}, false)) {
      while (src.next() != null) {
        // read it all
      }
      assertEquals(Files.size(gz), src.bytesRead());
    }
  }

  @Test
  void truncatedGzipIsAnErrorNamingTheFile() throws Exception {
    Path gz = gzip(SharedData.file(PRI), "gbpri1.seq.gz");
    byte[] all = Files.readAllBytes(gz);
    Path cut = tmp.resolve("cut.seq.gz");
    Files.write(cut, Arrays.copyOf(all, all.length / 2));
    UserError e = assertThrows(UserError.class, () -> Parsed.of(cut, SeqFormat.GENBANK));
    assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());

    Path noTrailer = tmp.resolve("no-trailer.seq.gz");
    Files.write(noTrailer, Arrays.copyOf(all, all.length - 4));
    UserError e2 = assertThrows(UserError.class, () -> Parsed.of(noTrailer, SeqFormat.GENBANK));
    assertTrue(e2.getMessage().contains(noTrailer.toString()), e2.getMessage());
  }

  @Test
  void corruptGzipIsAnErrorNamingTheFile() throws Exception {
    byte[] all = Files.readAllBytes(gzip(SharedData.file(CORE), "c.gz"));
    for (int i = 20; i < all.length - 8; i += 7) {
      all[i] ^= 0x5a;
    }
    Path bad = tmp.resolve("corrupt.gb.gz");
    Files.write(bad, all);
    UserError e = assertThrows(UserError.class, () -> Parsed.of(bad, SeqFormat.GENBANK));
    assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
  }

  @Test
  void sniffTellsGenBankFromFastaByContent() throws Exception {
    List<String> genbank =
        List.of(
            CORE,
            PRI,
            "deb-python-biopython-doc_1.80+dfsg-4/GenBank/gbvrl1_start.seq",
            "deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank",
            "deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank.2",
            "deb-python-biopython-doc_1.80+dfsg-4/GenBank/1MRR_A.gp");
    for (String f : genbank) {
      assertEquals(SeqFormat.GENBANK, RecordSources.sniff(SharedData.file(f)), f);
    }
    List<String> fasta =
        List.of(
            PROTEOME,
            "deb-fasta3_36.3.8i.14-Nov-2020-1/seq/titin_hum.aa",
            "deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN");
    for (String f : fasta) {
      assertEquals(SeqFormat.FASTA, RecordSources.sniff(SharedData.file(f)), f);
    }
    assertEquals(SeqFormat.GENBANK, RecordSources.sniff(gzip(SharedData.file(CORE), "x.dat")));
    assertEquals(SeqFormat.FASTA, RecordSources.sniff(gzip(SharedData.file(PROTEOME), "y.dat")));
  }

  @Test
  void sniffRefusesOtherFilesNamingThem() {
    Path csv = SharedData.file("gh-MAGICS-LAB-DNABERT_2/sample_data/train.csv");
    UserError e = assertThrows(UserError.class, () -> RecordSources.sniff(csv));
    assertTrue(e.getMessage().startsWith("not a GenBank or FASTA file: " + csv), e.getMessage());
    Path missing = tmp.resolve("missing.gb");
    UserError e2 = assertThrows(UserError.class, () -> RecordSources.sniff(missing));
    assertTrue(e2.getMessage().contains(missing.toString()), e2.getMessage());
  }

  @Test
  void recordsWithoutSequenceAreSkippedAndCounted() throws Exception {
    String bio = "deb-python-biopython-doc_1.80+dfsg-4/GenBank/";
    for (String f :
        List.of("NT_019265.gb", "DS830848.gb", "tsa_acropora.gb", "tls_KDHP01000000.gb")) {
      Parsed p = Parsed.of(SharedData.file(bio + f), SeqFormat.GENBANK);
      assertEquals(new ParseCounts(0, 1, 0), p.counts(), f);
    }
    // A file of them all, plus real records: counts add up per file.
    Path mixed = tmp.resolve("mixed.gb");
    try (OutputStream out = Files.newOutputStream(mixed)) {
      for (String f :
          List.of(
              "NT_019265.gb", "cor6_6.gb", "tsa_acropora.gb", "iro.gb", "no_origin_no_end.gb")) {
        out.write(Files.readAllBytes(SharedData.file(bio + f)));
      }
    }
    List<Problem> problems = new ArrayList<>();
    try (RecordSource src = RecordSources.open(mixed, SeqFormat.GENBANK, problems::add, false)) {
      while (src.next() != null) {
        // count
      }
      assertEquals(new ParseCounts(7, 2, 1), src.counts());
    }
    assertEquals(1, problems.size());
    assertEquals("Premature end of line during features table", problems.get(0).message());
    assertTrue(problems.get(0).line() > 300, "problem line " + problems.get(0).line());
  }

  @Test
  void strictModeStopsAtTheFirstProblem() {
    Path bad = SharedData.file("deb-python-biopython-doc_1.80+dfsg-4/GenBank/no_origin_no_end.gb");
    UserError e =
        assertThrows(
            UserError.class,
            () -> {
              try (RecordSource src = RecordSources.open(bad, SeqFormat.GENBANK, p -> {}, true)) {
                src.next();
              }
            });
    assertTrue(e.getMessage().startsWith(bad + ":"), e.getMessage());
    assertTrue(e.getMessage().contains("Premature end of line during features table"));
  }

  private Path gzip(Path src, String name) throws Exception {
    Path out = tmp.resolve(name);
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(out))) {
      Files.copy(src, o);
    }
    return out;
  }
}
