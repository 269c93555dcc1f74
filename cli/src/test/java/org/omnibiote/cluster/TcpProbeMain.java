package org.omnibiote.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * Run in a namespace by {@link NetNamespacesTest}: {@code TcpProbeMain <self> <port> <seconds>
 * <peer>...} listens on {@code self:port}, answers each connection with "hello from <self>",
 * connects to every peer's port (retrying until the deadline: peers start in any order) and prints
 * "reached <peer> from <local address>" per peer, then keeps answering until the deadline (or until
 * killed) so that slower peers can reach it.
 */
public final class TcpProbeMain {
  public static void main(String[] args) throws Exception {
    String self = args[0];
    int port = Integer.parseInt(args[1]);
    long deadline = System.nanoTime() + Long.parseLong(args[2]) * 1_000_000_000L;
    ServerSocket server = new ServerSocket(port, 50, InetAddress.getByName(self));
    Thread answer =
        new Thread(
            () -> {
              while (true) {
                try (Socket s = server.accept();
                    OutputStream out = s.getOutputStream()) {
                  out.write(("hello from " + self + "\n").getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                  return;
                }
              }
            },
            "answer");
    answer.setDaemon(true);
    answer.start();
    System.out.println("listening on " + self + ":" + port);
    boolean all = true;
    for (int i = 3; i < args.length; i++) {
      all &= reach(args[i], port, deadline);
    }
    System.out.println(all ? "all peers reached" : "some peers not reached");
    System.out.flush();
    // Peers still connecting must find this one listening: stay until the deadline.
    while (System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    System.exit(all ? 0 : 1);
  }

  private static boolean reach(String peer, int port, long deadline) throws InterruptedException {
    IOException last = null;
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(peer, port), 2000);
        String line =
            new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                .readLine();
        System.out.println(
            "reached " + peer + " from " + s.getLocalAddress().getHostAddress() + ": " + line);
        return true;
      } catch (IOException e) {
        last = e;
        Thread.sleep(100);
      }
    }
    System.out.println("could not reach " + peer + ": " + last);
    return false;
  }
}
