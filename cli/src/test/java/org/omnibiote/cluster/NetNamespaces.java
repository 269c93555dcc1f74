package org.omnibiote.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code n} network namespaces that reach each other only over veth pairs, so that processes
 * started in them talk as separate hosts would: over a real non-loopback interface, never through
 * 127.0.0.1 (each namespace has its own loopback).
 *
 * <p>Topology: namespace {@code i} ({@code obt-<pid>-<seq>-<i>}) has {@code lo} and {@code eth0}
 * with address {@code 10.231.0.<i+1>/24}; the other end of each veth pair is a port of the bridge
 * {@code br0} in one extra namespace ({@code obt-<pid>-<seq>-br}). Nothing is created in the
 * caller's namespace, so deleting the namespaces deletes every link too, and the subnet is
 * test-only: the processes can reach no address but those assigned here.
 *
 * <p>Needs root ({@code ip netns add}); CI runs as root, so a non-root run fails with a message
 * rather than skipping. {@link #close} (also run by a shutdown hook) kills the processes and
 * deletes the namespaces even after a failure; {@link #create} first removes the namespaces of an
 * earlier run of this harness whose JVM is gone (a crash or a kill -9 skips close).
 *
 * <p>Use: {@code ns.exec(i, NetNamespaces.java(Main.class, List.of(), args), log)} starts a JVM
 * with the test's classpath in namespace {@code i}; {@link #address(int)} is its address; {@link
 * #awaitLine} waits for a log line and fails with every log attached.
 */
public final class NetNamespaces implements AutoCloseable {
  /** The /24 all namespaces share: test-only, never routed anywhere. */
  public static final String SUBNET = "10.231.0";

  /** The interface of each namespace that carries the traffic. */
  public static final String INTERFACE = "eth0";

  private static final String PREFIX = "obt-";
  private static final Pattern OURS = Pattern.compile(Pattern.quote(PREFIX) + "(\\d+)-.+");
  private static final AtomicInteger SEQUENCE = new AtomicInteger();
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(20);

  private final String run;
  private final List<String> names = new ArrayList<>();
  private final String bridge;
  private final List<Process> processes = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, Path> logs = Collections.synchronizedMap(new LinkedHashMap<>());
  private final Thread shutdownHook;
  private boolean closed;

  private NetNamespaces(int n) {
    if (n < 1 || n > 200) {
      throw new IllegalArgumentException("namespaces: " + n + " is not in 1..200");
    }
    run = PREFIX + ProcessHandle.current().pid() + "-" + SEQUENCE.incrementAndGet();
    for (int i = 0; i < n; i++) {
      names.add(run + "-" + i);
    }
    bridge = run + "-br";
    shutdownHook = new Thread(this::closeQuietly, run + "-cleanup");
  }

  /**
   * Creates {@code n} namespaces joined through a bridge, {@code lo} up in each. Fails (never
   * skips) when not root or when {@code ip} (iproute2) is missing.
   */
  public static NetNamespaces create(int n) throws IOException, InterruptedException {
    requireRoot();
    removeStale();
    NetNamespaces ns = new NetNamespaces(n);
    Runtime.getRuntime().addShutdownHook(ns.shutdownHook);
    try {
      ns.build();
    } catch (IOException | RuntimeException | InterruptedException | Error e) {
      ns.closeQuietly();
      throw e;
    }
    return ns;
  }

  private void build() throws IOException, InterruptedException {
    ip("netns", "add", bridge);
    ip("-n", bridge, "link", "set", "lo", "up");
    // STP off (the default): ports forward at once instead of after a listening delay.
    ip("-n", bridge, "link", "add", "br0", "type", "bridge", "stp_state", "0");
    ip("-n", bridge, "link", "set", "br0", "up");
    for (int i = 0; i < names.size(); i++) {
      String name = names.get(i);
      ip("netns", "add", name);
      // Both ends are created inside their namespaces: no name can clash with the host's links.
      ip(
          "link",
          "add",
          INTERFACE,
          "netns",
          name,
          "type",
          "veth",
          "peer",
          "name",
          "veth" + i,
          "netns",
          bridge);
      ip("-n", bridge, "link", "set", "veth" + i, "master", "br0");
      ip("-n", bridge, "link", "set", "veth" + i, "up");
      ip("-n", name, "link", "set", "lo", "up");
      ip("-n", name, "addr", "add", address(i) + "/24", "dev", INTERFACE);
      ip("-n", name, "link", "set", INTERFACE, "up");
    }
  }

  /** How many namespaces (not counting the bridge's). */
  public int size() {
    return names.size();
  }

  /** The name of namespace {@code i}, for {@code ip netns exec}. */
  public String name(int i) {
    return names.get(i);
  }

  /** The address of namespace {@code i} on its veth interface, e.g. 10.231.0.1 for i = 0. */
  public String address(int i) {
    if (i < 0 || i >= names.size()) {
      throw new IndexOutOfBoundsException("namespace " + i + " of " + names.size());
    }
    return SUBNET + "." + (i + 1);
  }

  /**
   * Starts {@code command} in namespace {@code i} with stdout and stderr into {@code log}; the
   * environment is this JVM's with OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1,
   * OPENBLAS_THREAD_TIMEOUT=4 and without OMNIBIOTE_* (the command's flags decide). The process is
   * killed by {@link #close}. {@code ip netns exec} execs the command, so the returned Process's
   * pid is the command's own.
   */
  public Process exec(int i, List<String> command, Path log) throws IOException {
    return exec(i, command, log, Map.of());
  }

  /** As {@link #exec(int, List, Path)} with extra environment variables. */
  public synchronized Process exec(int i, List<String> command, Path log, Map<String, String> env)
      throws IOException {
    org.omnibiote.model.TorchNatives.load(); // the JVMs it starts find libtorch unpacked
    if (closed) {
      throw new IllegalStateException(run + " is closed");
    }
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name(i)));
    cmd.addAll(command);
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    Map<String, String> e = pb.environment();
    e.keySet().removeIf(k -> k.startsWith("OMNIBIOTE_"));
    e.put("OMP_NUM_THREADS", "1");
    e.put("OPENBLAS_NUM_THREADS", "1");
    e.put("OPENBLAS_THREAD_TIMEOUT", "4");
    e.putAll(env);
    Process p = pb.start();
    processes.add(p);
    String classpath = System.getProperty("java.class.path");
    List<String> shown =
        command.stream().map(a -> a.equals(classpath) ? "<test classpath>" : a).toList();
    logs.put(
        "ns " + i + " (" + address(i) + ") pid " + p.pid() + ": " + String.join(" ", shown), log);
    return p;
  }

  /** A JVM command line running {@code main} with this JVM's java and test classpath. */
  public static List<String> java(Class<?> main, List<String> jvmOptions, List<String> args) {
    return java(main.getName(), jvmOptions, args);
  }

  /** As {@link #java(Class, List, List)} for a main class given by name. */
  public static List<String> java(String main, List<String> jvmOptions, List<String> args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
    cmd.addAll(args);
    return cmd;
  }

  /**
   * Waits until {@code log} has a line matching {@code match} and returns it; throws an
   * AssertionError with every log of this harness attached if {@code process} exits first or the
   * timeout passes.
   */
  public String awaitLine(
      Process process, Path log, Predicate<String> match, String what, Duration timeout)
      throws IOException, InterruptedException {
    return awaitLine(process, log, 0, match, what, timeout);
  }

  /** The number of lines in {@code log} now: pass it to {@link #awaitLine} to wait for new ones. */
  public static int lineCount(Path log) throws IOException {
    return (int) read(log).lines().count();
  }

  /** As {@link #awaitLine(Process, Path, Predicate, String, Duration)}, from line {@code from}. */
  public String awaitLine(
      Process process, Path log, int from, Predicate<String> match, String what, Duration timeout)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      boolean exited = !process.isAlive(); // read after: lines written before exit are seen
      for (String line : read(log).lines().skip(from).toList()) {
        if (match.test(line)) {
          return line;
        }
      }
      if (exited) {
        throw new AssertionError(
            "pid "
                + process.pid()
                + " exited with "
                + process.exitValue()
                + " before logging "
                + what
                + "\n"
                + report());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "no " + what + " within " + timeout.toSeconds() + " s\n" + report());
      }
      Thread.sleep(100);
    }
  }

  /**
   * Waits until every one of {@code processes} has exited with 0; throws an AssertionError with
   * every log as soon as one exits otherwise (its peers may be stuck waiting for it), or when the
   * timeout passes.
   */
  public void awaitSuccess(List<Process> processes, Duration timeout)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      boolean all = true;
      for (Process p : processes) {
        if (p.isAlive()) {
          all = false;
        } else if (p.exitValue() != 0) {
          throw new AssertionError(
              "pid " + p.pid() + " exited with " + p.exitValue() + "\n" + report());
        }
      }
      if (all) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("still running after " + timeout.toSeconds() + " s\n" + report());
      }
      Thread.sleep(100);
    }
  }

  /** Waits for {@code process} to exit; an AssertionError with every log if it does not. */
  public int awaitExit(Process process, Duration timeout) throws IOException, InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(
          "pid "
              + process.pid()
              + " still running after "
              + timeout.toSeconds()
              + " s\n"
              + report());
    }
    return process.exitValue();
  }

  /**
   * Pulls namespace {@code i}'s cable: its bridge port goes down, so its packets go nowhere while
   * its processes keep running (a partition or a hung host, not a crash).
   */
  public void disconnect(int i) throws IOException, InterruptedException {
    ip("-n", bridge, "link", "set", "veth" + i, "down");
  }

  /** Plugs namespace {@code i}'s cable back in after {@link #disconnect}. */
  public void reconnect(int i) throws IOException, InterruptedException {
    ip("-n", bridge, "link", "set", "veth" + i, "up");
  }

  /** Bytes received on namespace {@code i}'s veth interface so far. */
  public long rxBytes(int i) throws IOException, InterruptedException {
    return counter(i, "rx_bytes");
  }

  /** Bytes sent on namespace {@code i}'s veth interface so far. */
  public long txBytes(int i) throws IOException, InterruptedException {
    return counter(i, "tx_bytes");
  }

  private long counter(int i, String which) throws IOException, InterruptedException {
    // ip netns exec mounts the namespace's own /sys, so this is namespace i's eth0.
    return Long.parseLong(
        ip("netns", "exec", name(i), "cat", "/sys/class/net/" + INTERFACE + "/statistics/" + which)
            .trim());
  }

  /** Runs a short command in namespace {@code i} and returns its output; fails on exit != 0. */
  public String run(int i, String... command) throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of("netns", "exec", name(i)));
    args.addAll(List.of(command));
    return ip(args.toArray(String[]::new));
  }

  /** The topology and every log of the processes started so far, for failure messages. */
  public String report() throws IOException {
    StringBuilder sb = new StringBuilder("namespaces " + names + " on " + SUBNET + ".0/24\n");
    Map<String, Path> copy;
    synchronized (logs) {
      copy = new LinkedHashMap<>(logs);
    }
    for (Map.Entry<String, Path> e : copy.entrySet()) {
      sb.append("----- ").append(e.getKey()).append(" (").append(e.getValue()).append(")\n");
      sb.append(read(e.getValue()));
    }
    return sb.toString();
  }

  /** A log as text; bytes that are not UTF-8 (native libraries print anything) are replaced. */
  private static String read(Path log) throws IOException {
    return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8) : "";
  }

  /** Kills the processes started here, then deletes every namespace (and with them the links). */
  @Override
  public void close() throws IOException, InterruptedException {
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // Called from the hook itself or during shutdown: nothing to remove.
    }
    List<String> all = new ArrayList<>(names);
    all.add(bridge);
    synchronized (this) {
      closed = true;
    }
    List<Process> ps;
    synchronized (processes) {
      ps = new ArrayList<>(processes);
    }
    for (Process p : ps) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
    for (Process p : ps) {
      p.waitFor(10, TimeUnit.SECONDS);
    }
    IOException failed = null;
    for (String name : all) {
      try {
        delete(name);
      } catch (IOException e) {
        if (failed == null) {
          failed = e;
        } else {
          failed.addSuppressed(e);
        }
      }
    }
    if (failed != null) {
      throw failed;
    }
  }

  private void closeQuietly() {
    try {
      close();
    } catch (IOException | InterruptedException | RuntimeException e) {
      System.err.println(run + ": cleanup failed: " + e);
    }
  }

  /** Kills whatever still runs in {@code name} (our processes' children) and deletes it. */
  private static void delete(String name) throws IOException, InterruptedException {
    if (!list().contains(name)) {
      return;
    }
    for (String pid : ip("netns", "pids", name).split("\\s+", -1)) {
      if (!pid.isBlank()) {
        ProcessHandle.of(Long.parseLong(pid))
            .ifPresent(
                h -> {
                  h.destroyForcibly();
                  h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> h).join();
                });
      }
    }
    ip("netns", "delete", name);
  }

  /** Namespaces of earlier runs of this harness whose JVM no longer exists. */
  static List<String> stale() throws IOException, InterruptedException {
    List<String> out = new ArrayList<>();
    for (String name : list()) {
      Matcher m = OURS.matcher(name);
      if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
        out.add(name);
      }
    }
    return out;
  }

  private static void removeStale() throws IOException, InterruptedException {
    for (String name : stale()) {
      System.err.println(
          "NetNamespaces: removing stale namespace " + name + " (its test JVM is gone)");
      delete(name);
    }
  }

  /** Every network namespace name, from {@code ip netns list} ("name (id: 3)" lines). */
  static List<String> list() throws IOException, InterruptedException {
    List<String> out = new ArrayList<>();
    for (String line : ip("netns", "list").split("\n", -1)) {
      String name = line.trim().split("\\s+", -1)[0];
      if (!name.isEmpty()) {
        out.add(name);
      }
    }
    return out;
  }

  private static void requireRoot() throws IOException, InterruptedException {
    String uid = command(List.of("id", "-u")).trim();
    if (!uid.equals("0")) {
      throw new IllegalStateException(
          "network namespace tests need root (ip netns add, veth"
              + " pairs); this JVM runs as uid "
              + uid
              + ". CI runs them as root: run the build as"
              + " root (e.g. sudo mvn ...).");
    }
  }

  private static String ip(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    cmd.addAll(List.of(args));
    return command(cmd);
  }

  private static String command(List<String> cmd) throws IOException, InterruptedException {
    // Output to a file, so that neither a full pipe nor a hung command can block the wait.
    Path outFile = Files.createTempFile("netns-cmd", ".out");
    try {
      Process p;
      try {
        p =
            new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(outFile.toFile())
                .start();
      } catch (IOException e) {
        if (cmd.get(0).equals("ip")) {
          throw new IOException(
              "'ip' (iproute2) not found; install it: apt-get install -y" + " iproute2", e);
        }
        throw e;
      }
      if (!p.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(
            String.join(" ", cmd) + ": still running after " + COMMAND_TIMEOUT.toSeconds() + " s");
      }
      String out = read(outFile);
      if (p.exitValue() != 0) {
        throw new IOException(
            String.join(" ", cmd) + ": exit " + p.exitValue() + ": " + out.trim());
      }
      return out;
    } finally {
      Files.deleteIfExists(outFile);
    }
  }
}
