package org.omnibiote.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.TrainingCheckpoint;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.data.TrainingData;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.OmniBioTAConfig;
import org.omnibiote.schedule.RunSchedule;
import org.omnibiote.schedule.RunSchedule.Counters;
import org.omnibiote.shards.ShardWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-process training run (the embedded default: this JVM is both the scheduler and the
 * one worker): opens the data, builds or restores the model, then runs the steps {@link
 * RunPlan} lays out on one {@link Replica}, evaluating, checkpointing and logging as due.
 */
public final class Trainer {
  private static final Logger log = LoggerFactory.getLogger(Trainer.class);

  private final TrainSettings s;
  private final PrintStream out;
  private final PrintStream err;

  /** Where a finished run left things. */
  public record Result(Path runDir, Path finalCheckpoint, long steps, long tokens, double lastLoss) {}

  public Trainer(TrainSettings settings, PrintStream out, PrintStream err) {
    this.s = settings;
    this.out = out;
    this.err = err;
  }

  public Result run() throws IOException {
    s.check();
    Device device = Devices.parse(s.devices());
    if (s.disableFlash()) {
      // The original's --disable_flash: SDPA may not pick the flash kernel (math or
      // memory-efficient ones remain); a process-wide libtorch setting.
      torch.globalContext().setSDPUseFlash(false);
    }
    RunPlan plan = new RunPlan(s);
    Path runDir = s.runDir();
    String name = s.checkpointName();
    try (TrainingData data = TrainingData.open(s.baseDir(), s.dataSettings())) {
      refuseOtherTokenizer(data);
      Path resumeFrom = resumePoint(runDir, name);
      OmniBioTAConfig config = s.modelConfig(data.vocabSize());
      // Before seeding: the measurement draws random matrices from torch's generator.
      Throughput throughput = Throughput.measure(config, s.precision());
      torch.manual_seed(s.seed());
      OmniBioTA model = new OmniBioTA(config);
      model.setCheckpointFreq(s.checkpointFreq());
      model.to(device, false);
      MuAdamW optimizer = new MuAdamW(model, optimiserSettings(plan), s.forceLr());
      Counters at = Counters.START;
      if (resumeFrom != null) {
        TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(resumeFrom);
        refuseMismatch(resumeFrom, loaded, config, data);
        loaded.applyTo(model, optimizer);
        at = new Counters(loaded.state().step(), loaded.state().tokens(), loaded.state().samples());
        out.printf(Locale.ROOT, "resuming from %s: step %,d, %,d tokens, %,d samples%n",
            resumeFrom, at.step(), at.tokens(), at.samples());
      }
      if (at.step() >= plan.totalSteps()) {
        out.printf(Locale.ROOT, "the run already finished: %s is at step %,d of %,d; nothing to do"
            + " (the schedule ends there; a longer run is a new run with a larger --token_budget)%n",
            resumeFrom, at.step(), plan.totalSteps());
        return new Result(runDir, resumeFrom, at.step(), at.tokens(), Double.NaN);
      }
      Files.createDirectories(runDir);
      describe(plan, model, data, runDir, at);
      Replica replica = new Replica(model, optimizer, data, device, s.lossNorm(), s.precision(), s.miniBatchSize());
      try (MetricsLog metrics = MetricsLog.open(runDir, at.step());
          TrainProgress progress = new TrainProgress(plan.totalSteps(), at.step(), s.progressInterval(), err)) {
        double loss = Double.NaN;
        RunSchedule schedule = new RunSchedule(plan, s.miniBatchSize(), name, at, 0);
        while (!schedule.finished()) {
          RunSchedule.StepOrder order = schedule.next(1);
          double lr = plan.peakLr() * order.lrFactor();
          Replica.StepResult r = replica.step(at.samples(), order.rows(), order.lrFactor());
          loss = r.loss();
          if (!Double.isFinite(loss)) {
            throw new UserError(String.format(Locale.ROOT,
                "the loss became %s at step %d (lr %.3g): lower --lr, or use --precision fp32;"
                    + " the last checkpoint is kept", loss, order.step() + 1, lr));
          }
          schedule.commit(order);
          at = schedule.counters();
          metrics.write(stepRecord(at, order.rows(), lr, r, throughput));
          progress.update(at.step(), at.tokens(), loss, lr, order.rows(), r.nonPadTokens() / r.seconds());
          if (order.evaluate()) {
            Map<String, Double> val = replica.evaluate();
            metrics.write(evalRecord(at, val));
            log.info("step {} val loss {}", at.step(), val);
          }
          if (order.checkpoint() != null && !order.last()) {
            save(runDir, order.checkpoint(), replica, at, config, data, plan);
            TrainingCheckpoint.prune(runDir, name, s.keepCheckpoints());
          }
        }
        progress.finish();
        Path last = save(runDir, name, replica, at, config, data, plan);
        out.printf(Locale.ROOT, "trained %,d steps, %,d tokens; final loss %.4f%n", at.step(), at.tokens(), loss);
        out.println("  checkpoint: " + last);
        out.println("  metrics:    " + runDir.resolve(MetricsLog.FILE));
        return new Result(runDir, last, at.step(), at.tokens(), loss);
      }
    }
  }

