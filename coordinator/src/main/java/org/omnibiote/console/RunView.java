package org.omnibiote.console;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.omnibiote.checkpoint.CheckpointManifest;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.data.DataSummary;

/**
 * What the console shows of a run: the coordinator actor writes it as the run goes (one writer),
 * the console's HTTP threads read snapshots of it. Everything it holds is bounded: the metric
 * history is thinned past {@link MetricHistory#LIMIT} points, the events and departed workers are
 * the last {@value #EVENTS} and {@value #DEPARTED}, a worker's log the last {@value #LOG_LINES}
 * lines.
 */
public final class RunView {
  static final int EVENTS = 1000;
  static final int DEPARTED = 100;
  static final int LOG_LINES = 40;
  private static final int RATE_WINDOW = 20;

  /** Where the run stands, as the console names it. */
  public enum Phase {
    WAITING("waiting for workers"),
    FORMING("forming"),
    RUNNING("running"),
    PAUSED("paused"),
    SAVING("saving"),
    RECOVERING("recovering"),
    DONE("done"),
    STOPPED("stopped"),
    FAILED("failed");

    private final String label;

    Phase(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  /** The run's line: phase, counters, plan, the last checkpoint, the settings in effect. */
  public record Run(
      String phase,
      String detail,
      long step,
      long totalSteps,
      long tokens,
      long totalTokens,
      long samples,
      Double etaSeconds,
      Double stepsPerSecond,
      long generation,
      int worldSize,
      boolean paused,
      List<String> pending,
      Map<String, Object> lastCheckpoint,
      Map<String, Object> settings,
      String runDir,
      long startedAt,
      long updatedAt,
      long version) {}

  /** A worker as the console lists it; {@code departed*} set once it left the run. */
  public record Worker(
      String id,
      Integer rank,
      String device,
      String host,
      long pid,
      long generation,
      String state,
      Double stepSeconds,
      Double waitSeconds,
      Double commSeconds,
      Double heartbeatAgeSeconds,
      Double rssMb,
      Double gpuMb,
      Double gpuReservedMb,
      String departedReason,
      Long departedAt,
      List<String> log) {}

  /** Something that happened to the run. {@code by}: the token id of an operator's action. */
  public record Event(long seq, long time, String kind, String message, String by) {}

  /** A dataset of the run and how far the current epoch has gone. */
  public record DataRow(
      String name,
      int trainShards,
      int valShards,
      long trainRows,
      long valRows,
      long tokens,
      long documents,
      long epoch,
      double epochProgress) {}

  private static final class WorkerState {
    final String id;
    final String path;
    String device = "?";
    String host = "?";
    long pid;
    Integer rank;
    long generation = -1;
    String state = "registered";
    Double stepSeconds;
    Double waitSeconds;
    Double commSeconds;
    long heartbeatAt;
    Double rssMb;
    Double gpuMb;
    Double gpuReservedMb;
    String departedReason;
    Long departedAt;
    final Deque<String> log = new ArrayDeque<>();

    WorkerState(String id, String path) {
      this.id = id;
      this.path = path;
    }

    Worker snapshot(long now) {
      return new Worker(
          id,
          rank,
          device,
          host,
          pid,
          generation,
          state,
          stepSeconds,
          waitSeconds,
          commSeconds,
          heartbeatAt == 0 || departedAt != null ? null : (now - heartbeatAt) / 1000.0,
          rssMb,
          gpuMb,
          gpuReservedMb,
          departedReason,
          departedAt,
          List.copyOf(log));
    }
  }

  private final Path runDir;
  private final String checkpointName;
  private DataSummary data;
  private final long startedAt = System.currentTimeMillis();
  private final MetricHistory train = new MetricHistory(MetricHistory.LIMIT);
  private final MetricHistory val = new MetricHistory(MetricHistory.LIMIT);
  private final Map<String, WorkerState> workers = new LinkedHashMap<>();
  private final Deque<WorkerState> departed = new ArrayDeque<>();
  private final Deque<Event> events = new ArrayDeque<>();
  private final Deque<Long> commitTimes = new ArrayDeque<>();
  private final Map<String, Object> settings = new TreeMap<>();
  private final Map<String, Long> eventCounts = new TreeMap<>();
  private long nextWorkerId = 1;
  private long eventSeq;
  private long version;
  private Phase phase = Phase.WAITING;
  private String detail = "";
  private long step;
  private long totalSteps;
  private long tokens;
  private long totalTokens;
  private long samples;
  private long generation;
  private int worldSize;
  private boolean paused;
  private List<String> pending = List.of();
  private Map<String, Object> lastCheckpoint;
  private volatile boolean started;

  public RunView(Path runDir, String checkpointName, DataSummary data, Map<String, ?> settings) {
    this.runDir = runDir;
    this.checkpointName = checkpointName;
    this.data = data;
    this.settings.putAll(settings);
  }

  /** A view of the run {@code spec} prepares, with its settings as started. */
  public static RunView of(org.omnibiote.coordinator.RunSpec spec) {
    return new RunView(spec.runDir(), spec.checkpointName(), spec.data(), spec.settingsFlat());
  }

  /** Whether a coordinator drives this run in this JVM (the console is ready). */
  public boolean started() {
    return started;
  }

  // ---- written by the coordinator ------------------------------------------------------------

  public synchronized void start(long step, long totalSteps, long tokens, long totalTokens) {
    this.step = step;
    this.totalSteps = totalSteps;
    this.tokens = tokens;
    this.totalTokens = totalTokens;
    this.started = true;
    changed();
  }

  public synchronized void phase(Phase p, String why) {
    if (p != phase || !why.equals(detail)) {
      phase = p;
      detail = why;
      changed();
    }
  }

  public synchronized Phase phase() {
    return phase;
  }

  public synchronized void control(boolean paused, List<String> pending) {
    this.paused = paused;
    this.pending = List.copyOf(pending);
    changed();
  }

  public synchronized void plan(long totalSteps, long totalTokens, String key, Object value) {
    this.totalSteps = totalSteps;
    this.totalTokens = totalTokens;
    if (key != null) {
      settings.put(key, value);
    }
    changed();
  }

  public synchronized void world(long generation, List<String> rankPaths) {
    this.generation = generation;
    this.worldSize = rankPaths.size();
    for (WorkerState w : workers.values()) {
      int r = rankPaths.indexOf(w.path);
      w.rank = r < 0 ? null : r;
      if (r >= 0) {
        w.generation = generation;
        w.state = "joining";
      } else if (w.departedAt == null) {
        w.state = "idle";
      }
    }
    changed();
  }

  /** A worker registered (or described itself). */
  public synchronized void worker(String path, String device, String host, long pid) {
    WorkerState w = workers.computeIfAbsent(path, p -> new WorkerState("w" + nextWorkerId++, p));
    w.device = device;
    w.host = host;
    w.pid = pid;
    if (w.heartbeatAt == 0) {
      w.heartbeatAt = System.currentTimeMillis();
    }
    changed();
  }

  /** Sets the state of every world member ("training", "saving", "idle" ...). */
  public synchronized void worldState(String state) {
    for (WorkerState w : workers.values()) {
      if (w.rank != null && w.departedAt == null) {
        w.state = state;
      }
    }
    changed();
  }

  public synchronized void heartbeat(
      String path, double rssMb, double gpuMb, double gpuReservedMb, List<String> newLines) {
    WorkerState w = workers.get(path);
    if (w == null) {
      return;
    }
    w.heartbeatAt = System.currentTimeMillis();
    w.rssMb = rssMb;
    if (gpuMb > 0 || gpuReservedMb > 0) {
      w.gpuMb = gpuMb;
      w.gpuReservedMb = gpuReservedMb;
    }
    for (String line : newLines) {
      w.log.addLast(line);
      while (w.log.size() > LOG_LINES) {
        w.log.removeFirst();
      }
    }
    changed();
  }

  /** A worker's share of the last committed step. */
  public synchronized void workerStep(
      String path, double seconds, double waitSeconds, double commSeconds, double rssMb) {
    WorkerState w = workers.get(path);
    if (w != null) {
      w.stepSeconds = seconds;
      w.waitSeconds = waitSeconds;
      w.commSeconds = commSeconds;
      w.rssMb = rssMb;
    }
  }

  /** A worker left the run: it stays listed, with why and its last log lines. */
  public synchronized void departed(String path, String why) {
    WorkerState w = workers.remove(path);
    if (w == null) {
      return;
    }
    w.departedReason = why;
    w.departedAt = System.currentTimeMillis();
    w.state = "departed";
    w.rank = null;
    departed.addFirst(w);
    while (departed.size() > DEPARTED) {
      departed.removeLast();
    }
    changed();
  }

  /** The id the console shows for a live worker's path, or null. */
  public synchronized String idOf(String path) {
    WorkerState w = workers.get(path);
    return w == null ? null : w.id;
  }

  /** The path of the live worker the console calls {@code id} (or a rank, or a path), or null. */
  public synchronized String pathOf(String id) {
    for (WorkerState w : workers.values()) {
      if (w.id.equals(id)
          || w.path.equals(id)
          || (w.rank != null && String.valueOf(w.rank).equals(id))) {
        return w.path;
      }
    }
    return null;
  }

  /** A committed step: its metrics line (as metrics.jsonl has it). */
  public synchronized void committed(Map<String, Object> metrics) {
    step = ((Number) metrics.get("step")).longValue();
    tokens = ((Number) metrics.get("tokens")).longValue();
    samples = ((Number) metrics.get("samples")).longValue();
    long now = System.currentTimeMillis();
    commitTimes.addLast(now);
    while (commitTimes.size() > RATE_WINDOW) {
      commitTimes.removeFirst();
    }
    Map<String, Object> row = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : metrics.entrySet()) {
      if (!(e.getValue() instanceof List) && !(e.getValue() instanceof String)) {
        row.put(e.getKey(), e.getValue());
      }
    }
    train.add(row);
    changed();
  }

