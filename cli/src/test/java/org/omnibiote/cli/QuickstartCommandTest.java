package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;
import static org.omnibiote.cli.CliRun.shared;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.download.LocalHttpServer;
import org.omnibiote.download.SampleMirror;
import org.omnibiote.tokenizer.SentencePieceTokenizer;

/**
 * quickstart without --data: fetches the sample from a local HTTP server serving the real files of
 * ../shared/data, trains a tokenizer, ingests; a second run needs no network.
 */
class QuickstartCommandTest {
  @TempDir Path dir;

  @Test
  void quickstartDownloadsTheSampleTrainsATokenizerAndWritesShardsThenRerunsOffline()
      throws Exception {
    Path shared = shared();
    Path out = dir.resolve("qs");
    Path profile = dir.resolve("mirror.conf");
    try (LocalHttpServer server = LocalHttpServer.serve(dir)) {
      Map<String, String> overrides = SampleMirror.serve(server, shared.resolve("data"));
      Files.writeString(
          profile,
          overrides.entrySet().stream()
                  .map(e -> e.getKey() + " = \"" + e.getValue() + "\"")
                  .collect(Collectors.joining("\n", "", "\n"))
              // A few steps of the tiny model are enough to show training and encoding work.
              + "omnibiote.quickstart.train { token_budget = 16384, test_freq = 8192, ctx_len = 128 }\n");

      CliRun r = run("quickstart", "--config", profile.toString(), "--output", out.toString());
      assertEquals(0, r.exitCode(), r.err());
      assertTrue(
          server.requests().stream().anyMatch(q -> q.contains("efetch.fcgi")),
          "the sample came from the server: " + server.requests());
    }

    // The sample and the tokenizer are real files the next steps can use.
    try (Stream<Path> sample = Files.list(out.resolve("sample"))) {
      assertEquals(4, sample.filter(p -> !p.getFileName().toString().startsWith(".")).count());
    }
    Path model = out.resolve("tokenizer/quickstart.model");
    SentencePieceTokenizer tokenizer = SentencePieceTokenizer.load(model);
    assertEquals(3, tokenizer.pieceToId("<EOS>"));
    assertEquals(4, tokenizer.pieceToId("<DNA>"));
    assertEquals(18, tokenizer.pieceToId("<protein>"));

    JsonNode manifest = new ObjectMapper().readTree(out.resolve("shards/manifest.json").toFile());
    long documents = manifest.at("/totals/documents").asLong();
    // 3 GenBank records and the 4,352 proteins of the E. coli proteome, plus val fallbacks.
    assertTrue(documents >= 3 + 4352, "documents: " + documents);
    try (Stream<Path> shards = Files.list(out.resolve("shards/genbank/train"))) {
      assertTrue(shards.findAny().isPresent());
    }
    try (Stream<Path> shards = Files.list(out.resolve("shards/uniref100/train"))) {
      assertTrue(shards.findAny().isPresent());
    }

    // The tiny model trained on the shards (8 steps of 16 x 128 tokens) and encoded examples.
    assertTrue(Files.exists(out.resolve("model/omnibiota.checkpoint.json")));
    long steps =
        Files.readAllLines(out.resolve("model/metrics.jsonl")).stream()
            .filter(l -> l.contains("\"loss\""))
            .count();
    assertEquals(8, steps);
    Path encodings = out.resolve("encode/examples.npy");
    assertTrue(Files.exists(encodings) && Files.exists(out.resolve("encode/examples.ids.tsv")));
    long examples =
        Files.readAllLines(out.resolve("encode/examples.fasta")).stream()
            .filter(l -> l.startsWith(">"))
            .count();
    assertTrue(examples >= 2 && examples <= 8, "examples: " + examples);

    // Offline now: the server is gone, everything is reused, nothing changes.
    CliRun again = run("quickstart", "--config", profile.toString(), "--output", out.toString());
    assertEquals(0, again.exitCode(), again.err());
    assertTrue(again.err().contains("reusing the tokenizer"), again.err());
    assertTrue(again.err().contains("reusing the trained model"), again.err());
    JsonNode after = new ObjectMapper().readTree(out.resolve("shards/manifest.json").toFile());
    assertEquals(manifest.get("totals"), after.get("totals"));
  }

  @Test
  void aMissingDataFolderIsOneErrorLine() {
    CliRun r =
        run("quickstart", "--data", dir.resolve("nope").toString(), "--output", dir.toString());
    assertEquals(2, r.exitCode());
    String err = r.err();
    assertTrue(err.startsWith("error: --data"), err);
    assertFalse(err.contains("\tat "), err);
  }
}
