package org.omnibiote.console;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The run in Prometheus' text exposition format (version 0.0.4): {@code omnibiote_} names, base
 * units (seconds, bytes, ratios), {@code _total} counters, and labels of low cardinality (phase,
 * dataset, step-time part, event kind, worker id: as many as the cluster has workers).
 */
final class PrometheusText {
  private final StringBuilder out = new StringBuilder();

  private PrometheusText() {}

  static String of(RunView view) {
    PrometheusText p = new PrometheusText();
    RunView.Run run = view.run();
    p.family("omnibiote_steps_total", "counter", "Optimiser steps committed.");
    p.sample("omnibiote_steps_total", "", (double) run.step());
    p.family(
        "omnibiote_tokens_total", "counter", "Tokens (rows x ctx_len) trained in committed steps.");
    p.sample("omnibiote_tokens_total", "", (double) run.tokens());
    p.family("omnibiote_samples_total", "counter", "Rows (samples) trained in committed steps.");
    p.sample("omnibiote_samples_total", "", (double) run.samples());
    p.family("omnibiote_planned_steps", "gauge", "Steps the run plans in all (its token budget).");
    p.sample("omnibiote_planned_steps", "", (double) run.totalSteps());
    p.family("omnibiote_phase", "gauge", "1 for the phase the run is in, 0 for the others.");
    for (RunView.Phase ph : RunView.Phase.values()) {
      p.sample(
          "omnibiote_phase",
          label("phase", ph.name().toLowerCase(Locale.ROOT)),
          ph.label().equals(run.phase()) ? 1 : 0);
    }
    p.family("omnibiote_paused", "gauge", "1 while an operator holds the run paused.");
    p.sample("omnibiote_paused", "", run.paused() ? 1 : 0);
    RunView.Generations g = view.generations();
    p.family(
        "omnibiote_data_generations_committed",
        "gauge",
        "The newest data generation follow committed to the run's base_dir.");
    p.sample("omnibiote_data_generations_committed", "", (double) g.committed());
    p.family(
        "omnibiote_data_generations_adopted",
        "gauge",
        "The newest data generation the run adopted.");
    p.sample("omnibiote_data_generations_adopted", "", (double) g.adopted());
    p.family("omnibiote_world_generation", "gauge", "The current world generation.");
    p.sample("omnibiote_world_generation", "", (double) run.generation());
    p.family("omnibiote_world_size", "gauge", "Ranks of the current world.");
    p.sample("omnibiote_world_size", "", run.worldSize());
    if (run.etaSeconds() != null) {
      p.family("omnibiote_eta_seconds", "gauge", "Time to the end of the plan at the recent rate.");
      p.sample("omnibiote_eta_seconds", "", run.etaSeconds());
    }
    Map<String, Object> last = view.latestStep();
    if (last != null) {
      p.gauge("omnibiote_train_loss", "Masked-LM loss of the last committed step.", last, "loss");
      p.gauge(
          "omnibiote_learning_rate",
          "Peak-group lr of the last step (before muP scaling).",
          last,
          "lr");
      p.gauge("omnibiote_batch_rows", "Rows of the last step (the batch ramp's).", last, "batch");
      p.gauge(
          "omnibiote_tokens_per_second",
          "Non-pad tokens per second of the last step.",
          last,
          "tokens_per_s");
      p.gauge(
          "omnibiote_mfu_ratio", "Model FLOPs utilisation of the last step (0-1).", last, "mfu");
      p.gauge(
          "omnibiote_grad_norm",
          "Global gradient norm of the last step, before clipping.",
          last,
          "grad_norm");
      p.family(
          "omnibiote_step_seconds", "gauge", "The last step's slowest rank: its time by part.");
      p.sample("omnibiote_step_seconds", label("part", "total"), num(last.get("step_s")));
      p.sample("omnibiote_step_seconds", label("part", "compute"), num(last.get("compute_s")));
      p.sample("omnibiote_step_seconds", label("part", "data_wait"), num(last.get("wait_s")));
      p.sample("omnibiote_step_seconds", label("part", "communication"), num(last.get("comm_s")));
    }
    Map<String, Object> val = view.latestVal();
    if (val != null) {
      p.family(
          "omnibiote_val_loss", "gauge", "Masked-LM loss of the last evaluation, per dataset.");
      for (Map.Entry<String, Object> e : val.entrySet()) {
        if (!List.of("step", "tokens", "time", "seq").contains(e.getKey())
            && e.getValue() instanceof Number n) {
          p.sample("omnibiote_val_loss", label("dataset", e.getKey()), n.doubleValue());
        }
      }
    }
    p.family(
        "omnibiote_events_total", "counter", "Events of the run by kind (abort, checkpoint ...).");
    for (Map.Entry<String, Long> e : view.eventCounts().entrySet()) {
      p.sample("omnibiote_events_total", label("kind", e.getKey()), e.getValue());
    }
    List<RunView.Worker> workers = view.workers();
    p.family("omnibiote_workers", "gauge", "Workers by state (departed: the last ones listed).");
    Map<String, Long> byState = new java.util.TreeMap<>();
    for (RunView.Worker w : workers) {
      byState.merge(w.state(), 1L, Long::sum);
    }
    for (Map.Entry<String, Long> e : byState.entrySet()) {
      p.sample("omnibiote_workers", label("state", e.getKey()), e.getValue());
    }
    p.family(
        "omnibiote_worker_resident_memory_bytes",
        "gauge",
        "Resident memory of each live worker's process.");
    for (RunView.Worker w : workers) {
      if (w.departedAt() == null && w.rssMb() != null) {
        p.sample(
            "omnibiote_worker_resident_memory_bytes", label("worker", w.id()), w.rssMb() * 1048576);
      }
    }
    p.family(
        "omnibiote_worker_gpu_memory_bytes",
        "gauge",
        "Peak GPU memory of each live worker's last step.");
    for (RunView.Worker w : workers) {
      if (w.departedAt() == null && w.gpuMb() != null) {
        p.sample("omnibiote_worker_gpu_memory_bytes", label("worker", w.id()), w.gpuMb() * 1048576);
      }
    }
    p.family(
        "omnibiote_worker_heartbeat_age_seconds",
        "gauge",
        "Seconds since each live worker's last heartbeat.");
    for (RunView.Worker w : workers) {
      if (w.heartbeatAgeSeconds() != null) {
        p.sample(
            "omnibiote_worker_heartbeat_age_seconds",
            label("worker", w.id()),
            w.heartbeatAgeSeconds());
      }
    }
    return p.out.toString();
  }

  private void gauge(String name, String help, Map<String, Object> row, String key) {
    if (row.get(key) instanceof Number n) {
      family(name, "gauge", help);
      sample(name, "", n.doubleValue());
    }
  }

  private void family(String name, String type, String help) {
    out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\")).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private void sample(String name, String labels, double value) {
    out.append(name).append(labels).append(' ').append(format(value)).append('\n');
  }

  private static double num(Object o) {
    return o instanceof Number n ? n.doubleValue() : Double.NaN;
  }

  private static String format(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v);
  }

  private static String label(String name, String value) {
    return "{"
        + name
        + "=\""
        + value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")
        + "\"}";
  }
}
