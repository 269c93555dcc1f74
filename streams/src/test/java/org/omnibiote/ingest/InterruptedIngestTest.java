package org.omnibiote.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.NpyReader;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * kill -9 in the middle of a file: no partial shard in the shard folders, and a re-run completes
 * the folder to exactly what an uninterrupted run makes.
 */
class InterruptedIngestTest {
  static final Path MODEL = TestData.tokenizer("mixed_bpe");
  static final long SHARD_BYTES = 32 * 1024;
  static final Path PROTEINS = TestData.data("gh-facebookresearch-esm/P62593.fasta");
  static final List<Path> GENBANK =
      List.of(
          TestData.data("gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb"),
          TestData.data("deb-emboss-test_6.6.0+dfsg-12/genbank/gbbct1.seq"));

  @TempDir Path interrupted;
  @TempDir Path uninterrupted;
  @TempDir Path logs;

  @Test
  void aKilledRunLeavesOnlyFinishedShardsAndAReRunEqualsAnUninterruptedRun() throws Exception {
    Process p = startSlowIngest(interrupted, logs.resolve("killed-ingest.log"));
    try {
      waitUntilMidFile(p, interrupted);
    } finally {
      p.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
    Set<String> left = OutputChecks.filesInShardFolders(interrupted);
    assertFalse(left.isEmpty(), "killed after some shards were finished");
    for (String f : left) {
      assertTrue(f.endsWith(".npy"), "only shards in the shard folders: " + f);
      NpyReader.read(interrupted.resolve(f)); // throws unless complete: header count = data
    }
    Manifest partial = OutputChecks.manifest(interrupted);
    assertFalse(
        partial.sources().stream().anyMatch(s -> s.path().equals(PROTEINS.toString())),
        "the file being ingested at the kill is not listed as finished");

    Tokenizer tokenizer = SentencePieceTokenizer.load(MODEL);
    run(tokenizer, interrupted);
    run(tokenizer, uninterrupted);

    OutputChecks.verify(interrupted, tokenizer);
    OutputChecks.verify(uninterrupted, tokenizer);
    assertEquals(OutputChecks.contentOf(uninterrupted), OutputChecks.contentOf(interrupted));
  }

  private static void run(Tokenizer tokenizer, Path out) {
    IngestSettings settings =
        IngestSettings.from(ConfigFactory.load()).withShardTargetBytes(SHARD_BYTES);
    new Ingest(tokenizer, MODEL, settings, out, false, ConfigFactory.load())
        .run(
            Inputs.resolve(GENBANK, List.of(PROTEINS)),
            new PrintStream(new ByteArrayOutputStream()));
  }

  private static Process startSlowIngest(Path out, Path log) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new java.util.ArrayList<>(
            List.of(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                "-Domnibiote.ingest.shard-target-bytes=" + SHARD_BYTES,
                "-Domnibiote.ingest.test-delay-per-record=3ms",
                "-Domnibiote.ingest.file-parallelism=1",
                IngestProcessMain.class.getName(),
                MODEL.toString(),
                out.toString()));
    GENBANK.forEach(g -> cmd.add(g.toString()));
    cmd.add("--uniref");
    cmd.add(PROTEINS.toString());
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Waits until the protein file has finished shards in place but is not finished itself. */
  private static void waitUntilMidFile(Process p, Path out) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      assertTrue(p.isAlive(), "the ingest ended before it could be killed; see its log");
      Path folder = out.resolve("uniref100/train");
      if (Files.isDirectory(folder)) {
        try (var files = Files.list(folder)) {
          if (files.filter(f -> f.getFileName().toString().startsWith("P62593")).count() >= 3) {
            return;
          }
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no protein shard appeared within 90 s");
  }
}