  /** An evaluation: {@code losses} per dataset after step {@code step}. */
  public synchronized void evaluated(long step, long tokens, Map<?, ?> losses) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("step", step);
    row.put("tokens", tokens);
    row.put("time", System.currentTimeMillis() / 1000.0);
    for (Map.Entry<?, ?> e : losses.entrySet()) {
      row.put(String.valueOf(e.getKey()), e.getValue());
    }
    val.add(row);
    changed();
  }

  public synchronized void checkpoint(String name, long step, long tokens) {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("name", name);
    c.put("step", step);
    c.put("tokens", tokens);
    c.put("time", System.currentTimeMillis());
    lastCheckpoint = c;
    changed();
  }

  public synchronized Event event(String kind, String message, String by) {
    Event e = new Event(++eventSeq, System.currentTimeMillis(), kind, message, by);
    eventCounts.merge(kind, 1L, Long::sum);
    events.addLast(e);
    while (events.size() > EVENTS) {
      events.removeFirst();
    }
    changed();
    return e;
  }

  /** The data as it stands after a data generation was adopted. */
  public synchronized void data(DataSummary now) {
    this.data = now;
    changed();
  }

  /**
   * A data generation the run adopted before step {@code step} (from global sample {@code
   * firstSample}): what it added and superseded over the run's datasets, and its source file.
   */
  public record Adopted(
      long generation,
      long step,
      long firstSample,
      String source,
      long documentsAdded,
      long tokensAdded,
      long documentsSuperseded,
      long tokensSuperseded,
      long time) {}

