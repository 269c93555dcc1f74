package org.omnibiote.runlock;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.omnibiote.UserError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One run per run folder: the file {@value #FILE} in the run folder names the process that owns the
 * run (host, pid, start time). It is created atomically (exclusive create) before the run writes
 * anything; a second run refuses with the owner's name; the owner deletes it when it ends.
 *
 * <p>A lock whose owner is gone is taken over, with a warning. Gone means: on the same machine
 * (same host name, boot id and pid namespace), no live process with that pid and start time; on
 * another machine (or another container), no heartbeat: the owner rewrites the file every {@code
 * omnibiote.run-lock.heartbeat}, and a lock seen unchanged for {@code
 * omnibiote.run-lock.stale-after} is stale. That rule compares only what this process sees over
 * time, never clocks of two hosts, so it holds with skewed clocks; it needs the shared storage to
 * show another host's writes within stale-after (NFS close-to-open does, as each read opens the
 * file).
 *
 * <p>Two processes taking over the same stale lock at once are serialised by a guard file named for
 * the stale content ({@code run.lock.takeover-HASH}), created exclusively: only its creator deletes
 * the stale lock, after checking the lock still holds that content.
 */
public final class RunLock implements AutoCloseable {
  public static final String FILE = "run.lock";
  private static final Logger log = LoggerFactory.getLogger(RunLock.class);
  // Run folders this JVM owns: the commands take the lock, the coordinator singleton they start
  // in the same JVM finds it held here.
  private static final Map<Path, RunLock> HELD = new ConcurrentHashMap<>();

  /** Who holds a lock, as written in the file. */
  public record Owner(
      String host,
      long pid,
      String started,
      String command,
      String bootId,
      String pidNamespace,
      long heartbeat) {

    /** The owner as a person reads it: "pid 4242 on host vm (train, started 2026-...)". */
    public String describe() {
      return "pid " + pid + " on host " + host + " (" + command + ", started " + started + ")";
    }

    boolean sameMachine(Owner other) {
      return host.equals(other.host)
          && bootId.equals(other.bootId)
          && pidNamespace.equals(other.pidNamespace);
    }

    boolean sameProcess(Owner other) {
      return sameMachine(other) && pid == other.pid && started.equals(other.started);
    }

    String text() {
      Map<String, String> m = new LinkedHashMap<>();
      m.put("host", host);
      m.put("pid", Long.toString(pid));
      m.put("started", started);
      m.put("command", command);
      m.put("boot_id", bootId);
      m.put("pid_namespace", pidNamespace);
      m.put("heartbeat", Long.toString(heartbeat));
      StringBuilder b =
          new StringBuilder("# omnibiote: the process that owns this run folder (see RunLock)\n");
      m.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
      return b.toString();
    }

    static Optional<Owner> parse(String text) {
      Map<String, String> m = new LinkedHashMap<>();
      for (String line : text.split("\n", -1)) {
        int eq = line.indexOf('=');
        if (!line.startsWith("#") && eq > 0) {
          m.put(line.substring(0, eq), line.substring(eq + 1));
        }
      }
      try {
        return Optional.of(
            new Owner(
                require(m, "host"),
                Long.parseLong(require(m, "pid")),
                require(m, "started"),
                require(m, "command"),
                require(m, "boot_id"),
                require(m, "pid_namespace"),
                Long.parseLong(require(m, "heartbeat"))));
      } catch (IllegalArgumentException e) {
        return Optional.empty(); // being written, or not a lock of ours
      }
    }

    private static String require(Map<String, String> m, String key) {
      String v = m.get(key);
      if (v == null) {
        throw new IllegalArgumentException(key);
      }
      return v;
    }
  }

  /** How often the owner rewrites the lock, and how long an unchanged foreign lock lives. */
  public record Timing(Duration heartbeat, Duration staleAfter) {
    public static Timing from(Config config) {
      Config c = config.getConfig("omnibiote.run-lock");
      Timing t = new Timing(c.getDuration("heartbeat"), c.getDuration("stale-after"));
      if (t.heartbeat.isNegative()
          || t.heartbeat.isZero()
          || t.staleAfter.compareTo(t.heartbeat.multipliedBy(3)) < 0) {
        throw new UserError(
            "omnibiote.run-lock: stale-after ("
                + seconds(t.staleAfter)
                + " s) must be at least 3 heartbeats ("
                + t.heartbeat.toMillis()
                + " ms each)");
      }
      return t;
    }
  }

