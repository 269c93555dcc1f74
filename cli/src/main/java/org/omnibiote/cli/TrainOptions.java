package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import org.omnibiote.settings.TrainSettings;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * The training flags: the original train_encoder.py's (same snake_case names and defaults), then
 * ours. Shared by {@code train} and {@code coordinator}, whose command sets {@link
 * ReferenceDefaults} as its default provider so --help shows the defaults.
 */
final class TrainOptions {

  @Option(
      names = "--base_dir",
      paramLabel = "DIR",
      description =
          "Ingest output folder (manifest.json, genbank/ and uniref100/ train and val shards).")
  String baseDir;

  @Option(
      names = "--tokenizer",
      paramLabel = "M.model",
      description = "Optional: refuse shards not made with this SentencePiece model.")
  String tokenizer;

  @Option(
      names = "--train_type",
      paramLabel = "TYPE",
      description =
          "protein | nucleotide | mixed (0.8 genbank, 0.2 uniref100) | halfnhalf (default: ${DEFAULT-VALUE}).")
  String trainType;

  @Option(
      names = "--use_padding",
      arity = "0..1",
      description = "Pad rows with whole documents instead of packing (default: ${DEFAULT-VALUE}).")
  Boolean usePadding;

  @Option(
      names = "--banned_token",
      paramLabel = "ID",
      description =
          "Token id deleted from every document; -1: the tokenizer's whitespace piece, from the manifest (default: ${DEFAULT-VALUE}).")
  Integer bannedToken;

