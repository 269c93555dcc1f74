package org.omnibiote.coordinator;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.omnibiote.console.RunView;
import org.omnibiote.metrics.Flops;
import org.omnibiote.metrics.MetricsLog;
import org.omnibiote.metrics.TrainProgress;
import org.omnibiote.schedule.Ledger;
import org.omnibiote.schedule.RunPlan;
import org.omnibiote.schedule.RunSchedule;
import org.omnibiote.schedule.RunSchedule.Counters;

/**
 * What a run writes down as it goes, in its run folder: the ledger (every committed, aborted and
 * rewound step, with who trained which samples), {@code metrics.jsonl} (a line per committed step
 * and per evaluation) and the progress line. The {@link Coordinator} decides; this records.
 */
final class RunRecords implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final RunSpec spec;
  private final Ledger ledger;
  private final MetricsLog metrics;
  private final TrainProgress progress;
  private final long lastGeneration;
  private final List<RunPlan.Change> changes;
  private final RunView view;
  private final java.io.BufferedWriter events;
  private double lastLoss = Double.NaN;

  /** The run folder's log of what happened ({@link RunView.Event}s), one JSON line each. */
  static final String EVENTS_FILE = "events.jsonl";

  private RunRecords(
      RunSpec spec,
      Ledger ledger,
      MetricsLog metrics,
      TrainProgress progress,
      long lastGeneration,
      List<RunPlan.Change> changes,
      RunView view)
      throws IOException {
    this.spec = spec;
    this.ledger = ledger;
    this.metrics = metrics;
    this.progress = progress;
    this.lastGeneration = lastGeneration;
    this.changes = changes;
    this.view = view;
    this.events =
        Files.newBufferedWriter(
            spec.runDir().resolve(EVENTS_FILE),
            java.nio.charset.StandardCharsets.UTF_8,
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.APPEND);
  }

  /**
   * Opens the records of a run that starts (or resumes) at {@code at}. Steps an earlier coordinator
   * committed after that checkpoint were lost with it: the ledger records the rewind, and they are
   * trained again; metrics.jsonl drops their lines so that it tells one history.
   */
  static RunRecords open(RunSpec spec, Counters at, RunView view) throws IOException {
    Files.createDirectories(spec.runDir());
    Path ledgerFile = spec.runDir().resolve(Ledger.FILE);
    long generation = 0;
    long stepsDone = 0;
    List<RunPlan.Change> changes = List.of();
    List<org.omnibiote.data.Adoption> adoptions = List.of();
    if (Files.exists(ledgerFile)) {
      List<Ledger.Entry> before = Ledger.read(ledgerFile);
      generation = before.stream().mapToLong(Ledger.Entry::generation).max().orElse(0);
      stepsDone = Ledger.stepsDone(before);
      changes = Ledger.changes(before);
      adoptions = Ledger.adoptions(before);
    }
    Ledger ledger = Ledger.open(spec.runDir());
    RunRecords records =
        new RunRecords(
            spec,
            ledger,
            MetricsLog.open(spec.runDir(), at.step()),
            new TrainProgress(
                spec.plan().totalSteps(),
                at.step(),
                spec.settings().progressInterval(),
                System.err),
            generation,
            changes,
            view);
    records.adoptions = List.copyOf(adoptions);
    if (stepsDone > at.step()) {
      records.rewound(at.step(), generation);
    }
    return records;
  }

  private List<org.omnibiote.data.Adoption> adoptions = List.of();

  /** The highest world generation an earlier coordinator of this run folder formed (0: none). */
  long lastGeneration() {
    return lastGeneration;
  }

  /** The data generations an earlier coordinator of this run folder adopted (from the ledger). */
  List<org.omnibiote.data.Adoption> adoptions() {
    return adoptions;
  }

  /** A data generation adopted before step {@code step} (after {@code step} steps). */
  void adopted(long step, long generation, Ledger.Adopted a) {
    ledger.append(new Ledger.Entry(step, generation, Ledger.Entry.ADOPTED, null, null, a));
  }

  /** The settings operators changed during the run, from the ledger (see {@link RunPlan#with}). */
  List<RunPlan.Change> changes() {
    return changes;
  }

  /** An operator's action, applied before step {@code step}. */
  void action(long step, long generation, Coordinator.Admin a, String detail) {
    ledger.append(
        new Ledger.Entry(
            step,
            generation,
            Ledger.Entry.ACTION,
            null,
            new Ledger.Action(a.action(), a.by(), a.key(), a.value(), detail)));
  }

  /** Appends an event to the run folder's events.jsonl (flushed: a tail -f shows it). */
  void event(RunView.Event e) {
    try {
      events.write(JSON.writeValueAsString(e));
      events.newLine();
      events.flush();
    } catch (IOException x) {
      // the console still has it; a full disk shows in the checkpoints first
    }
  }

  /** The loss of the last step committed by this coordinator (NaN: none). */
  double lastLoss() {
    return lastLoss;
  }

  /** The run goes back to the state after {@code step} steps: later commits do not count. */
  void rewound(long step, long generation) {
    ledger.append(new Ledger.Entry(step, generation, Ledger.Entry.RESTORED, List.of()));
  }

  void aborted(Ledger.Entry entry) {
    ledger.append(entry);
  }

  /**
   * Step {@code o} is committed: the ledger entry, then its metrics line (and the validation line
   * when rank 0 evaluated), then the progress line.
   *
   * @param loss the step's loss (the ranks' parts summed, as the coordinator checked it)
   * @param reports the ranks' reports in rank order
   * @param peakFlops the world's summed matmul rate, each worker's measured when it joined
   */
  void committed(
      Ledger.Entry entry,
      RunSchedule.StepOrder o,
      Counters at,
      double loss,
      List<Coordinator.StepDone> reports,
      double peakFlops) {
    ledger.append(entry);
    long masked = 0;
    long nonPad = 0;
    double slowest = 0;
    for (Coordinator.StepDone d : reports) {
      masked += d.masked();
      nonPad += d.nonPad();
      slowest = Math.max(slowest, d.seconds());
    }
    lastLoss = loss;
    double lr = spec.plan().peakLr() * o.lrFactor();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", at.step());
    m.put("tokens", at.tokens());
    m.put("samples", at.samples());
    m.put("loss", loss);
    // The global gradient norm before the clip, as every rank computed it after the all-reduce.
    m.put("grad_norm", reports.get(0).gradNorm());
    m.put("lr", lr);
    m.put("batch", o.rows());
    m.put("masked_tokens", masked);
    m.put("tokens_per_s", nonPad / slowest);
    m.put("step_s", slowest);
    m.put("mfu", Flops.mfu(Flops.perStepFlops(spec.model(), o.rows(), masked), slowest, peakFlops));
    m.put(
        "mfu_original",
        Flops.mfu(Flops.originalFlopsPerToken(spec.model()) * nonPad, slowest, peakFlops));
    m.put("rss_mb", reports.stream().mapToDouble(Coordinator.StepDone::rssMb).max().orElse(0));
    // The largest worker's peak GPU memory of the step (0 on CPU workers).
    double gpuMb =
        reports.stream().mapToDouble(Coordinator.StepDone::gpuAllocatedMb).max().orElse(0);
    m.put("gpu_mem_mb", gpuMb);
    m.put(
        "gpu_reserved_mb",
        reports.stream().mapToDouble(Coordinator.StepDone::gpuReservedMb).max().orElse(0));
    m.put("workers", reports.size());
    m.put("generation", o.generation());
    m.put("worker_step_s", reports.stream().map(Coordinator.StepDone::seconds).toList());
    m.put("worker_wait_s", reports.stream().map(Coordinator.StepDone::waitSeconds).toList());
    // The step's critical path split: data wait and exposed communication of the slowest rank,
    // the rest computing.
    Coordinator.StepDone slow =
        reports.stream()
            .max(java.util.Comparator.comparingDouble(Coordinator.StepDone::seconds))
            .orElseThrow();
    m.put("wait_s", slow.waitSeconds());
    m.put("comm_s", slow.commSeconds());
    m.put("compute_s", Math.max(0, slow.seconds() - slow.waitSeconds() - slow.commSeconds()));
    m.put("project", spec.settings().projectName());
    m.put("time", System.currentTimeMillis() / 1000.0);
    metrics.write(m);
    view.committed(m);
    String val = reports.get(0).valJson();
    if (val != null && !val.isEmpty()) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("step", at.step());
      e.put("tokens", at.tokens());
      Object losses = readJson(val);
      e.put("val_loss", losses);
      e.put("project", spec.settings().projectName());
      metrics.write(e);
      view.evaluated(at.step(), at.tokens(), (Map<?, ?>) losses);
    }
    progress.update(at.step(), at.tokens(), loss, lr, o.rows(), nonPad / slowest, gpuMb);
  }

  /** Ends the progress line. */
  void finished() {
    progress.finish();
  }

  private static Map<?, ?> readJson(String json) {
    try {
      return JSON.readValue(json, Map.class);
    } catch (IOException e) {
      return Map.of("unreadable", json);
    }
  }

  @Override
  public void close() throws IOException {
    try (ledger;
        metrics;
        progress;
        events) {
      // closes all three, the first failure thrown
    }
  }
}