  private final Path file;
  private final Path runDir;
  private final List<Path> created = new ArrayList<>();
  private final boolean owning;
  private volatile Owner self;
  private final ScheduledExecutorService beat;
  private final Thread hook;

  private RunLock(Path runDir, Owner self, boolean owning, Duration heartbeat) {
    this.runDir = runDir;
    this.file = runDir.resolve(FILE);
    this.self = self;
    this.owning = owning;
    if (!owning) {
      beat = null;
      hook = null;
      return;
    }
    beat =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "omnibiote-run-lock");
              t.setDaemon(true);
              return t;
            });
    long ms = heartbeat.toMillis();
    // Never completes: heartbeat() catches its own failures (logged) and the executor ends it.
    var unused = beat.scheduleWithFixedDelay(this::heartbeat, ms, ms, TimeUnit.MILLISECONDS);
    // SIGTERM ends the JVM through System.exit: the commands' finally blocks may not run.
    hook = new Thread(this::release, "omnibiote-run-lock-release");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /**
   * Takes the lock of {@code runDir} for {@code command} (train, coordinator, ...), creating the
   * folder if needed; returns at once if this JVM already owns it (the handle then releases
   * nothing). Refuses with a {@link UserError} naming the owner while another live process owns it;
   * takes over a stale lock with a warning.
   */
  public static RunLock acquire(Path runDir, String command, Timing timing) {
    Path dir = runDir.toAbsolutePath().normalize();
    RunLock held = HELD.get(dir);
    if (held != null) {
      return new RunLock(dir, held.self, false, timing.heartbeat);
    }
    Owner me = ownerNow(command);
    // The folders this lock creates: removed again on release if the run left them empty (a
    // run refused after the lock, e.g. for a missing --base_dir, leaves nothing behind).
    List<Path> created = new ArrayList<>();
    for (Path p = dir; p != null && !Files.exists(p); p = p.getParent()) {
      created.add(p);
    }
    try {
      Files.createDirectories(dir);
      Path file = dir.resolve(FILE);
      for (int attempt = 0; attempt < 10; attempt++) {
        if (createExclusive(file, me.text())) {
          RunLock lock = new RunLock(dir, me, true, timing.heartbeat);
          lock.created.addAll(created);
          HELD.put(dir, lock);
          log.debug("locked the run folder {} ({})", dir, file);
          return lock;
        }
        String seen = readOrNull(file);
        if (seen == null) {
          continue; // released meanwhile
        }
        String verdict = staleness(file, seen, me, timing);
        if (verdict != null) {
          takeOver(dir, file, seen, verdict);
        }
      }
      throw new UserError(
          "could not lock the run folder " + dir + ": " + file + " keeps changing hands");
    } catch (IOException e) {
      throw new UserError("cannot lock the run folder " + dir + ": " + e);
    }
  }

  /** The owner recorded in {@code runDir}'s lock, if any (for messages and tests). */
  public static Optional<Owner> owner(Path runDir) throws IOException {
    String text = readOrNull(runDir.resolve(FILE));
    return text == null ? Optional.empty() : Owner.parse(text);
  }

  /**
   * Null when the lock {@code seen} belongs to a live owner (then throws the refusal), else why it
   * is stale. A lock of another machine is watched for up to stale-after: a change means a live
   * owner (refused), a vanished file a released one (null verdict is never returned for that: the
   * caller retries).
   */
  private static String staleness(Path file, String seen, Owner me, Timing timing)
      throws IOException {
    Optional<Owner> parsed = Owner.parse(seen);
    if (parsed.isPresent() && parsed.get().sameMachine(me)) {
      Owner o = parsed.get();
      if (alive(o)) {
        throw refusal(file, o);
      }
      return "that process is gone";
    }
    String who = parsed.map(Owner::describe).orElse("an unreadable owner");
    log.warn(
        "the run folder {} is locked by {}: watching its heartbeat for up to {} s",
        file.getParent(),
        who,
        seconds(timing.staleAfter));
    long deadline = System.nanoTime() + timing.staleAfter.toNanos();
    while (System.nanoTime() < deadline) {
      sleep(Math.min(1000, Math.max(100, timing.heartbeat.toMillis() / 4)));
      String now = readOrNull(file);
      if (now == null) {
        return null; // released: try again to create it
      }
      if (!now.equals(seen)) {
        Optional<Owner> o = Owner.parse(now);
        if (o.isPresent()) {
          throw refusal(file, o.get());
        }
        seen = now; // caught mid-write: keep watching from here
      }
    }
    return "no heartbeat for " + seconds(timing.staleAfter) + " s";
  }

  private static UserError refusal(Path file, Owner o) {
    return new UserError(
        "the run folder "
            + file.getParent()
            + " is in use by "
            + o.describe()
            + ", see "
            + file
            + ": wait for that run to end or stop it, or give another --save_name");
  }

  private static boolean alive(Owner o) {
    return ProcessHandle.of(o.pid())
        .filter(ProcessHandle::isAlive)
        .map(p -> startedText(p).equals(o.started()))
        .orElse(false);
  }

  /** Deletes the stale lock {@code seen} unless someone else takes it over first. */
  private static void takeOver(Path dir, Path file, String seen, String why) throws IOException {
    Path guard = dir.resolve(FILE + ".takeover-" + sha256(seen).substring(0, 16));
    try {
      Files.createFile(guard);
    } catch (FileAlreadyExistsException e) {
      sleep(500); // another process is taking it over: it will own it, or we will see it gone
      return;
    }
    try {
      if (!seen.equals(readOrNull(file))) {
        return;
      }
      Files.deleteIfExists(file);
      log.warn(
          "taking over the lock of the run folder {} from {}: {}",
          dir,
          Owner.parse(seen).map(Owner::describe).orElse("an unreadable owner"),
          why);
    } finally {
      Files.deleteIfExists(guard);
    }
  }

  /** Rewrites the lock with the next heartbeat; a lock that no longer names us is left alone. */
  private void heartbeat() {
    try {
      String now = readOrNull(file);
      Optional<Owner> o = now == null ? Optional.empty() : Owner.parse(now);
      if (o.isEmpty() || !o.get().sameProcess(self)) {
        log.error(
            "the lock {} no longer names this process (now: {}): another run may be writing"
                + " this run folder",
            file,
            o.map(Owner::describe).orElse("none"));
        beat.shutdown();
        return;
      }
      Owner next =
          new Owner(
              self.host(),
              self.pid(),
              self.started(),
              self.command(),
              self.bootId(),
              self.pidNamespace(),
              self.heartbeat() + 1);
      byte[] bytes = next.text().getBytes(StandardCharsets.UTF_8);
      // In place, not a rename: readers on other hosts open the same file and see the new beat.
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(bytes), 0);
        ch.truncate(bytes.length);
        ch.force(true);
      }
      self = next;
    } catch (IOException | RuntimeException e) {
      log.warn("cannot refresh the run lock {}: {}", file, e.toString());
    }
  }

  /** Stops the heartbeat and deletes the lock if it still names this process. */
  private synchronized void release() {
    if (!owning || !HELD.remove(runDir, this)) {
      return;
    }
    beat.shutdownNow();
    try {
      String now = readOrNull(file);
      if (now != null && Owner.parse(now).map(o -> o.sameProcess(self)).orElse(false)) {
        Files.deleteIfExists(file);
      }
      for (Path p : created) { // innermost first
        try {
          Files.deleteIfExists(p);
        } catch (java.nio.file.DirectoryNotEmptyException e) {
          break; // the run wrote there: keep it and its parents
        }
      }
    } catch (IOException e) {
      log.warn("cannot remove the run lock {}: {}", file, e.toString());
    }
  }

  @Override
  public void close() {
    release();
    if (hook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // the JVM is shutting down: the hook runs (or ran) anyway
      }
    }
  }

  private static boolean createExclusive(Path file, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    FileChannel ch;
    try {
      ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    } catch (FileAlreadyExistsException e) {
      return false;
    }
    try (ch) {
      ch.write(ByteBuffer.wrap(bytes));
      ch.force(true);
    }
    return true;
  }

  private static String readOrNull(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  static Owner ownerNow(String command) {
    ProcessHandle me = ProcessHandle.current();
    return new Owner(
        hostName(),
        me.pid(),
        startedText(me),
        command,
        firstLine(Path.of("/proc/sys/kernel/random/boot_id")),
        pidNamespace(),
        0);
  }

  private static String startedText(ProcessHandle p) {
    return p.info().startInstant().map(Instant::toString).orElse("unknown");
  }

  private static String hostName() {
    String h = firstLine(Path.of("/proc/sys/kernel/hostname"));
    if (h.isEmpty()) {
      try {
        h = java.net.InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        h = "unknown";
      }
    }
    return h;
  }

  private static String pidNamespace() {
    try {
      return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
    } catch (IOException | UnsupportedOperationException e) {
      return "";
    }
  }

  private static String firstLine(Path p) {
    try {
      return Files.readString(p, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "";
    }
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String seconds(Duration d) {
    return java.math.BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted while waiting for the run lock");
    }
  }
}
