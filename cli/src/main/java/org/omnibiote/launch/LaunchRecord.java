package org.omnibiote.launch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Properties;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;

/**
 * What {@code launch} started, kept in the run folder (shared storage, so any host reads it):
 * {@code RUN/launch/nodes.tsv} (one node a line: name, host, pid), {@code launch.properties} (the
 * ssh command and the remote omnibiote), and per node {@code NAME.log}, {@code NAME.pid} and, once
 * it ended, {@code NAME.exit} (its exit code, written by the shell that waits for it on its host).
 */
public final class LaunchRecord {
  /** A node: {@code coordinator} or {@code worker-HOST-SLOT}, where it runs, its JVM's pid. */
  public record Node(String name, String host, long pid) {
    public boolean coordinator() {
      return name.equals(COORDINATOR);
    }
  }

  public static final String COORDINATOR = "coordinator";
  public static final String FOLDER = "launch";

  private final Path dir;

  public LaunchRecord(Path runDir) {
    this.dir = runDir.resolve(FOLDER);
  }

  public Path dir() {
    return dir;
  }

  public Path log(String node) {
    return dir.resolve(node + ".log");
  }

  public Path exitFile(String node) {
    return dir.resolve(node + ".exit");
  }

  public boolean exists() {
    return Files.exists(dir.resolve("nodes.tsv"));
  }

  /** The nodes of the last launch, in start order (coordinator first). */
  public List<Node> nodes() throws IOException {
    Path f = dir.resolve("nodes.tsv");
    List<Node> out = new ArrayList<>();
    if (!Files.exists(f)) {
      return out;
    }
    List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String[] cols = lines.get(i).split("\t", -1);
      if (lines.get(i).isBlank()) {
        continue;
      }
      try {
        out.add(new Node(cols[0], cols[1], Long.parseLong(cols[2])));
      } catch (RuntimeException e) {
        throw new UserError(f + ":" + (i + 1) + ": not 'NAME<tab>HOST<tab>PID': " + lines.get(i));
      }
    }
    return out;
  }

  /** Starts a new launch: forgets the old nodes (their logs stay until overwritten). */
  public void begin(String ssh, String omnibiote) throws IOException {
    Files.createDirectories(dir);
    Properties p = new Properties();
    p.setProperty("ssh", ssh);
    p.setProperty("omnibiote", omnibiote);
    java.io.StringWriter w = new java.io.StringWriter();
    p.store(w, "omnibiote launch: how status and stop reach the nodes");
    AtomicFiles.write(
        dir.resolve("launch.properties"), w.toString().getBytes(StandardCharsets.UTF_8));
    AtomicFiles.write(dir.resolve("nodes.tsv"), new byte[0]);
  }

  /** The ssh command and remote omnibiote of the last launch. */
  public Properties settings() throws IOException {
    Properties p = new Properties();
    Path f = dir.resolve("launch.properties");
    if (Files.exists(f)) {
      try (var r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
        p.load(r);
      }
    }
    return p;
  }

  /** Records a started node (its pid file and its line in nodes.tsv, both replaced atomically). */
  public synchronized void add(Node n) throws IOException {
    AtomicFiles.write(
        dir.resolve(n.name() + ".pid"), (n.pid() + "\n").getBytes(StandardCharsets.UTF_8));
    StringBuilder sb = new StringBuilder();
    for (Node o : nodes()) {
      sb.append(o.name()).append('\t').append(o.host()).append('\t').append(o.pid()).append('\n');
    }
    sb.append(n.name()).append('\t').append(n.host()).append('\t').append(n.pid()).append('\n');
    AtomicFiles.write(dir.resolve("nodes.tsv"), sb.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** The exit code the node's host recorded, if it has ended. */
  public OptionalInt exitCode(String node) throws IOException {
    Path f = exitFile(node);
    if (!Files.exists(f)) {
      return OptionalInt.empty();
    }
    String s = Files.readString(f, StandardCharsets.UTF_8).strip();
    try {
      return OptionalInt.of(Integer.parseInt(s));
    } catch (NumberFormatException e) {
      return OptionalInt.empty(); // being written
    }
  }

  /** The last line of {@code node}'s log that contains {@code text}, or null. */
  public String lastLine(String node, String text) throws IOException {
    Path f = log(node);
    if (!Files.exists(f)) {
      return null;
    }
    String found = null;
    for (String line : new String(Files.readAllBytes(f), StandardCharsets.UTF_8).split("\n", -1)) {
      if (line.contains(text)) {
        found = line;
      }
    }
    return found;
  }
}
