package org.omnibiote.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.omnibiote.UserError;
import picocli.CommandLine.Option;

/**
 * What {@code bench ingest} and {@code bench follow} read: real GenBank files ({@code --data}) and
 * a SentencePiece model ({@code --tokenizer}), by default those of {@code ../shared} beside the
 * checkout the launcher runs from.
 */
final class GenBankBenchInput {
  @Option(
      names = "--data",
      paramLabel = "DIR",
      description = "Folder of real GenBank files (default: ../shared/data beside the checkout).")
  Path data;

  @Option(
      names = "--tokenizer",
      paramLabel = "M.model",
      description = "SentencePiece model (default: ../shared/tokenizers/mixed_bpe.model).")
  Path tokenizer;

  /** The checkout the launcher runs from ({@code bin/omnibiote} sets {@code omnibiote.home}). */
  static Path home() {
    String h = System.getProperty("omnibiote.home");
    if (h == null) {
      throw new UserError("run the benchmark through bin/omnibiote (omnibiote.home is not set)");
    }
    return Path.of(h).toAbsolutePath().normalize();
  }

  Path dataDir() {
    return data != null ? data : home().resolveSibling("shared").resolve("data");
  }

  Path model() {
    return tokenizer != null
        ? tokenizer
        : home().resolveSibling("shared").resolve("tokenizers/mixed_bpe.model");
  }

  /** The GenBank files of the data folder: by MANIFEST.tsv's kind column, else by file name. */
  List<Path> genBankFiles() throws IOException {
    Path dir = dataDir();
    List<Path> out = new ArrayList<>();
    Path manifest = dir.resolve("MANIFEST.tsv");
    if (Files.exists(manifest)) {
      for (String line : Files.readAllLines(manifest)) {
        String[] cols = line.split("\t", -1);
        if (cols.length > 3 && cols[2].equals("genbank")) {
          out.add(dir.resolve(cols[3]));
        }
      }
    } else {
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.filter(Files::isRegularFile)
            .filter(f -> f.getFileName().toString().matches(".*\\.(seq|gb|gbk|gbff)"))
            .sorted()
            .forEach(out::add);
      }
    }
    if (out.isEmpty()) {
      throw new UserError("no GenBank file in " + dir);
    }
    return out;
  }
}
