package org.omnibiote.launch;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.omnibiote.UserError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nodes of one run on hosts reached over ssh: starts each as a detached process on its host
 * (its log and exit code into the run folder, which is shared storage), finds whether each still
 * runs, and signals them. Used by {@code launch}, {@code launch status} and {@code launch stop}.
 *
 * <p>On the host, a small {@code sh} waits for the node's JVM and writes its exit code to {@code
 * NAME.exit}; the JVM's own pid goes back to the launcher over ssh, so a signal reaches the JVM
 * itself (SIGTERM: the coordinator checkpoints then exits 0, a worker leaves at a step boundary).
 */
public final class SshCluster {
  private static final Logger log = LoggerFactory.getLogger(SshCluster.class);

  /** What a node is doing now. */
  public enum State {
    RUNNING,
    EXITED,
    GONE
  }

  /** A node and what it is doing now (exit code when it ended and its host recorded it). */
  public record Status(LaunchRecord.Node node, State state, OptionalInt exit) {
    public String describe() {
      return switch (state) {
        case RUNNING -> "running";
        case EXITED -> "exited " + exit.getAsInt();
        case GONE -> "gone (no exit code recorded)";
      };
    }
  }

  private final Ssh ssh;
  private final LaunchRecord record;
  private final String omnibiote;

  public SshCluster(Ssh ssh, LaunchRecord record, String omnibiote) {
    this.ssh = ssh;
    this.record = record;
    this.omnibiote = omnibiote;
  }

  public LaunchRecord record() {
    return record;
  }

  /**
   * Starts {@code args} (an omnibiote command line) as node {@code name} on {@code host}, detached
   * from the ssh session; returns its JVM's pid once the host has started it. {@code slots} (0 for
   * the coordinator) divides the host's cores among its workers unless OMP_NUM_THREADS is set.
   */
  public LaunchRecord.Node start(String name, String host, int slots, List<String> args)
      throws IOException, InterruptedException {
    Path logFile = record.log(name);
    Path exitFile = record.exitFile(name);
    Files.deleteIfExists(exitFile);
    List<String> cmd = new ArrayList<>();
    cmd.add(omnibiote);
    cmd.addAll(args);
    String script =
        "dir="
            + Ssh.quote(record.dir().getParent().toString())
            + "; log="
            + Ssh.quote(logFile.toString())
            + "; exitf="
            + Ssh.quote(exitFile.toString())
            + "; slots="
            + slots
            + "; set -- "
            + Ssh.quote(cmd)
            + "\n"
            + "[ -x \"$1\" ] || { echo \"no executable $1 on $(hostname)\" >&2; exit 127; }\n"
            + "[ -d \"$(dirname \"$log\")\" ] || { echo \"no folder $(dirname \"$log\") on"
            + " $(hostname): the run folder must be shared storage, the same path on every"
            + " host\" >&2; exit 2; }\n"
            + "cd \"$dir\" || exit 2\n"
            + "rm -f \"$exitf\"\n"
            + "if [ \"$slots\" -gt 0 ] && [ -z \"${OMP_NUM_THREADS:-}\" ]; then\n"
            + "  t=$(( $(nproc 2>/dev/null || echo 1) / slots )); [ \"$t\" -ge 1 ] || t=1\n"
            + "  OMP_NUM_THREADS=$t; export OMP_NUM_THREADS\n"
            + "fi\n"
            // The shell that stays writes the exit code; the JVM's pid comes back through a FIFO
            // (sshd does not wait for a background child's output once the session's shell has
            // exited). nohup: the JVM keeps SIGHUP ignored when the session ends.
            + "fifo=$(mktemp -u \"${TMPDIR:-/tmp}/omnibiote-launch.XXXXXX\") && mkfifo -m 600"
            + " \"$fifo\" || exit 2\n"
            + "nohup sh -c 'f=$1; x=$2; shift 2; \"$@\" </dev/null & pid=$!; echo \"$pid\" >\"$f\";"
            + " wait \"$pid\"; echo \"$?\" >\"$x\"' sh \"$fifo\" \"$exitf\" \"$@\" >\"$log\" 2>&1"
            + " </dev/null &\n"
            + "read pid <\"$fifo\"; rm -f \"$fifo\"; echo \"$pid\"\n";
    Ssh.Result r = ssh.run(host, script);
    String pid = r.out().strip();
    if (r.exit() != 0 || !pid.matches("\\d+")) {
      throw new UserError("could not start the " + name + " on " + host + ": " + r.why());
    }
    LaunchRecord.Node n = new LaunchRecord.Node(name, host, Long.parseLong(pid));
    record.add(n);
    log.debug("started {} on {}: pid {}, log {}", name, host, pid, logFile);
    return n;
  }

