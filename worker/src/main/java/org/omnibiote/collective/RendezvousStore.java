package org.omnibiote.collective;

import java.time.Duration;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.omnibiote.UserError;

/**
 * The c10d TCPStore server that world generations rendezvous through, hosted by the coordinator so
 * that it outlives every worker: each generation's ranks connect as clients and keep their keys
 * apart under their own prefix ({@link CollectiveGroup}).
 */
public final class RendezvousStore implements AutoCloseable {
  private final TCPStore store;
  private final String host;
  private final int port;

  private RendezvousStore(TCPStore store, String host, int port) {
    this.store = store;
    this.host = host;
    this.port = port;
  }

  /** Listens on {@code host:port} (port 0: any free one). */
  public static RendezvousStore host(String host, int port, Duration timeout) {
    if (port < 0 || port > 65_535) {
      throw new UserError("rendezvous store port " + port + " is outside 0-65535");
    }
    TCPStore store;
    try {
      store = new TCPStore(host, options(port, true, 1, timeout));
    } catch (RuntimeException e) {
      throw new UserError(
          "cannot host the rendezvous store on "
              + host
              + ":"
              + port
              + " ("
              + e.getMessage().lines().findFirst().orElse("")
              + "): is the port in use? Set"
              + " omnibiote.distributed.store-port (or --store-port)");
    }
    return new RendezvousStore(store, host, Short.toUnsignedInt(store.getPort()));
  }

  /**
   * TCPStore options: a server or a client of {@code port}, never waiting at construction for the
   * others (the rendezvous waits instead, within {@code timeout}).
   */
  static TCPStoreOptions options(int port, boolean server, int workers, Duration timeout) {
    TCPStoreOptions opts = new TCPStoreOptions();
    opts.port((short) port);
    opts.isServer(server);
    opts.numWorkers(new SizeTPointer(1).put(workers));
    opts.waitWorkers(false);
    opts.timeout(new Milliseconds(timeout.toMillis()));
    return opts;
  }

  public String hostName() {
    return host;
  }

  public int port() {
    return port;
  }

  @Override
  public void close() {
    store.close();
  }
}
