package org.omnibiote.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.shards.Dataset;

/**
 * Folders are searched by content as well as by name: the real files of ../shared/data whose names
 * say nothing (titin_hum.aa, PAX8_HUMAN, easel-formats/genbank) are found, and what is left out is
 * summed up in one line grouped by reason.
 */
class InputsByContentTest {
  @TempDir Path dir;

  private static Map<String, InputFile> byName(List<InputFile> files) {
    return files.stream()
        .collect(Collectors.toMap(f -> TestData.shared().relativize(f.path()).toString(), f -> f));
  }

  @Test
  void quickstartsFolderScanFindsFilesWhoseNamesSayNothingByTheirContent() {
    Inputs.Scan scan = Inputs.scanFolder(TestData.shared().resolve("data"));
    Map<String, InputFile> found = byName(scan.files());
    InputFile titin = found.get("data/deb-fasta3_36.3.8i.14-Nov-2020-1/seq/titin_hum.aa");
    InputFile pax8 = found.get("data/deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN");
    InputFile easel = found.get("data/deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank");
    InputFile withParts =
        found.get("data/deb-python-biopython-doc_1.80+dfsg-4/GenBank/NP_416719.gbwithparts");
    assertEquals(SeqFormat.FASTA, titin.format());
    assertEquals(Dataset.UNIREF100, titin.dataset());
    assertEquals(SeqFormat.FASTA, pax8.format());
    assertEquals(SeqFormat.GENBANK, easel.format());
    assertEquals(Dataset.GENBANK, easel.dataset());
    assertEquals(SeqFormat.GENBANK, withParts.format());
    // Files named the usual way are still found, with the format their content has.
    assertEquals(
        SeqFormat.GENBANK,
        found.get("data/deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq").format());
    // What is neither: the CSVs, the JSON, the provenance notes; nothing else.
    List<Path> neither = scan.skipped().get("neither GenBank nor FASTA by content or name");
    assertEquals(
        List.of(
            "MANIFEST.tsv",
            "PROVENANCE.md",
            "dev.csv",
            "pronab_no_mutations.json",
            "test.csv",
            "train.csv"),
        neither.stream().map(p -> p.getFileName().toString()).sorted().toList());
    assertEquals(1, scan.skipped().size(), "" + scan.skipped());
  }

  @Test
  void theSkippedFilesAreSummedUpInOneLineByReason() {
    Inputs.Scan scan = Inputs.scanFolder(TestData.shared().resolve("data"));
    String line = scan.summary();
    assertFalse(line.contains("\n"), line);
    assertTrue(
        line.startsWith(
            "skipped 6 files: 6 neither GenBank nor FASTA by content or name (MANIFEST.tsv,"
                + " PROVENANCE.md, "),
        line);
    assertTrue(line.endsWith(" and 3 more)"), line);
  }

  @Test
  void aGenbankFolderTakesGenBankByContentAndNamesTheFastaItLeavesOut() {
    Path data = TestData.shared().resolve("data");
    Inputs.Scan scan = Inputs.scan(List.of(data), List.of(data.resolve("gh-facebookresearch-esm")));
    Map<String, InputFile> found = byName(scan.files());
    assertEquals(
        Dataset.GENBANK,
        found.get("data/deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank.2").dataset());
    // The --uniref folder's FASTA is taken there, so it is not reported as skipped.
    assertEquals(
        Dataset.UNIREF100, found.get("data/gh-facebookresearch-esm/P62593.fasta").dataset());
    List<String> fastaLeftOut =
        scan.skipped().get("FASTA in a --genbank folder, give them to --uniref").stream()
            .map(p -> p.getFileName().toString())
            .toList();
    assertTrue(fastaLeftOut.contains("titin_hum.aa"), "" + fastaLeftOut);
    assertTrue(fastaLeftOut.contains("PAX8_HUMAN"), "" + fastaLeftOut);
    assertFalse(fastaLeftOut.contains("P62593.fasta"), "" + fastaLeftOut);
    assertTrue(scan.summary().contains("FASTA in a --genbank folder, give them to --uniref ("));
  }

  @Test
  void contentWinsOverTheNameAndGzipIsLookedInto() throws IOException {
    // A FASTA file named like GenBank, gzipped: its content decides.
    Path odd = dir.resolve("proteins.gb.gz");
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(odd))) {
      out.write(
          Files.readAllBytes(
              TestData.data("deb-hmmer-examples_3.3.2+dfsg-1/testsuite/PAX8_HUMAN")));
    }
    Files.writeString(dir.resolve("notes.txt"), "nothing here\n");
    Inputs.Scan scan = Inputs.scanFolder(dir);
    assertEquals(1, scan.files().size());
    assertEquals(SeqFormat.FASTA, scan.files().get(0).format());
    assertEquals(
        "skipped 1 file: 1 neither GenBank nor FASTA by content or name (notes.txt)",
        scan.summary());
  }
}
