package org.omnibiote.cluster;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.collective.CollectiveGroup;

/**
 * A process of {@link NetNamespaceAllReduceTest}, run in its own namespace:
 *
 * <ul>
 *   <li>{@code store <port>}: hosts the rendezvous TCPStore (as the coordinator will, outside the
 *       world) until killed;
 *   <li>{@code rank <rank> <size> <storeHost> <storePort> <bindAddress> <elements> <out>}: joins
 *       the Gloo world through {@link CollectiveGroup} with Gloo bound to {@code bindAddress},
 *       all-reduces {@code elements} float32 values {@code (rank + 1) * i} and writes the result to
 *       {@code out} as raw little-endian float32 for the test to check.
 * </ul>
 */
public final class AllReduceRankMain {
  // Generous: on a busy CI machine loading libtorch alone can take many seconds per rank.
  static final Duration TIMEOUT = Duration.ofSeconds(60);

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "store" -> store(Integer.parseInt(args[1]));
      case "rank" ->
          rank(
              Integer.parseInt(args[1]),
              Integer.parseInt(args[2]),
              args[3],
              Integer.parseInt(args[4]),
              args[5],
              Integer.parseInt(args[6]),
              Path.of(args[7]));
      default -> throw new IllegalArgumentException("unknown mode " + args[0]);
    }
    System.out.flush();
    // libtorch/Gloo threads must not keep the JVM alive, nor their destructors crash at exit.
    Runtime.getRuntime().halt(0);
  }

  private static void store(int port) throws InterruptedException {
    TCPStoreOptions opts = new TCPStoreOptions();
    opts.port((short) port);
    opts.isServer(true);
    opts.numWorkers(new SizeTPointer(1).put(1));
    opts.waitWorkers(false);
    opts.timeout(new Milliseconds(TIMEOUT.toMillis()));
    // The server listens on every address of this namespace: lo and its veth.
    TCPStore store = new TCPStore("0.0.0.0", opts);
    System.out.println("store listening on port " + port);
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE); // killed by the test; the store must outlive the ranks
    store.close();
  }

  private static void rank(
      int rank, int size, String storeHost, int storePort, String bind, int elements, Path out)
      throws IOException {
    CollectiveGroup.Rendezvous at =
        new CollectiveGroup.Rendezvous(storeHost, storePort, false, bind, TIMEOUT);
    float[] values = new float[elements];
    for (int i = 0; i < elements; i++) {
      values[i] = (float) (rank + 1) * i; // exact in float32 while (size(size+1)/2) * i < 2^24
    }
    try (CollectiveGroup group = CollectiveGroup.open(at, 1, rank, size);
        PointerScope scope = new PointerScope()) {
      System.out.println("rank " + rank + " joined the world of " + size + " bound to " + bind);
      Tensor t = torch.empty(elements);
      t.data_ptr_float().capacity(elements).put(values);
      group.allReduceSum(t);
      t.data_ptr_float().capacity(elements).get(values);
    }
    ByteBuffer bytes = ByteBuffer.allocate(elements * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asFloatBuffer().put(values);
    try (FileChannel ch =
        FileChannel.open(
            out,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      while (bytes.hasRemaining()) {
        ch.write(bytes);
      }
    }
    System.out.println("rank " + rank + " all-reduced " + elements + " floats into " + out);
  }
}
