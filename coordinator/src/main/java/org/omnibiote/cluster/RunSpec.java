package org.omnibiote.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.TrainingCheckpoint;
import org.omnibiote.data.TrainingData;
import org.omnibiote.model.OmniBioTAConfig;
import org.omnibiote.schedule.RunSchedule.Counters;
import org.omnibiote.train.RunPlan;
import org.omnibiote.train.TrainSettings;

/**
 * What a coordinator needs to own a run, prepared (and checked) before its actor starts: the
 * training settings, the same settings as the JSON sent to workers (paths made absolute and the
 * run folder fixed, so that every node means the same files), the model config, the data's
 * fingerprint, and the distributed timeouts.
 */
public record RunSpec(
    TrainSettings settings,
    String settingsJson,
    Map<String, String> settingsFlat,
    OmniBioTAConfig model,
    String dataFingerprint,
    String dataDescription,
    Distributed distributed) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** omnibiote.distributed: the rendezvous store and the run's timeouts. */
  public record Distributed(String storeHost, int storePort, Duration collectiveTimeout,
      int minWorkers, Duration settle, Duration abortSettle, Duration stepTimeout, Duration joinTimeout,
      Duration outcomeTimeout) {

    static Distributed from(Config root) {
      Config c = root.getConfig("omnibiote.distributed");
      String host = c.getString("store-host");
      return new Distributed(host.isBlank() ? root.getString("omnibiote.cluster.host") : host,
          c.getInt("store-port"), c.getDuration("collective-timeout"), c.getInt("min-workers"),
          c.getDuration("settle"), c.getDuration("abort-settle"), c.getDuration("step-timeout"), c.getDuration("join-timeout"),
          c.getDuration("outcome-timeout"));
    }
  }

  /** Reads omnibiote.train and omnibiote.distributed of {@code root} and opens the data once. */
  public static RunSpec prepare(Config root) {
    // Each worker trains on its own --devices; the run's settings name none.
    root = root.withValue(TrainSettings.PATH + ".devices", ConfigValueFactory.fromAnyRef("cpu"));
    TrainSettings s = TrainSettings.from(root);
    s.check();
    if (!s.resumeFrom().isBlank() && !s.resumeFrom().trim().equals("latest")) {
      throw new UserError("--resume_from " + s.resumeFrom() + ": a distributed run always"
          + " continues from the latest checkpoint of its run folder (--resume_from latest, or"
          + " nothing); to start from another checkpoint, train in one process"
          + " (train without --workers)");
    }
    if (s.checkpointFreq() > 0) {
      throw new UserError("--checkpoint_freq " + s.checkpointFreq() + ": activation checkpointing"
          + " is not supported with distributed workers yet (use 0)");
    }
    // Every node must mean the same files: absolute paths, the run folder fixed now (the
    // default save_name holds the date and time).
    Config train = root.getConfig(TrainSettings.PATH)
        .withValue("base_dir", ConfigValueFactory.fromAnyRef(s.baseDir().toAbsolutePath().normalize().toString()))
        .withValue("save_name", ConfigValueFactory.fromAnyRef(s.saveName().toAbsolutePath().normalize().toString()))
        .withValue("resume_from", ConfigValueFactory.fromAnyRef(""));
    TrainSettings fixed = TrainSettings.from(train.atPath(TrainSettings.PATH));
    Map<String, String> flat = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : train.entrySet()) {
      flat.put(e.getKey(), String.valueOf(e.getValue().unwrapped()));
    }
    try (TrainingData data = TrainingData.open(fixed.baseDir(), fixed.dataSettings())) {
      OmniBioTAConfig model = fixed.modelConfig(data.vocabSize());
      RunSpec spec = new RunSpec(fixed, train.root().render(ConfigRenderOptions.concise()), flat,
          model, data.fingerprint(), data.describe(), Distributed.from(root));
      spec.resumePoint(); // a checkpoint of another run is refused now, before any node starts
      return spec;
    }
  }

  public RunPlan plan() {
    return new RunPlan(settings);
  }

  public Path runDir() {
    return settings.runDir();
  }

  public String checkpointName() {
    return settings.checkpointName();
  }

  /** The settings a resumed run must share with its checkpoint (as the single-process trainer). */
  public Map<String, String> invariants() {
    return settings.runInvariants(dataFingerprint);
  }

  /** Where the run stands on disk: the latest committed checkpoint (null: none) and its counters. */
  public record ResumePoint(Path manifest, Counters counters) {}

  /**
   * The latest committed checkpoint of the run folder, checked to belong to this run (same
   * model, same settings, same data); a UserError naming what differs otherwise. A
   * coordinator always continues the run folder it is given: that is what makes restarting
   * it (or the singleton moving) resume without a manual step.
   */
  public ResumePoint resumePoint() {
    try {
      if (TrainingCheckpoint.list(runDir(), checkpointName()).isEmpty()
          && !TrainingCheckpoint.exists(runDir(), checkpointName())) {
        return new ResumePoint(null, Counters.START);
      }
      Path manifest = TrainingCheckpoint.resolve(runDir(), checkpointName(), "latest");
      TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(manifest);
      if (!loaded.config().equals(model)) {
        throw new UserError("the run folder " + runDir() + " holds checkpoint " + manifest
            + " of a model " + loaded.config().toJson() + ", but this run asks for "
            + model.toJson() + ": use another --save_name for a new run");
      }
      try {
        loaded.requireSameRun(invariants());
      } catch (UserError e) {
        throw new UserError(e.getMessage() + " (the coordinator continues the run of its run"
            + " folder: use another --save_name for a new run)");
      }
      var st = loaded.state();
      return new ResumePoint(manifest, new Counters(st.step(), st.tokens(), st.samples()));
    } catch (IOException e) {
      throw new UserError("cannot read the checkpoints of " + runDir() + ": " + e.getMessage());
    }
  }

  /**
   * What differs between a worker's own settings (the omnibiote.train keys its --config set)
   * and the run's, e.g. "n_layer 4 (worker) vs 2 (run)"; empty when they agree. Keys only a
   * node's own machine decides (devices) are not compared.
   */
  public List<String> differences(String ownSettingsJson) {
    Map<String, Object> own;
    try {
      own = JSON.readValue(ownSettingsJson, Map.class);
    } catch (JsonProcessingException e) {
      return List.of("its settings are unreadable: " + e.getOriginalMessage());
    }
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Object> e : new TreeMap<>(own).entrySet()) {
      String key = e.getKey();
      if (key.equals("devices") || key.equals("progress_interval")) {
        continue;
      }
      String mine = settingsFlat.get(key);
      String theirs = String.valueOf(e.getValue());
      if (key.equals("base_dir") || key.equals("save_name")) {
        theirs = Path.of(theirs).toAbsolutePath().normalize().toString();
      }
      if (mine != null && !sameValue(mine, theirs)) {
        out.add(key + " " + theirs + " (worker) vs " + mine + " (run)");
      }
    }
    return out;
  }

  private static boolean sameValue(String a, String b) {
    if (a.equals(b)) {
      return true;
    }
    try {
      return Double.parseDouble(a) == Double.parseDouble(b);
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
