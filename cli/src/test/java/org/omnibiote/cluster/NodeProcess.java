package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A child JVM running {@code org.omnibiote.cli.Main} with the test's classpath, whose merged
 * stdout/stderr lines are queued for the test and kept for failure messages.
 */
final class NodeProcess implements AutoCloseable {
  final String name;
  final Process process;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private final List<String> all = java.util.Collections.synchronizedList(new ArrayList<>());

  NodeProcess(String name, String... args) throws IOException {
    this(name, List.of(), args);
  }

  NodeProcess(String name, List<String> jvmOptions, String... args) throws IOException {
    this(name, List.of(), jvmOptions, args);
  }

  /** {@code prefix}: a command the JVM runs under (e.g. ip netns exec NAME), or empty. */
  NodeProcess(String name, List<String> prefix, List<String> jvmOptions, String... args)
      throws IOException {
    this(name, prefix, jvmOptions, java.util.Map.of(), args);
  }

  /** {@code env}: variables set for the JVM after the OMNIBIOTE_* of the caller are removed. */
  NodeProcess(
      String name,
      List<String> prefix,
      List<String> jvmOptions,
      java.util.Map<String, String> env,
      String... args)
      throws IOException {
    this.name = name;
    org.omnibiote.model.TorchNatives.load(); // unpacked once, before child JVMs start together
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx1g",
            "-XX:TieredStopAtLevel=1",
            // A world forms 0.5 s after the last membership change, not 2 s: the tests start
            // their workers together or wait for them (--min-workers), and it saves 1.5 s a world.
            "-Domnibiote.distributed.settle=500ms"));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "org.omnibiote.cli.Main"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("OPENBLAS_THREAD_TIMEOUT", "4");
    pb.environment().put("OMP_NUM_THREADS", "1");
    pb.environment().put("OPENBLAS_NUM_THREADS", "1");
    // The test's flags decide; stray OMNIBIOTE_* in the caller's environment must not.
    pb.environment().keySet().removeIf(k -> k.startsWith("OMNIBIOTE_"));
    pb.environment().putAll(env);
    process = pb.start();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                  all.add(line);
                  lines.add(line);
                }
              } catch (IOException e) {
                all.add("(output closed: " + e + ")");
              }
            },
            name + "-output");
    reader.setDaemon(true);
    reader.start();
  }

  /** Waits for a line matching {@code p}; fails with this node's whole output otherwise. */
  String await(Predicate<String> p, String what, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      String line = lines.poll(200, TimeUnit.MILLISECONDS);
      if (line != null && p.test(line)) {
        return line;
      }
      if (line == null && !process.isAlive() && lines.isEmpty()) {
        break;
      }
    }
    fail(name + ": no line with " + what + " within " + seconds + " s; output:\n" + output());
    return null;
  }

  /** Waits for the JVM to exit and returns its code; fails with its output if it does not. */
  int exitCode(long seconds) throws InterruptedException {
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      fail(name + " still running after " + seconds + " s; output:\n" + output());
    }
    return process.exitValue();
  }

  String output() {
    synchronized (all) {
      return String.join("\n", all);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }
}