  /** What each node of the last launch is doing, one ssh per host. */
  public List<Status> status() throws IOException, InterruptedException {
    List<LaunchRecord.Node> nodes = record.nodes();
    Map<String, List<LaunchRecord.Node>> byHost = new LinkedHashMap<>();
    for (LaunchRecord.Node n : nodes) {
      byHost.computeIfAbsent(n.host(), h -> new ArrayList<>()).add(n);
    }
    Map<String, Boolean> running = new HashMap<>();
    for (Map.Entry<String, List<LaunchRecord.Node>> e : byHost.entrySet()) {
      List<String> pids = new ArrayList<>();
      for (LaunchRecord.Node n : e.getValue()) {
        pids.add(Long.toString(n.pid()));
      }
      Ssh.Result r =
          ssh.run(e.getKey(), "ps -o pid= -o args= -p " + String.join(",", pids) + " || true");
      if (r.exit() != 0) {
        throw new UserError("cannot reach " + e.getKey() + ": " + r.why());
      }
      Map<Long, String> args = new HashMap<>();
      for (String line : r.out().split("\n", -1)) {
        String t = line.strip();
        int sp = t.indexOf(' ');
        if (sp > 0 && t.substring(0, sp).matches("\\d+")) {
          args.put(Long.parseLong(t.substring(0, sp)), t.substring(sp + 1));
        }
      }
      for (LaunchRecord.Node n : e.getValue()) {
        String a = args.get(n.pid());
        // The pid must still be our node, not a process that got its number later.
        String role = n.coordinator() ? "coordinator" : "worker";
        running.put(n.name(), a != null && a.contains("omnibiote") && a.contains(" " + role + " "));
      }
    }
    List<Status> out = new ArrayList<>();
    for (LaunchRecord.Node n : nodes) {
      OptionalInt exit = record.exitCode(n.name());
      State s =
          running.get(n.name()) && exit.isEmpty()
              ? State.RUNNING
              : exit.isPresent() ? State.EXITED : State.GONE;
      out.add(new Status(n, s, exit));
    }
    return out;
  }

  /** Sends SIGTERM to a running node's JVM. */
  public void terminate(LaunchRecord.Node n) throws IOException, InterruptedException {
    Ssh.Result r = ssh.run(n.host(), "kill -TERM " + n.pid());
    if (r.exit() != 0) {
      // It may have ended between the status and the kill.
      log.info("kill -TERM {} on {}: {}", n.pid(), n.host(), r.why());
    }
  }

  /** Runs {@code args} of omnibiote on {@code host} in the foreground and returns its result. */
  public Ssh.Result run(String host, List<String> args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(omnibiote);
    cmd.addAll(args);
    return ssh.run(host, Ssh.quote(cmd) + " 2>&1");
  }

  /**
   * Waits until no node of {@code names} runs (polled every 2 s) or {@code timeout} passes; returns
   * the last status of every node.
   */
  public List<Status> awaitEnd(List<String> names, Duration timeout, PrintWriter out)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long started = System.nanoTime();
    long lastNote = started;
    while (true) {
      List<Status> now = status();
      List<String> still = new ArrayList<>();
      for (Status s : now) {
        if (names.contains(s.node().name()) && s.state() == State.RUNNING) {
          still.add(s.node().name());
        }
      }
      if (still.isEmpty() || System.nanoTime() > deadline) {
        return now;
      }
      if (System.nanoTime() - lastNote > Duration.ofSeconds(30).toNanos()) {
        out.printf(
            "  still running after %d s: %s%n",
            Duration.ofNanos(System.nanoTime() - started).toSeconds(), String.join(", ", still));
        out.flush();
        lastNote = System.nanoTime();
      }
      Thread.sleep(2000);
    }
  }
}
