package org.omnibiote.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rendezvous store lives outside the world (here in the test JVM, later the coordinator) and
 * serves two generations in turn: a fresh key prefix per generation keeps them apart.
 */
class ExternalStoreTest {
  @Test
  void twoGenerationsRendezvousInTurnOnAStoreNoRankHosts(@TempDir Path dir) throws Exception {
    int port = CollectiveProcesses.freePort();
    TCPStoreOptions opts = new TCPStoreOptions();
    opts.port((short) port);
    opts.isServer(true);
    opts.numWorkers(new SizeTPointer(1).put(1));
    opts.waitWorkers(false);
    opts.timeout(new Milliseconds(10_000));
    TCPStore store = new TCPStore("127.0.0.1", opts);
    try (CollectiveProcesses ranks = new CollectiveProcesses("generations", 2, dir, port)) {
      assertTrue(ranks.waitAll(50), "ranks did not finish in 50 s:\n" + ranks.allLogs());
      for (int r = 0; r < 2; r++) {
        assertEquals(0, ranks.process(r).exitValue(), "rank " + r + " failed:\n" + ranks.allLogs());
        assertTrue(ranks.log(r).contains("generation 2 ok"), ranks.allLogs());
      }
      List<String> keys = new ArrayList<>();
      for (var k : store.listKeys().get()) {
        keys.add(k.getString());
      }
      assertTrue(
          keys.stream().anyMatch(k -> k.startsWith("gen-1/"))
              && keys.stream().anyMatch(k -> k.startsWith("gen-2/"))
              && keys.stream().allMatch(k -> k.startsWith("gen-1/") || k.startsWith("gen-2/")),
          "store keys not kept apart by generation: " + keys);
    } finally {
      store.close();
    }
  }
}
