package org.omnibiote.settings;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.data.DataSettings;
import org.omnibiote.data.TrainType;

/**
 * Every setting of a training run: the original train_encoder.py's flags under their own names,
 * then ours. Read from {@code omnibiote.train} (reference.conf, a run profile, flags).
 */
public record TrainSettings(
    Path baseDir,
    String tokenizer,
    String trainType,
    boolean usePadding,
    int bannedToken,
    int nLayer,
    int nEmbd,
    int nHead,
    int ctxLen,
    double dropout,
    int checkpointFreq,
    String rope,
    int batchSize,
    int miniBatchSize,
    double lr,
    double beta1,
    double beta2,
    double epsilon,
    double weightDecay,
    boolean forceLr,
    double tokenBudget,
    boolean batchRamp,
    double warmupPeriod,
    LossNorm lossNorm,
    double testFreq,
    double saveFreq,
    Path saveName,
    int keepCheckpoints,
    String resumeFrom,
    String devices,
    Precision precision,
    long seed,
    boolean disableFlash,
    boolean fsdp,
    String projectName,
    double progressInterval) {

  public static final String PATH = "omnibiote.train";

  /** Reads {@code omnibiote.train} of {@code config}; a bad value is a UserError naming it. */
  public static TrainSettings from(Config root) {
    Config c = root.getConfig(PATH);
    try {
      String saveName = c.getString("save_name");
      return new TrainSettings(
          Path.of(c.getString("base_dir")),
          c.getString("tokenizer"),
          c.getString("train_type"),
          c.getBoolean("use_padding"),
          c.getInt("banned_token"),
          c.getInt("n_layer"),
          c.getInt("n_embd"),
          c.getInt("n_head"),
          c.getInt("ctx_len"),
          c.getDouble("dropout"),
          c.getInt("checkpoint_freq"),
          c.getString("rope"),
          c.getInt("batch_size"),
          c.getInt("mini_batch_size"),
          c.getDouble("lr"),
          c.getDouble("beta1"),
          c.getDouble("beta2"),
          c.getDouble("epsilon"),
          c.getDouble("weight_decay"),
          c.getBoolean("force_lr"),
          c.getDouble("token_budget"),
          c.getBoolean("batch_ramp"),
          c.getDouble("warmup_period"),
          lossNorm(c.getString("loss_norm")),
          c.getDouble("test_freq"),
          c.getDouble("save_freq"),
          saveName.isEmpty() ? defaultSaveName() : Path.of(saveName),
          c.getInt("keep_checkpoints"),
          c.getString("resume_from"),
          c.getString("devices"),
          Precision.parse(c.getString("precision")),
          c.getLong("seed"),
          c.getBoolean("disable_flash"),
          c.getBoolean("FSDP"),
          c.getString("wandb_project_name"),
          c.getDouble("progress_interval"));
    } catch (ConfigException e) {
      throw new UserError("train settings: " + e.getMessage(), e);
    }
  }

  /** These settings on {@code device} (cpu, cuda:N): a worker trains the run on its own device. */
  public TrainSettings onDevice(String device) {
    return new TrainSettings(
        baseDir,
        tokenizer,
        trainType,
        usePadding,
        bannedToken,
        nLayer,
        nEmbd,
        nHead,
        ctxLen,
        dropout,
        checkpointFreq,
        rope,
        batchSize,
        miniBatchSize,
        lr,
        beta1,
        beta2,
        epsilon,
        weightDecay,
        forceLr,
        tokenBudget,
        batchRamp,
        warmupPeriod,
        lossNorm,
        testFreq,
        saveFreq,
        saveName,
        keepCheckpoints,
        resumeFrom,
        device,
        precision,
        seed,
        disableFlash,
        fsdp,
        projectName,
        progressInterval);
  }

  /**
   * {@code runs/<date-time>/omnibiota}: a new folder per run, so runs never overwrite each other.
   */
  static Path defaultSaveName() {
    String stamp =
        LocalDateTime.now(ZoneId.systemDefault())
            .format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT));
    return Path.of("runs", stamp, "omnibiota");
  }

  private static LossNorm lossNorm(String s) {
    return switch (s) {
      case "global" -> LossNorm.GLOBAL;
      case "original" -> LossNorm.ORIGINAL;
      default -> throw new UserError("--loss_norm: '" + s + "' is neither global nor original");
    };
  }

  /**
   * Refuses settings that cannot run, before any work: each message names the flag. (The data
   * folder is checked when it is opened.)
   */
  public void check() {
    if (fsdp) {
      throw new UserError(
          "--FSDP: sharded training is not supported yet; every worker holds the"
              + " whole model (drop --FSDP; distributed data-parallel training is `--workers N`)");
    }
    if (baseDir.toString().isEmpty()) {
      throw new UserError(
          "--base_dir is required: an ingest output folder (bin/omnibiote ingest"
              + " or quickstart makes one)");
    }
    positive("batch_size", batchSize);
    positive("mini_batch_size", miniBatchSize);
    positive("ctx_len", ctxLen);
    if (batchSize % miniBatchSize != 0) {
      throw new UserError(
          "--batch_size "
              + batchSize
              + " is not divisible by --mini_batch_size "
              + miniBatchSize
              + " (a step is a whole number of micro-batches)");
    }
    if (checkpointFreq < 0) {
      throw new UserError(
          "--checkpoint_freq must be 0 (off) or a number of blocks, got " + checkpointFreq);
    }
    if (!(tokenBudget >= (double) batchSize * ctxLen)) {
      throw new UserError(
          String.format(
              Locale.ROOT,
              "--token_budget %.4g is less than one step (batch_size %d * ctx_len %d = %d tokens)",
              tokenBudget,
              batchSize,
              ctxLen,
              (long) batchSize * ctxLen));
    }
    if (!(testFreq > 0) || !(saveFreq > 0)) {
      throw new UserError("--test_freq and --save_freq must be positive numbers of tokens");
    }
    if (batchRamp && !(warmupPeriod > 0 && warmupPeriod <= 1)) {
      throw new UserError(
          "--warmup_period must be in (0, 1] with --batch_ramp, got " + warmupPeriod);
    }
    if (!rope.equals("rotary") && !rope.equals("cos_only")) {
      throw new UserError("--rope: '" + rope + "' is neither rotary nor cos_only");
    }
    if (keepCheckpoints < 0) {
      throw new UserError(
          "--keep_checkpoints must be 0 (keep all) or positive, got " + keepCheckpoints);
    }
  }

  private static void positive(String flag, long value) {
    if (value <= 0) {
      throw new UserError("--" + flag + " must be positive, got " + value);
    }
  }

  /** The run folder: where checkpoints and metrics.jsonl go (the folder of save_name). */
  public Path runDir() {
    Path parent = saveName.toAbsolutePath().getParent();
    return parent;
  }

  /** The checkpoint name without its folder, e.g. "omnibiota". */
  public String checkpointName() {
    return saveName.getFileName().toString();
  }

  /**
   * The settings a resumed run must share with the run that wrote the checkpoint (anything else,
   * e.g. save_freq or test_freq, may change on resume), as strings for the checkpoint.
   */
  public Map<String, String> resumeInvariants() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("train_type", trainType);
    m.put("use_padding", Boolean.toString(usePadding));
    m.put("banned_token", Integer.toString(bannedToken));
    m.put("batch_size", Integer.toString(batchSize));
    m.put("mini_batch_size", Integer.toString(miniBatchSize));
    m.put("lr", Double.toString(lr));
    m.put("beta1", Double.toString(beta1));
    m.put("beta2", Double.toString(beta2));
    m.put("epsilon", Double.toString(epsilon));
    m.put("weight_decay", Double.toString(weightDecay));
    m.put("force_lr", Boolean.toString(forceLr));
    m.put("token_budget", Double.toString(tokenBudget));
    m.put("batch_ramp", Boolean.toString(batchRamp));
    m.put("warmup_period", Double.toString(warmupPeriod));
    m.put("loss_norm", lossNorm.name().toLowerCase(Locale.ROOT));
    m.put("seed", Long.toString(seed));
    return m;
  }

  /** How the run reads its shards. */
  public DataSettings dataSettings() {
    return new DataSettings(
        TrainType.parse(trainType), usePadding, ctxLen, bannedToken < 0 ? null : bannedToken, seed);
  }

  /** The model of the run, for the vocabulary of its shards. */
  public OmniBioTAConfig modelConfig(int vocabSize) {
    return new OmniBioTAConfig(
        vocabSize,
        nEmbd,
        nLayer,
        nHead,
        ctxLen,
        dropout,
        OmniBioTAConfig.RopeVariant.fromJson(rope));
  }

  /** What a checkpoint must share with the run that resumes it: the settings and the data. */
  public Map<String, String> runInvariants(String dataFingerprint) {
    Map<String, String> m = new LinkedHashMap<>(resumeInvariants());
    m.put("data", dataFingerprint);
    return m;
  }
}
