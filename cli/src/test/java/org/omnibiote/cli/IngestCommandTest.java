package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;
import static org.omnibiote.cli.CliRun.shared;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ingest command line: bad input is one "error:" line and exit code 2, before any work. */
class IngestCommandTest {
  @TempDir Path dir;

  @Test
  void aTokenizerFileThatIsNotASentencePieceModelIsRefusedWithoutAStackTrace() {
    Path notAModel = shared().resolve("data/gh-facebookresearch-esm/some_proteins.fasta");
    Path output = dir.resolve("out");
    CliRun r =
        run(
            "ingest",
            "--tokenizer",
            notAModel.toString(),
            "--uniref",
            notAModel.toString(),
            "--output",
            output.toString());
    String err = r.err();
    assertEquals(2, r.exitCode(), err);
    assertTrue(err.startsWith("error: "), err);
    assertTrue(err.contains(notAModel.toString()), err);
    assertFalse(err.contains("\tat "), "no stack trace: " + err);
    assertFalse(Files.exists(output), "refused before any work");
  }

  @Test
  void ingestWritesTheTrainersLayoutAndARunOnAnOtherTokenizersFolderIsRefused() {
    Path output = dir.resolve("shards");
    String sars = shared().resolve("data/gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb").toString();
    String proteins =
        shared().resolve("data/deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta").toString();
    CliRun r =
        run(
            "ingest",
            "--tokenizer",
            shared().resolve("tokenizers/mixed_bpe.model").toString(),
            "--genbank",
            sars,
            "--uniref",
            proteins,
            "--output",
            output.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(Files.isRegularFile(output.resolve("manifest.json")));
    for (String folder :
        new String[] {"genbank/train", "genbank/val", "uniref100/train", "uniref100/val"}) {
      assertTrue(Files.isDirectory(output.resolve(folder)), folder);
    }
    CliRun again =
        run(
            "ingest",
            "--tokenizer",
            shared().resolve("tokenizers/peptide_bpe.model").toString(),
            "--uniref",
            proteins,
            "--output",
            output.toString());
    assertEquals(2, again.exitCode());
    assertTrue(again.err().startsWith("error: " + output), again.err());
    assertTrue(again.err().contains("another tokenizer"), again.err());
  }

  @Test
  void ingestWithoutInputsIsAUserError() {
    CliRun r =
        run(
            "ingest",
            "--tokenizer",
            shared().resolve("tokenizers/mixed_bpe.model").toString(),
            "--output",
            dir.toString());
    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("--genbank"), r.err());
  }

  @Test
  void ingestHasHelp() {
    CliRun r = run("ingest", "--help");
    assertEquals(0, r.exitCode());
    String help = r.out();
    for (String flag :
        new String[] {
          "--tokenizer",
          "--genbank",
          "--uniref",
          "--output",
          "--strict",
          "--val-fraction",
          "--shard-size"
        }) {
      assertTrue(help.contains(flag), flag + " in " + help);
    }
  }

  @Test
  void foldersAreSearchedByContentAndWhatIsSkippedIsOneLine() {
    Path hmmer = shared().resolve("data/deb-hmmer-examples_3.3.2+dfsg-1");
    Path csvs = shared().resolve("data/gh-MAGICS-LAB-DNABERT_2");
    Path output = dir.resolve("by-content");
    CliRun r =
        run(
            "ingest",
            "--tokenizer",
            shared().resolve("tokenizers/mixed_bpe.model").toString(),
            "--genbank",
            hmmer.toString(),
            csvs.toString(),
            "--uniref",
            hmmer.toString(),
            "--output",
            output.toString());
    assertEquals(0, r.exitCode(), r.err());
    java.util.List<String> skipped =
        r.err().lines().filter(l -> l.contains("skipped") && l.contains("file")).toList();
    assertEquals(
        java.util.List.of(
            "skipped 3 files: 3 neither GenBank nor FASTA by content or name (dev.csv, test.csv,"
                + " train.csv)"),
        skipped.stream().map(l -> l.substring(l.indexOf("skipped"))).toList(),
        r.err());
    // easel-formats/genbank (GenBank, no extension) and PAX8_HUMAN (FASTA) were ingested.
    String manifest = readString(output.resolve("manifest.json"));
    assertTrue(manifest.contains("easel-formats/genbank\""), manifest);
    assertTrue(manifest.contains("PAX8_HUMAN\""), manifest);
  }

  private static String readString(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
