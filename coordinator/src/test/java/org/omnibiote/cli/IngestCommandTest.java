package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ingest command line: bad input is one "error:" line and exit code 2, before any work. */
class IngestCommandTest {
  @TempDir Path dir;

  static Path shared() {
    return Path.of(System.getProperty("omnibiote.shared")).toAbsolutePath().normalize();
  }

  /** Runs Main with stdout and stderr captured: {exit code, out, err}. */
  static Object[] execute(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true));
      System.setErr(new PrintStream(e, true));
      int rc = Main.execute(args);
      return new Object[] {rc, o.toString(), e.toString()};
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  @Test
  void aTokenizerFileThatIsNotASentencePieceModelIsRefusedWithoutAStackTrace() {
    Path notAModel = shared().resolve("data/gh-facebookresearch-esm/some_proteins.fasta");
    Path output = dir.resolve("out");
    Object[] r =
        execute("ingest", "--tokenizer", notAModel.toString(),
            "--uniref", notAModel.toString(), "--output", output.toString());
    String err = (String) r[2];
    assertEquals(2, r[0], err);
    assertTrue(err.startsWith("error: "), err);
    assertTrue(err.contains(notAModel.toString()), err);
    assertFalse(err.contains("\tat "), "no stack trace: " + err);
    assertFalse(Files.exists(output), "refused before any work");
  }

  @Test
  void ingestWritesTheTrainersLayoutAndARunOnAnOtherTokenizersFolderIsRefused() {
    Path output = dir.resolve("shards");
    String sars = shared().resolve("data/gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb").toString();
    String proteins = shared().resolve("data/deb-mmseqs2-examples_14-7e284+ds-1/QUERY.fasta").toString();
    Object[] r =
        execute("ingest", "--tokenizer", shared().resolve("tokenizers/mixed_bpe.model").toString(),
            "--genbank", sars, "--uniref", proteins, "--output", output.toString());
    assertEquals(0, r[0], (String) r[2]);
    assertTrue(Files.isRegularFile(output.resolve("manifest.json")));
    for (String folder : new String[] {"genbank/train", "genbank/val", "uniref100/train", "uniref100/val"}) {
      assertTrue(Files.isDirectory(output.resolve(folder)), folder);
    }
    Object[] again =
        execute("ingest", "--tokenizer", shared().resolve("tokenizers/peptide_bpe.model").toString(),
            "--uniref", proteins, "--output", output.toString());
    assertEquals(2, again[0]);
    assertTrue(((String) again[2]).startsWith("error: " + output), (String) again[2]);
    assertTrue(((String) again[2]).contains("another tokenizer"), (String) again[2]);
  }

  @Test
  void ingestWithoutInputsIsAUserError() {
    Object[] r =
        execute("ingest", "--tokenizer", shared().resolve("tokenizers/mixed_bpe.model").toString(),
            "--output", dir.toString());
    assertEquals(2, r[0]);
    assertTrue(((String) r[2]).contains("--genbank"), (String) r[2]);
  }

  @Test
  void ingestHasHelp() {
    Object[] r = execute("ingest", "--help");
    assertEquals(0, r[0]);
    String help = (String) r[1];
    for (String flag : new String[] {"--tokenizer", "--genbank", "--uniref", "--output", "--strict",
        "--val-fraction", "--shard-size"}) {
      assertTrue(help.contains(flag), flag + " in " + help);
    }
  }
}
