package org.omnibiote.coordinator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.data.DataSummary;
import org.omnibiote.data.TrainingData;
import org.omnibiote.schedule.RunPlan;
import org.omnibiote.schedule.RunSchedule.Counters;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.shards.ShardWriter;

/**
 * What a coordinator needs to own a run, prepared (and checked) before its actor starts: the
 * training settings, the same settings as the JSON sent to workers (paths made absolute and the run
 * folder fixed, so that every node means the same files), the model config, the data's fingerprint,
 * and the distributed timeouts.
 */
public record RunSpec(
    TrainSettings settings,
    Map<String, String> settingsFlat,
    OmniBioTAConfig model,
    String dataFingerprint,
    String dataDescription,
    DataSummary data,
    String resumeFrom,
    Distributed distributed) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * resumeFrom of {@link Start#CONTINUE_RUN_FOLDER}: the latest checkpoint, or a new run if none.
   */
  private static final String CONTINUE = "(the run folder's latest)";

  /** omnibiote.distributed: the run's timeouts. */
  public record Distributed(
      Duration collectiveTimeout,
      int minWorkers,
      Duration settle,
      Duration abortSettle,
      Duration stepTimeout,
      Duration joinTimeout,
      Duration outcomeTimeout,
      Duration adoptPoll) {

    static Distributed from(Config root) {
      Config c = root.getConfig("omnibiote.distributed");
      return new Distributed(
          c.getDuration("collective-timeout"),
          c.getInt("min-workers"),
          c.getDuration("settle"),
          c.getDuration("abort-settle"),
          c.getDuration("step-timeout"),
          c.getDuration("join-timeout"),
          c.getDuration("outcome-timeout"),
          c.getDuration("adopt-poll"));
    }
  }

  /** Where a run starts. */
  public enum Start {
    /**
     * {@code train}: a new run, or with --resume_from (latest, TOKENS or a checkpoint) a resumed
     * one; a run folder that already holds checkpoints of this name is refused without it.
     */
    NEW_OR_RESUMED,
    /**
     * {@code coordinator}: always the run of its run folder, from its latest checkpoint, so that
     * restarting a coordinator (or the singleton moving) resumes without a manual step.
     */
    CONTINUE_RUN_FOLDER
  }

  /**
   * Reads omnibiote.train and omnibiote.distributed of {@code root}, opens the data once and checks
   * everything a run can be refused for before any node starts (settings, tokenizer, the checkpoint
   * to resume from).
   */
  public static RunSpec prepare(Config root, Start start) {
    // Each worker trains on its own --devices; the run's settings name none.
    root = root.withValue(TrainSettings.PATH + ".devices", ConfigValueFactory.fromAnyRef("cpu"));
    TrainSettings s = TrainSettings.from(root);
    s.check();
    String resumeFrom = s.resumeFrom().trim();
    if (start == Start.CONTINUE_RUN_FOLDER) {
      if (!resumeFrom.isEmpty() && !resumeFrom.equals("latest")) {
        throw new UserError(
            "--resume_from "
                + s.resumeFrom()
                + ": a coordinator always"
                + " continues from the latest checkpoint of its run folder (--resume_from latest, or"
                + " nothing); to start from another checkpoint, use train --resume_from");
      }
      resumeFrom = CONTINUE;
    }
    // Every node must mean the same files: absolute paths, the run folder fixed now (the
    // default save_name holds the date and time).
    Config train =
        root.getConfig(TrainSettings.PATH)
            .withValue(
                "base_dir",
                ConfigValueFactory.fromAnyRef(s.baseDir().toAbsolutePath().normalize().toString()))
            .withValue(
                "save_name",
                ConfigValueFactory.fromAnyRef(s.saveName().toAbsolutePath().normalize().toString()))
            .withValue("resume_from", ConfigValueFactory.fromAnyRef(""));
    TrainSettings fixed = TrainSettings.from(train.atPath(TrainSettings.PATH));
    Map<String, String> flat = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : train.entrySet()) {
      flat.put(e.getKey(), String.valueOf(e.getValue().unwrapped()));
    }
    try (TrainingData data = TrainingData.open(fixed.baseDir(), fixed.dataSettings())) {
      refuseOtherTokenizer(s, data);
      OmniBioTAConfig model = fixed.modelConfig(data.vocabSize());
      RunSpec spec =
          new RunSpec(
              fixed,
              flat,
              model,
              data.fingerprint(),
              data.describe(),
              data.summary(),
              resumeFrom,
              Distributed.from(root));
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

  /**
   * Where the run stands on disk: the latest committed checkpoint (null: none) and its counters.
   */
  /**
   * Where a run starts: a checkpoint's manifest (null: a new run), its counters, and the data
   * generations it had adopted.
   */
  public record ResumePoint(
      Path manifest, Counters counters, List<org.omnibiote.data.Adoption> adoptions) {
    public ResumePoint(Path manifest, Counters counters) {
      this(manifest, counters, List.of());
    }
  }

  /** With --tokenizer M: the shards must have been made with M (same bytes). */
  private static void refuseOtherTokenizer(TrainSettings s, TrainingData data) {
    if (s.tokenizer().isEmpty()) {
      return;
    }
    Path model = Path.of(s.tokenizer());
    if (!Files.isRegularFile(model)) {
      throw new UserError("--tokenizer " + model + ": no such file");
    }
    String sha;
    try {
      sha = ShardWriter.sha256(model);
    } catch (IOException e) {
      throw new UserError("--tokenizer " + model + ": " + e.getMessage());
    }
    if (!sha.equals(data.tokenizer().sha256())) {
      throw new UserError(
          "--base_dir "
              + s.baseDir()
              + " holds shards made with the tokenizer "
              + data.tokenizer().file()
              + " (sha256 "
              + data.tokenizer().sha256().substring(0, 12)
              + "...), not with --tokenizer "
              + model
              + " (sha256 "
              + sha.substring(0, 12)
              + "...): ingest again with that tokenizer, or drop --tokenizer");
    }
  }

  /**
   * The checkpoint the run starts from ({@link #resumeFrom}: "" a new run, latest, a number of
   * tokens or a checkpoint path), checked to belong to this run (same model, same settings, same
   * data); a UserError naming what differs otherwise. A new run refuses a run folder that already
   * holds checkpoints of its name, rather than mixing two runs in one folder.
   */
  public ResumePoint resumePoint() {
    try {
      boolean hasCheckpoints =
          !Checkpoints.list(runDir(), checkpointName()).isEmpty()
              || Checkpoints.exists(runDir(), checkpointName());
      if (resumeFrom.isEmpty()) {
        if (hasCheckpoints) {
          throw new UserError(
              runDir()
                  + " already holds checkpoints named "
                  + checkpointName()
                  + ": continue that run with --resume_from latest, or choose another --save_name");
        }
        return new ResumePoint(null, Counters.START);
      }
      if (resumeFrom.equals(CONTINUE) && !hasCheckpoints) {
        return new ResumePoint(null, Counters.START); // a coordinator's first start
      }
      Path manifest =
          Checkpoints.resolve(
              runDir(), checkpointName(), resumeFrom.equals(CONTINUE) ? "latest" : resumeFrom);
      // The state part alone (verified against the manifest): the workers check the tensors
      // when they load them, and a coordinator never loads libtorch.
      TrainingState st = Checkpoints.readState(manifest);
      if (!st.config().equals(model)) {
        throw new UserError(
            "the run folder "
                + runDir()
                + " holds checkpoint "
                + manifest
                + " of a model "
                + st.config().toJson()
                + ", but this run asks for "
                + model.toJson()
                + ": use another --save_name for a new run");
      }
      try {
        Checkpoints.requireSameRun(manifest, st, invariants());
      } catch (UserError e) {
        throw new UserError(
            e.getMessage()
                + " (the coordinator continues the run of its run"
                + " folder: use another --save_name for a new run)");
      }
      return new ResumePoint(
          manifest,
          new Counters(st.step(), st.tokens(), st.samples()),
          org.omnibiote.data.Adoption.decode(st.dataGenerations()));
    } catch (IOException e) {
      throw new UserError("cannot read the checkpoints of " + runDir() + ": " + e.getMessage());
    }
  }

  /**
   * What differs between a worker's own settings (the omnibiote.train keys its --config set) and
   * the run's, e.g. "n_layer 4 (worker) vs 2 (run)"; empty when they agree. Keys only a node's own
   * machine decides (devices) are not compared.
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