  /** The data generations of the run's base_dir: committed by follow, and adopted (the last 50). */
  public record Generations(long committed, long adopted, List<Adopted> adoptions) {}

  private long generationsCommitted;
  private long generationsAdopted;
  private final ArrayDeque<Adopted> adoptions = new ArrayDeque<>();

  /** The newest generation follow committed, as the coordinator last saw it. */
  public synchronized void generationsCommitted(long latest) {
    if (latest != generationsCommitted) {
      generationsCommitted = latest;
      changed();
    }
  }

  /** A data generation adopted. */
  public synchronized void adopted(Adopted a) {
    generationsAdopted = Math.max(generationsAdopted, a.generation());
    generationsCommitted = Math.max(generationsCommitted, a.generation());
    adoptions.addLast(a);
    while (adoptions.size() > 50) {
      adoptions.removeFirst();
    }
    changed();
  }

  public synchronized Generations generations() {
    return new Generations(generationsCommitted, generationsAdopted, List.copyOf(adoptions));
  }

  private void changed() {
    version++;
  }

  // ---- read by the console -----------------------------------------------------------------

  public synchronized long version() {
    return version;
  }

  public synchronized Run run() {
    long now = System.currentTimeMillis();
    Double rate = null;
    Double eta = null;
    if (commitTimes.size() >= 2) {
      double span = (commitTimes.getLast() - commitTimes.getFirst()) / 1000.0;
      if (span > 0) {
        rate = (commitTimes.size() - 1) / span;
        eta =
            phase == Phase.DONE || phase == Phase.STOPPED || phase == Phase.FAILED
                ? 0.0
                : (totalSteps - step) / rate;
      }
    }
    return new Run(
        phase.label(),
        detail,
        step,
        totalSteps,
        tokens,
        totalTokens,
        samples,
        eta,
        rate,
        generation,
        worldSize,
        paused,
        pending,
        lastCheckpoint,
        new TreeMap<>(settings),
        runDir.toString(),
        startedAt,
        now,
        version);
  }

