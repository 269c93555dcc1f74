package org.omnibiote.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.UserError;

/**
 * The JVMs of one world of {@code bench distributed}: one {@link DistributedBenchRank} per rank,
 * with this JVM's java and classpath and a given number of libtorch/OpenBLAS threads (read at
 * start-up, so set in the environment). Rank 0's progress lines are copied to {@code err}; every
 * rank's output goes to {@code world<n>-threads<t>-rank<r>.log} in the work folder.
 */
final class RankProcesses {
  private RankProcesses() {}

  /**
   * Runs a world of {@code size} ranks, each with {@code threads} libtorch/OpenBLAS threads, to the
   * end; returns each rank's result in rank order.
   */
  static List<DistributedBenchRank.Result> run(
      DistributedSettings settings, int size, int threads, Path dir, PrintStream err)
      throws IOException, InterruptedException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    int port = freePort();
    List<Process> processes = new ArrayList<>();
    List<Thread> pumps = new ArrayList<>();
    try {
      org.omnibiote.model.TorchNatives.load(); // unpacked once, before the rank JVMs start
      for (int rank = 0; rank < size; rank++) {
        ProcessBuilder pb =
            new ProcessBuilder(
                java,
                "-Xmx1g",
                "-cp",
                System.getProperty("java.class.path"),
                DistributedBenchRank.class.getName(),
                Integer.toString(rank),
                Integer.toString(size),
                Integer.toString(port),
                settings.toJson(),
                result(dir, size, threads, rank).toString());
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OPENBLAS_THREAD_TIMEOUT", "4");
        pb.redirectErrorStream(true).directory(dir.toFile()); // a crash report lands there too
        Process p = pb.start();
        processes.add(p);
        pumps.add(pump(p, log(dir, size, threads, rank), rank == 0 ? err : null));
      }
      while (true) {
        boolean running = false;
        for (int rank = 0; rank < size; rank++) {
          Process p = processes.get(rank);
          if (p.isAlive()) {
            running = true;
          } else if (p.exitValue() != 0) {
            for (Process other : processes) {
              other.destroyForcibly();
            }
            for (Thread t : pumps) {
              t.join(5_000);
            }
            throw failure(dir, size, threads, rank, p.exitValue());
          }
        }
        if (!running) {
          break;
        }
        Thread.sleep(200);
      }
      for (Thread t : pumps) {
        t.join(5_000);
      }
      ObjectMapper json = new ObjectMapper();
      List<DistributedBenchRank.Result> results = new ArrayList<>();
      for (int rank = 0; rank < size; rank++) {
        results.add(
            json.readValue(
                result(dir, size, threads, rank).toFile(), DistributedBenchRank.Result.class));
      }
      return results;
    } finally {
      for (Process p : processes) {
        p.destroyForcibly();
      }
    }
  }

  private static Path result(Path dir, int size, int threads, int rank) {
    return dir.resolve(name(size, threads, rank) + ".json");
  }

  static Path log(Path dir, int size, int threads, int rank) {
    return dir.resolve(name(size, threads, rank) + ".log");
  }

  private static String name(int size, int threads, int rank) {
    return "world" + size + "-threads" + threads + "-rank" + rank;
  }

  /** Copies the process's output to its log, and progress lines also to {@code err}. */
  private static Thread pump(Process p, Path log, PrintStream err) {
    Thread t =
        new Thread(
            () -> {
              try (BufferedReader in =
                      new BufferedReader(
                          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                  PrintWriter file =
                      new PrintWriter(Files.newBufferedWriter(log, StandardCharsets.UTF_8), true)) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                  file.println(line);
                  if (err != null && line.startsWith("bench distributed:")) {
                    err.println(line);
                  }
                }
              } catch (IOException e) {
                // The process was killed: its log ends where it ended.
              }
            },
            "bench-rank-output");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** A rank's "error: ..." (a UserError, exit 2) as ours; any other failure with its log's tail. */
  private static RuntimeException failure(Path dir, int size, int threads, int rank, int code)
      throws IOException {
    Path log = log(dir, size, threads, rank);
    List<String> lines =
        Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
    if (code == 2) {
      for (String line : lines) {
        if (line.startsWith("error: ")) {
          return new UserError(line.substring("error: ".length()));
        }
      }
    }
    List<String> tail = lines.subList(Math.max(0, lines.size() - 30), lines.size());
    return new IllegalStateException(
        "bench distributed: rank "
            + rank
            + " of a world of "
            + size
            + " exited with code "
            + code
            + " (log "
            + log
            + "); its last lines:\n"
            + String.join("\n", tail));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