  @Option(names = "--n_layer", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
  Integer nLayer;

  @Option(names = "--n_embd", description = "Width (default: ${DEFAULT-VALUE}).")
  Integer nEmbd;

  @Option(names = "--n_head", description = "Attention heads (default: ${DEFAULT-VALUE}).")
  Integer nHead;

  @Option(names = "--ctx_len", description = "Tokens per row (default: ${DEFAULT-VALUE}).")
  Integer ctxLen;

  @Option(names = "--dropout", description = "Dropout (default: ${DEFAULT-VALUE}).")
  Double dropout;

  @Option(
      names = "--checkpoint_freq",
      description =
          "Activation checkpointing: recompute every this many blocks in backward; 0 = off (default: ${DEFAULT-VALUE}).")
  Integer checkpointFreq;

  @Option(
      names = "--rope",
      description =
          "rotary | cos_only (only for checkpoints trained by the original's bf16 cast) (default: ${DEFAULT-VALUE}).")
  String rope;

  @Option(
      names = "--batch_size",
      description = "Global rows per optimiser step (default: ${DEFAULT-VALUE}).")
  Integer batchSize;

  @Option(
      names = "--mini_batch_size",
      description = "Rows per micro-batch (gradient accumulation) (default: ${DEFAULT-VALUE}).")
  Integer miniBatchSize;

  @Option(
      names = "--lr",
      description = "Base lr; the peak is lr * sqrt(batch_size) / 32 (default: ${DEFAULT-VALUE}).")
  Double lr;

  @Option(names = "--beta1", description = "AdamW beta1 (default: ${DEFAULT-VALUE}).")
  Double beta1;

  @Option(names = "--beta2", description = "AdamW beta2 (default: ${DEFAULT-VALUE}).")
  Double beta2;

  @Option(names = "--epsilon", description = "AdamW epsilon (default: ${DEFAULT-VALUE}).")
  Double epsilon;

  @Option(
      names = "--weight_decay",
      description = "AdamW decoupled weight decay (default: ${DEFAULT-VALUE}).")
  Double weightDecay;

  @Option(
      names = "--force_lr",
      arity = "0..1",
      description = "One plain AdamW group, no µP scaling (default: ${DEFAULT-VALUE}).")
  Boolean forceLr;

  @Option(
      names = "--token_budget",
      description = "Tokens of the run; fixes the number of steps (default: ${DEFAULT-VALUE}).")
  Double tokenBudget;

  @Option(
      names = "--batch_ramp",
      arity = "0..1",
      description =
          "Ramp the batch up over the first warmup_period of the steps (default: ${DEFAULT-VALUE}).")
  Boolean batchRamp;

  @Option(
      names = "--warmup_period",
      description = "Fraction of the steps the batch ramp takes (default: ${DEFAULT-VALUE}).")
  Double warmupPeriod;

  @Option(
      names = "--loss_norm",
      description =
          "global (mean over all masked tokens of the step) | original (per-micro-batch means) (default: ${DEFAULT-VALUE}).")
  String lossNorm;

  @Option(
      names = "--test_freq",
      description = "Evaluate every this many tokens (default: ${DEFAULT-VALUE}).")
  Double testFreq;

  @Option(
      names = "--save_freq",
      description = "Checkpoint every this many tokens (default: ${DEFAULT-VALUE}).")
  Double saveFreq;

  @Option(
      names = "--save_name",
      paramLabel = "PATH",
      description =
          "Checkpoint name; its folder is the run folder (default: runs/<date-time>/omnibiota).")
  String saveName;

  @Option(
      names = "--keep_checkpoints",
      description = "Periodic checkpoints kept; 0 = all (default: ${DEFAULT-VALUE}).")
  Integer keepCheckpoints;

  @Option(
      names = "--resume_from",
      paramLabel = "TOKENS|PATH|latest",
      description = "Continue a run from a checkpoint of the run folder.")
  String resumeFrom;

  @Option(names = "--devices", description = "cpu | cuda:N (default: ${DEFAULT-VALUE}).")
  String devices;

  @Option(
      names = "--precision",
      description = "fp32 | bf16 (autocast, fp32 master weights) (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(
      names = "--seed",
      description =
          "Seed of the model init, the data order and the masks (default: ${DEFAULT-VALUE}).")
  Long seed;

  @Option(
      names = "--disable_flash",
      arity = "0..1",
      description = "Use the math attention kernel (default: ${DEFAULT-VALUE}).")
  Boolean disableFlash;

  @Option(
      names = "--FSDP",
      arity = "0..1",
      description = "Sharded training: not supported yet (refused).")
  Boolean fsdp;

  @Option(
      names = "--wandb_project_name",
      paramLabel = "NAME",
      description = "Project name written into every metrics line (default: ${DEFAULT-VALUE}).")
  String projectName;

  @Option(
      names = "--progress_interval",
      paramLabel = "SECONDS",
      description = "Seconds between progress lines (default: ${DEFAULT-VALUE}).")
  Double progressInterval;

  /** Reference defaults, under the profile {@code loaded}, under the flags given to the command. */
  static Config config(CommandLine.Model.CommandSpec spec, Config loaded) {
    Map<String, Object> given = new LinkedHashMap<>();
    for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
      String key = key(o);
      if (ReferenceDefaults.TRAIN.hasPath(quoted(key))) {
        given.put(TrainSettings.PATH + "." + quoted(key), o.getValue());
      }
    }
    Config flags = ConfigFactory.parseMap(given, "command-line flags");
    return flags.withFallback(loaded).resolve();
  }

  private static String key(ArgSpec a) {
    return ((OptionSpec) a).longestName().replaceFirst("^--", "");
  }

  private static String quoted(String key) {
    return "\"" + key + "\"";
  }

  /** The defaults --help shows: omnibiote.train of the reference configuration. */
  public static final class ReferenceDefaults implements CommandLine.IDefaultValueProvider {
    static final Config TRAIN = ConfigFactory.defaultReference().getConfig(TrainSettings.PATH);

    @Override
    public String defaultValue(ArgSpec arg) {
      if (!arg.isOption()) {
        return null;
      }
      String key = quoted(key(arg));
      return TRAIN.hasPath(key) ? TRAIN.getValue(key).unwrapped().toString() : null;
    }
  }
}
