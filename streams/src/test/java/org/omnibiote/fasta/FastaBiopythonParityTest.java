package org.omnibiote.fasta;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.records.Biopython;
import org.omnibiote.records.Parsed;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SharedData;

/**
 * The FASTA files of ../shared/data (and edited copies with the odd cases: text before the first
 * '>', empty records, an empty title, lower case, CRLF) read by us and by Biopython 1.80's {@code
 * SeqIO.parse(path, "fasta")}: the same documents and ids; records Biopython yields with an empty
 * sequence are the ones we skip and count.
 */
class FastaBiopythonParityTest {
  private static final List<String> SHARED =
      List.of(
          "gh-ahl27-GRarr/UP000000625_83333.fasta",
          "deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta",
          "deb-fasta3_36.3.8i.14-Nov-2020-1/seq/titin_hum.aa",
          "gh-facebookresearch-esm/some_proteins.fasta",
          "gh-facebookresearch-esm/P62593.fasta",
          "deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN",
          "deb-python-biopython-doc_1.80+dfsg-4/Fasta/multi_ex.fasta");

  @TempDir Path tmp;

  @Test
  void fastaFilesGiveBiopythonsDocuments() throws Exception {
    List<Path> files = new ArrayList<>();
    SHARED.forEach(f -> files.add(SharedData.file(f)));
    String multi = Files.readString(files.get(6), StandardCharsets.ISO_8859_1);
    files.add(write("preamble.fasta", "# a comment\n\nnot a record\n" + multi));
    files.add(write("empty-records.fasta", ">empty1\n>empty2 has a title\n\n" + multi + ">\n"));
    files.add(write("lower-case-crlf.fasta", multi.toLowerCase(Locale.ROOT).replace("\n", "\r\n")));
    files.add(
        write("spaces-in-sequence.fasta", multi.replace("\nM", "\nM  ").replace("A\n", "A \t\n")));
    files.add(write("no-record.fasta", "just text\n"));

    Map<Path, Biopython.Outcome> bio = Biopython.parse("fasta", files);
    List<Executable> checks = new ArrayList<>();
    for (Path f : files) {
      checks.add(
          () -> {
            Biopython.Outcome o = bio.get(f);
            assertTrue(o.ok(), f + ": " + o.error());
            Parsed ours = Parsed.of(f, SeqFormat.FASTA);
            assertEquals(o.documents(), ours.documents(), f + ": documents");
            assertEquals(o.documentIds(), ours.ids(), f + ": ids");
            assertEquals(o.count("skip"), ours.counts().skippedNoSequence(), f + ": empty records");
            assertTrue(ours.problems().isEmpty(), f + ": " + ours.problems());
          });
    }
    assertAll(checks);
    long proteome = bio.get(files.get(0)).documents().size();
    assertEquals(4352, proteome, "E. coli proteome records");
    assertEquals(3, bio.get(files.get(8)).count("skip"), "empty records in the edited file");
  }

  private Path write(String name, String text) throws Exception {
    Path f = tmp.resolve(name);
    Files.writeString(f, text, StandardCharsets.ISO_8859_1);
    return f;
  }
}
