package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;

class TrainTokenizerCommandTest {
  @TempDir Path dir;

  @Test
  void trainsFromDocumentFilesAndWritesModelAndVocab() throws IOException {
    Path docs = proteinDocuments(300);
    CliRun r =
        run(
            "train-tokenizer",
            "--input",
            docs.toString(),
            "--vocab-size",
            "500",
            "--output",
            dir.resolve("small.model").toString());
    assertEquals(0, r.exitCode(), r.err());
    ModelProto m = ModelProto.parseFrom(Files.readAllBytes(dir.resolve("small.model")));
    assertEquals(500, m.getPiecesCount());
    assertEquals("<protein>", m.getPieces(18).getPiece());
    assertEquals(500, Files.readAllLines(dir.resolve("small.vocab")).size());
  }

  @Test
  void customUserDefinedSymbolsAndPieceLength() throws IOException {
    Path docs = proteinDocuments(200);
    CliRun r =
        run(
            "train-tokenizer",
            "--input",
            docs.toString(),
            "--vocab-size",
            "300",
            "--user-defined-symbols",
            "<EOS>,<protein>",
            "--max-piece-length",
            "4",
            "--output",
            dir.resolve("custom").toString());
    assertEquals(0, r.exitCode(), r.err());
    ModelProto m = ModelProto.parseFrom(Files.readAllBytes(dir.resolve("custom.model")));
    assertEquals("<EOS>", m.getPieces(3).getPiece());
    assertEquals("<protein>", m.getPieces(4).getPiece());
    assertTrue(m.getPiecesList().stream().skip(5).allMatch(p -> p.getPiece().length() <= 4));
  }

  @Test
  void missingInputIsAOneLineUserError() {
    CliRun r =
        run(
            "train-tokenizer",
            "--input",
            dir.resolve("absent.txt").toString(),
            "--output",
            dir.resolve("x.model").toString());
    assertEquals(2, r.exitCode());
    assertTrue(
        r.err().contains("error: input file") && r.err().contains("absent.txt does not exist"),
        r.err());
    assertFalse(r.err().contains("Exception"), r.err());
    assertFalse(Files.exists(dir.resolve("x.model")));
  }

  @Test
  void vocabularyTooSmallForTheCharactersIsAUserError() throws IOException {
    CliRun r =
        run(
            "train-tokenizer",
            "--input",
            proteinDocuments(50).toString(),
            "--vocab-size",
            "40",
            "--output",
            dir.resolve("tiny.model").toString());
    assertEquals(2, r.exitCode());
    assertTrue(r.err().contains("vocabulary size 40 is too small"), r.err());
    assertFalse(Files.exists(dir.resolve("tiny.model")));
  }

  @Test
  void helpDescribesTheFlags() {
    CliRun r = run("train-tokenizer", "--help");
    assertEquals(0, r.exitCode());
    for (String flag :
        List.of(
            "--input",
            "--output",
            "--vocab-size",
            "--user-defined-symbols",
            "--max-piece-length",
            "--input-sentence-size",
            "--character-coverage")) {
      assertTrue(r.out().contains(flag), flag + " in " + r.out());
    }
  }

  /** Proteins of a real UniProt proteome as {@code <protein>SEQ<EOS>} lines. */
  private Path proteinDocuments(int count) throws IOException {
    Path fasta =
        Path.of(
            System.getProperty("omnibiote.shared"), "data/gh-ahl27-GRarr/UP000000625_83333.fasta");
    List<String> docs = new ArrayList<>();
    StringBuilder seq = null;
    for (String line : Files.readAllLines(fasta)) {
      if (line.startsWith(">")) {
        if (seq != null && docs.size() < count) {
          docs.add("<protein>" + seq + "<EOS>");
        }
        seq = new StringBuilder();
      } else if (seq != null) {
        seq.append(line.strip().toUpperCase(Locale.ROOT));
      }
    }
    Path out = dir.resolve("docs-" + count + ".txt");
    Files.write(out, docs, StandardCharsets.UTF_8);
    return out;
  }
}