  /** Live workers (world members by rank first), then departed ones, newest first. */
  public synchronized List<Worker> workers() {
    long now = System.currentTimeMillis();
    List<Worker> out = new ArrayList<>();
    workers.values().stream()
        .sorted(
            (a, b) -> {
              int ra = a.rank == null ? Integer.MAX_VALUE : a.rank;
              int rb = b.rank == null ? Integer.MAX_VALUE : b.rank;
              return ra != rb ? Integer.compare(ra, rb) : a.id.compareTo(b.id);
            })
        .forEach(w -> out.add(w.snapshot(now)));
    for (WorkerState w : departed) {
      out.add(w.snapshot(now));
    }
    return out;
  }

  /** The worker the console calls {@code id} (live or departed), or null. */
  public synchronized Worker worker(String id) {
    for (Worker w : workers()) {
      if (w.id().equals(id)) {
        return w;
      }
    }
    return null;
  }

  public synchronized List<Event> events(long since) {
    List<Event> out = new ArrayList<>();
    for (Event e : events) {
      if (e.seq() > since) {
        out.add(e);
      }
    }
    return out;
  }

  /** The last committed step's metrics line (null before the first). */
  public synchronized Map<String, Object> latestStep() {
    return train.latest();
  }

  /** The last evaluation (step, tokens, time, a loss per dataset), or null. */
  public synchronized Map<String, Object> latestVal() {
    return val.latest();
  }

  /** Events so far by kind (abort, checkpoint, membership ...), the counters of /metrics. */
  public synchronized Map<String, Long> eventCounts() {
    return new TreeMap<>(eventCounts);
  }

  public synchronized MetricHistory.Slice trainMetrics(long since) {
    return train.since(since);
  }

  public synchronized MetricHistory.Slice valMetrics(long since) {
    return val.since(since);
  }

  public synchronized List<DataRow> data() {
    List<DataRow> out = new ArrayList<>();
    if (data == null) {
      return out;
    }
    for (DataSummary.Dataset d : data.datasets()) {
      long drawn = data.drawn(d.name(), samples);
      long epoch = d.trainRows() == 0 ? 0 : drawn / d.trainRows();
      double progress = d.trainRows() == 0 ? 0 : (double) (drawn % d.trainRows()) / d.trainRows();
      out.add(
          new DataRow(
              d.name(),
              d.trainShards(),
              d.valShards(),
              d.trainRows(),
              d.valRows(),
              d.tokens(),
              d.documents(),
              epoch,
              progress));
    }
    return out;
  }

  /** A committed checkpoint of the run, read from its manifest. */
  public record CheckpointRow(
      String name,
      long step,
      long tokens,
      long time,
      long sizeBytes,
      String sha256,
      String manifest,
      boolean periodic) {}

  /**
   * The run folder's committed checkpoints, oldest first (read from disk, so a finished run's are
   * listed too): tokens, step, time, size of all parts and the SHA-256 of the weights.
   */
  public List<CheckpointRow> checkpoints() throws IOException {
    List<Path> manifests = new ArrayList<>(Checkpoints.list(runDir, checkpointName));
    boolean hasFinal = Checkpoints.exists(runDir, checkpointName);
    if (hasFinal) {
      manifests.add(Checkpoints.manifestOf(runDir, checkpointName));
    }
    List<CheckpointRow> out = new ArrayList<>();
    for (Path m : manifests) {
      CheckpointManifest cm;
      try {
        cm = CheckpointManifest.read(m);
      } catch (IOException | RuntimeException e) {
        continue; // pruned or being replaced meanwhile
      }
      long size = cm.parts().values().stream().mapToLong(CheckpointManifest.Part::bytes).sum();
      CheckpointManifest.Part weights = cm.parts().get(Checkpoints.WEIGHTS);
      long time;
      try {
        time = Files.getLastModifiedTime(m).toMillis();
      } catch (IOException e) {
        continue;
      }
      out.add(
          new CheckpointRow(
              cm.name(),
              cm.step(),
              cm.tokens(),
              time,
              size,
              weights == null ? null : weights.sha256(),
              m.toString(),
              !cm.name().equals(checkpointName)));
    }
    return out;
  }
}
