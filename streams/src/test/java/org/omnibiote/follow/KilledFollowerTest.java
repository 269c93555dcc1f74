package org.omnibiote.follow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.GenerationStore;
import org.omnibiote.shards.NpyReader;
import org.omnibiote.shards.ShardLayout;

/**
 * A follower killed with kill -9 in the middle of a daily file leaves no generation a reader can
 * see and no partial shard, and its restart publishes each record once, the same generations as a
 * follower that was never killed.
 */
class KilledFollowerTest {
  @TempDir Path daily;
  @TempDir Path killed;
  @TempDir Path clean;
  @TempDir Path logs;

  static final Path ORCHIDS = FollowerTest.ORCHIDS;
  static final Path VIRUSES = FollowerTest.VIRUSES;

  Process start(Path out, String delay, Path log) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(
            java,
            "-cp",
            System.getProperty("java.class.path"),
            "-Domnibiote.ingest.test-delay-per-record=" + delay,
            FollowProcessMain.class.getName(),
            FollowerTest.MODEL.toString(),
            out.toString(),
            daily.toString())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .start();
  }

  static List<String> identities(Path root) throws IOException {
    List<String> ids = new ArrayList<>();
    for (Generation g : new GenerationStore(new ShardLayout(root)).committed()) {
      try (Stream<String> lines = Files.lines(root.resolve(g.records()))) {
        lines.forEach(l -> ids.add(l.split("\t", -1)[2]));
      }
    }
    return ids;
  }

  static long versions(Path genbank) throws IOException {
    try (Stream<String> lines =
        Files.lines(genbank, java.nio.charset.StandardCharsets.ISO_8859_1)) {
      return lines.filter(l -> l.startsWith("VERSION ")).count();
    }
  }

  @Test
  void aKilledFollowerLeavesNothingVisibleAndItsRestartPublishesEachRecordOnce() throws Exception {
    Files.copy(ORCHIDS, daily.resolve("nc0101.flat"));
    Files.copy(VIRUSES, daily.resolve("nc0102.flat"));
    Process p = start(killed, "30ms", logs.resolve("killed.log"));
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      Path unfinished = new GenerationStore(new ShardLayout(killed)).dataFolder(1);
      while (!Files.isDirectory(unfinished)) {
        assertTrue(
            p.isAlive(),
            "the follower ended before it could be killed: "
                + Files.readString(logs.resolve("killed.log")));
        assertTrue(System.nanoTime() < deadline, "no generation started");
        Thread.sleep(20);
      }
      Thread.sleep(1000); // some 30 of the 94 records in
      assertTrue(p.isAlive(), "still in the middle of nc0101.flat");
    } finally {
      p.destroyForcibly(); // SIGKILL
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
    assertEquals(
        List.of(), new GenerationStore(new ShardLayout(killed)).committed(), "nothing committed");
    try (Stream<Path> files = Files.walk(killed)) {
      for (Path f : files.filter(x -> x.toString().endsWith(".npy")).toList()) {
        NpyReader.read(f); // any shard in place is whole (none is listed anywhere yet)
      }
    }

    Process again = start(killed, "0ms", logs.resolve("restart.log"));
    assertTrue(again.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, again.exitValue(), Files.readString(logs.resolve("restart.log")));
    Process never = start(clean, "0ms", logs.resolve("clean.log"));
    assertTrue(never.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, never.exitValue(), Files.readString(logs.resolve("clean.log")));

    List<String> ids = identities(killed);
    Set<String> unique = new HashSet<>(ids);
    assertEquals(unique.size(), ids.size(), "each record once");
    assertEquals(
        versions(ORCHIDS) + versions(VIRUSES), ids.size(), "every record with a VERSION line");
    assertEquals(identities(clean), ids, "the same records as a follower never killed");
    List<Generation> a = new GenerationStore(new ShardLayout(killed)).committed();
    List<Generation> b = new GenerationStore(new ShardLayout(clean)).committed();
    assertEquals(2, a.size());
    for (int i = 0; i < a.size(); i++) {
      assertEquals(
          b.get(i).shards().stream().map(s -> s.sha256()).toList(),
          a.get(i).shards().stream().map(s -> s.sha256()).toList());
    }
  }
}