  /** With --tokenizer M: the shards must have been made with M (same bytes). */
  private void refuseOtherTokenizer(TrainingData data) throws IOException {
    if (s.tokenizer().isEmpty()) {
      return;
    }
    Path model = Path.of(s.tokenizer());
    if (!Files.isRegularFile(model)) {
      throw new UserError("--tokenizer " + model + ": no such file");
    }
    String sha = ShardWriter.sha256(model);
    if (!sha.equals(data.tokenizer().sha256())) {
      throw new UserError("--base_dir " + s.baseDir() + " holds shards made with the tokenizer "
          + data.tokenizer().file() + " (sha256 " + data.tokenizer().sha256().substring(0, 12)
          + "...), not with --tokenizer " + model + " (sha256 " + sha.substring(0, 12)
          + "...): ingest again with that tokenizer, or drop --tokenizer");
    }
  }

  private MuAdamW.Settings optimiserSettings(RunPlan plan) {
    return new MuAdamW.Settings(plan.peakLr(), s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
  }

  /**
   * The checkpoint to resume from, or null for a new run. A new run refuses a run folder that
   * already holds checkpoints of this name, rather than mixing two runs in one folder.
   */
  private Path resumePoint(Path runDir, String name) throws IOException {
    if (!s.resumeFrom().isEmpty()) {
      return TrainingCheckpoint.resolve(runDir, name, s.resumeFrom());
    }
    if (TrainingCheckpoint.exists(runDir, name) || !TrainingCheckpoint.list(runDir, name).isEmpty()) {
      throw new UserError(runDir + " already holds checkpoints named " + name
          + ": continue that run with --resume_from latest, or choose another --save_name");
    }
    return null;
  }

  private void refuseMismatch(
      Path from, TrainingCheckpoint.Loaded loaded, OmniBioTAConfig config, TrainingData data) {
    if (!loaded.config().equals(config)) {
      throw new UserError("checkpoint " + from + " holds a model " + loaded.config().toJson()
          + " but this run asks for " + config.toJson() + " (--n_layer/--n_embd/--n_head/--ctx_len"
          + "/--dropout, and the vocabulary of --base_dir)");
    }
    loaded.requireSameRun(runInvariants(data));
  }

  private Map<String, String> runInvariants(TrainingData data) {
    return s.runInvariants(data.fingerprint());
  }

  private Path save(Path runDir, String name, Replica replica, Counters at, OmniBioTAConfig config,
      TrainingData data, RunPlan plan) throws IOException {
    TrainingState state = TrainingState.capture(at.step(), at.tokens(), at.samples(), s.seed(), config,
        plan.schedule(), runInvariants(data));
    Path saved = TrainingCheckpoint.save(runDir, name, replica.model(), replica.optimizer(), state);
    log.info("checkpoint {} at step {}", saved, at.step());
    return saved;
  }

  private void describe(RunPlan plan, OmniBioTA model, TrainingData data, Path runDir, Counters at) {
    long params = model.stateDict().values().stream().mapToLong(t -> t.numel()).sum();
    int rows = s.batchSize();
    out.printf(Locale.ROOT, "model: %s, %,d parameters (%s)%n", model.config().toJson(), params, s.precision().flag());
    out.printf(Locale.ROOT, "data: %s%n", data.describe());
    out.printf(Locale.ROOT,
        "plan: %,d steps of %d rows x %d tokens = %,d tokens per step (%d micro-batches of %d)%s;"
            + " peak lr %.4g, linear decay to 0%n",
        plan.totalSteps(), rows, s.ctxLen(), plan.tokens(rows), rows / s.miniBatchSize(),
        s.miniBatchSize(), s.batchRamp() ? ", ramped up over the first "
            + Math.round(s.warmupPeriod() * 100) + "%" : "", plan.peakLr());
    out.printf(Locale.ROOT, "run folder: %s (val every %.3g tokens, checkpoint every %.3g tokens)%n",
        runDir, s.testFreq(), s.saveFreq());
  }

  private Map<String, Object> stepRecord(
      Counters at, int rows, double lr, Replica.StepResult r, Throughput throughput) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", at.step());
    m.put("tokens", at.tokens());
    m.put("samples", at.samples());
    m.put("loss", r.loss());
    m.put("lr", lr);
    m.put("batch", rows);
    m.put("masked_tokens", r.maskedTokens());
    m.put("tokens_per_s", r.nonPadTokens() / r.seconds());
    m.put("step_s", r.seconds());
    m.put("mfu", throughput.mfu(rows, r.maskedTokens(), r.seconds()));
    m.put("mfu_original", throughput.mfuOriginal(r.nonPadTokens(), r.seconds()));
    m.put("rss_mb", ResidentMemory.megabytes());
    m.put("project", s.projectName());
    m.put("time", System.currentTimeMillis() / 1000.0);
    return m;
  }

  private Map<String, Object> evalRecord(Counters at, Map<String, Double> val) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", at.step());
    m.put("tokens", at.tokens());
    m.put("val_loss", val);
    m.put("project", s.projectName());
    return m;
  }
}
