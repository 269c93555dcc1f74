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
}
