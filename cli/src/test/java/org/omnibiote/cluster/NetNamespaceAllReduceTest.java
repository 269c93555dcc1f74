package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Gloo all-reduce between two rank JVMs in two network namespaces, with the rendezvous store
 * hosted in a third (where the coordinator will host it): the store's TCP and Gloo's own
 * connections cross veth interfaces, Gloo bound to each namespace's address.
 */
class NetNamespaceAllReduceTest {
  private static final int STORE_PORT = 29500;
  private static final int ELEMENTS = 1 << 20; // 4 MB of float32
  private static final List<String> JVM = List.of("-Xmx512m");

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void twoRanksInTwoNamespacesSumTheirTensorsOverTheVeths(@TempDir Path dir) throws Exception {
    try (NetNamespaces ns = NetNamespaces.create(3)) {
      Path storeLog = dir.resolve("store.log");
      Process store =
          ns.exec(
              0,
              NetNamespaces.java(
                  AllReduceRankMain.class, JVM, List.of("store", Integer.toString(STORE_PORT))),
              storeLog);
      ns.awaitLine(
          store,
          storeLog,
          l -> l.startsWith("store listening"),
          "the store",
          Duration.ofSeconds(60));
      long[] txBefore = new long[3];
      for (int i = 1; i <= 2; i++) {
        txBefore[i] = ns.txBytes(i);
      }
      Process[] ranks = new Process[2];
      Path[] outs = new Path[2];
      for (int rank = 0; rank < 2; rank++) {
        int i = rank + 1;
        outs[rank] = dir.resolve("sum-rank" + rank + ".f32");
        ranks[rank] =
            ns.exec(
                i,
                NetNamespaces.java(
                    AllReduceRankMain.class,
                    JVM,
                    List.of(
                        "rank",
                        Integer.toString(rank),
                        "2",
                        ns.address(0),
                        Integer.toString(STORE_PORT),
                        ns.address(i),
                        Integer.toString(ELEMENTS),
                        outs[rank].toString())),
                dir.resolve("rank" + rank + ".log"));
      }
      ns.awaitSuccess(List.of(ranks), Duration.ofSeconds(90));
      for (int rank = 0; rank < 2; rank++) {
        FloatBuffer sum =
            ByteBuffer.wrap(Files.readAllBytes(outs[rank]))
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer();
        assertEquals(ELEMENTS, sum.remaining(), "rank " + rank + " wrote the wrong length");
        for (int e = 0; e < ELEMENTS; e++) {
          // Rank r contributed (r + 1) * e: the sum over both is exactly 3 * e.
          if (sum.get(e) != 3.0f * e) {
            throw new AssertionError(
                "rank "
                    + rank
                    + " element "
                    + e
                    + " is "
                    + sum.get(e)
                    + ", not "
                    + 3.0f * e
                    + "\n"
                    + ns.report());
          }
        }
      }
      for (int i = 1; i <= 2; i++) {
        // Each rank must send at least half the tensor to the other: over its veth, not lo.
        long sent = ns.txBytes(i) - txBefore[i];
        assertTrue(
            sent >= ELEMENTS * Float.BYTES / 2L,
            "namespace "
                + i
                + " sent only "
                + sent
                + " bytes on "
                + NetNamespaces.INTERFACE
                + "\n"
                + ns.report());
        System.out.printf(
            "rank %d sent %.1f MB on %s of %s%n",
            i - 1, sent / 1e6, NetNamespaces.INTERFACE, ns.name(i));
      }
    }
  }
}
