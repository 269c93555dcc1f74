package org.omnibiote.collective;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Child JVMs running {@link RankMain}, one per rank, with the test's classpath. */
final class CollectiveProcesses implements AutoCloseable {
  private final List<Process> processes = new ArrayList<>();
  private final List<Path> logs = new ArrayList<>();

  CollectiveProcesses(String mode, int size, Path dir) throws IOException {
    this(mode, size, dir, freePort());
  }

  CollectiveProcesses(String mode, int size, Path dir, int port) throws IOException {
    org.omnibiote.model.TorchNatives.load(); // unpacked once, before the rank JVMs start together
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    for (int rank = 0; rank < size; rank++) {
      Path log = dir.resolve("rank" + rank + ".log");
      ProcessBuilder pb =
          new ProcessBuilder(
              java,
              "-Xmx1g",
              "-cp",
              System.getProperty("java.class.path"),
              RankMain.class.getName(),
              mode,
              Integer.toString(rank),
              Integer.toString(size),
              Integer.toString(port),
              out(dir, rank).toString());
      pb.environment().put("OMP_NUM_THREADS", "1");
      pb.environment().put("OPENBLAS_NUM_THREADS", "1");
      pb.environment().put("OPENBLAS_THREAD_TIMEOUT", "4");
      pb.redirectErrorStream(true).redirectOutput(log.toFile());
      logs.add(log);
      processes.add(pb.start());
    }
  }

  static Path out(Path dir, int rank) {
    return dir.resolve("grads-rank" + rank + ".safetensors");
  }

  Process process(int rank) {
    return processes.get(rank);
  }

  String log(int rank) throws IOException {
    return Files.readString(logs.get(rank));
  }

  /** Waits for every rank to exit; false if one is still running at the deadline. */
  boolean waitAll(long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    for (Process p : processes) {
      if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        return false;
      }
    }
    return true;
  }

  /** Waits until rank's log contains text (or the deadline passes). */
  boolean awaitLog(int rank, String text, long seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (log(rank).contains(text)) {
        return true;
      }
      Thread.sleep(50);
    }
    return false;
  }

  String allLogs() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int r = 0; r < logs.size(); r++) {
      sb.append("--- rank ").append(r).append(" ---\n").append(log(r));
    }
    return sb.toString();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    for (Process p : processes) {
      p.destroyForcibly();
    }
  }
}
