package org.omnibiote.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.CheckpointManifest;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.schedule.Schedule;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.train.MuAdamW;

/**
 * The tensors of training checkpoints that resume exactly: saving a model and its optimiser as a
 * committed checkpoint, and loading one back, verified. The files, their commit protocol, listing,
 * resume and pruning are {@link Checkpoints}' (coordinator module, no libtorch).
 */
public final class TrainingCheckpoint {
  /** Optimiser file metadata: AdamW's step count t. */
  static final String STEPS_KEY = "steps";

  private TrainingCheckpoint() {}

  /** The run's state now, with torch's CPU generator's current state. */
  public static TrainingState captureState(
      long step,
      long tokens,
      long samples,
      long seed,
      OmniBioTAConfig config,
      Schedule schedule,
      Map<String, String> run,
      String dataGenerations) {
    return new TrainingState(
        step,
        tokens,
        samples,
        seed,
        CpuRng.state(),
        config,
        schedule.lr(),
        schedule.batchSize(),
        schedule.totalIters(),
        run,
        dataGenerations);
  }

  /**
   * A loaded, verified checkpoint (CPU float32 tensors).
   *
   * @param manifest the manifest it was loaded from (named in errors)
   * @param optimizerSteps AdamW's step count t
   */
  public record Loaded(
      OmniBioTAConfig config,
      Map<String, Tensor> weights,
      Map<String, Tensor> optimizerState,
      TrainingState state,
      Path manifest,
      long optimizerSteps) {

    /**
     * Restores the weights, the moments and step count, and torch's CPU generator. Shapes are
     * checked against the model before anything is copied; a mismatch is a UserError naming the
     * checkpoint and the tensor.
     */
    public void applyTo(OmniBioTA model, MuAdamW optimizer) {
      try {
        model.loadStateDict(weights);
        optimizer.loadState(optimizerState, optimizerSteps);
        CpuRng.restore(state.rngState());
      } catch (UserError e) {
        throw new UserError("checkpoint " + manifest + ": " + e.getMessage(), e);
      }
    }

    /** Refuses to resume when a setting that must match differs (see {@link Checkpoints}). */
    public void requireSameRun(Map<String, String> now) {
      Checkpoints.requireSameRun(manifest, state, now);
    }
  }

  /**
   * Saves checkpoint {@code name} in {@code runDir} and returns its manifest. An existing
   * checkpoint of that name is un-committed first (its manifest deleted), so a crash never leaves
   * an old manifest over new parts.
   */
  public static Path save(
      Path runDir, String name, OmniBioTA model, MuAdamW optimizer, TrainingState state)
      throws IOException {
    if (!state.config().equals(model.config())) {
      throw new IllegalArgumentException(
          "training state config " + state.config() + " is not the model's " + model.config());
    }
    Files.createDirectories(runDir);
    Map<String, Path> files = Checkpoints.partFiles(runDir, name);
    Path manifest = Checkpoints.manifestOf(runDir, name);
    if (Files.deleteIfExists(manifest)) {
      AtomicFiles.forceFolder(runDir.toAbsolutePath());
    }
    ModelWeights.save(model, files.get(Checkpoints.WEIGHTS));
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put(STEPS_KEY, Long.toString(optimizer.steps()));
    SafeTensors.write(files.get(Checkpoints.OPTIMIZER), optimizer.state(), metadata);
    AtomicFiles.write(files.get(Checkpoints.STATE), Checkpoints.stateBytes(state));
    CheckpointManifest.of(name, state, files).write(manifest);
    return manifest;
  }

  /**
   * Loads and verifies a checkpoint given as its manifest, its {@code .safetensors} weights or its
   * path prefix {@code R/X}: every part present with the manifest's size and SHA-256, the weights'
   * config JSON valid and their names and shapes those of that config, the moments matching the
   * weights, the state's config the weights'. Anything else is a UserError naming the file and the
   * problem. Tensors are allocated in the caller's PointerScope, if any.
   */
  public static Loaded load(Path checkpoint) throws IOException {
    Path manifestPath = Checkpoints.manifestPath(checkpoint);
    CheckpointManifest manifest = Checkpoints.readManifest(checkpoint);
    manifest.verify(manifestPath);

    Path weightsFile = manifest.file(manifestPath, Checkpoints.WEIGHTS);
    SafeTensors.Contents weights = SafeTensors.read(weightsFile);
    String configJson = weights.metadata().get(ModelWeights.CONFIG_KEY);
    if (configJson == null) {
      throw new UserError(
          "checkpoint weights " + weightsFile + ": no model config in the metadata");
    }
    OmniBioTAConfig config;
    try {
      config = OmniBioTAConfig.fromJson(configJson);
    } catch (UserError e) {
      throw new UserError("checkpoint weights " + weightsFile + ": " + e.getMessage(), e);
    }
    Map<String, long[]> shapes = parameterShapes(config);
    checkTensors(
        weightsFile, "weight ", shapes, weights.tensors(), "its config " + config.toJson());

    Path optimizerFile = manifest.file(manifestPath, Checkpoints.OPTIMIZER);
    SafeTensors.Contents moments = SafeTensors.read(optimizerFile);
    Map<String, long[]> momentShapes = new LinkedHashMap<>();
    shapes.forEach(
        (n, s) -> {
          momentShapes.put("exp_avg." + n, s);
          momentShapes.put("exp_avg_sq." + n, s);
        });
    checkTensors(optimizerFile, "", momentShapes, moments.tensors(), "the weights");
    long steps;
    try {
      steps = Long.parseLong(moments.metadata().getOrDefault(STEPS_KEY, ""));
    } catch (NumberFormatException e) {
      throw new UserError(
          "checkpoint optimizer state " + optimizerFile + ": no step count in the metadata");
    }

    Path stateFile = manifest.file(manifestPath, Checkpoints.STATE);
    TrainingState state = Checkpoints.parseState(stateFile);
    if (!state.config().equals(config)) {
      throw new UserError(
          "checkpoint training state "
              + stateFile
              + " names model config "
              + state.config().toJson()
              + ", but the weights "
              + weightsFile
              + " are "
              + config.toJson());
    }
    return new Loaded(config, weights.tensors(), moments.tensors(), state, manifestPath, steps);
  }

  /** Names and shapes of OmniBioTA's parameters for a config, in the model's order. */
  static Map<String, long[]> parameterShapes(OmniBioTAConfig c) {
    long n = c.nEmbd();
    long v = c.vocabSize();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shapes.put("transformer.wte.weight", new long[] {v, n});
    for (int i = 0; i < c.nLayer(); i++) {
      String h = "transformer.h." + i + ".";
      shapes.put(h + "ln_1.weight", new long[] {n});
      shapes.put(h + "attn.c_attn.weight", new long[] {3 * n, n});
      shapes.put(h + "attn.c_proj.weight", new long[] {n, n});
      shapes.put(h + "ln_2.weight", new long[] {n});
      shapes.put(h + "mlp.c_fc.weight", new long[] {4 * n, n});
      shapes.put(h + "mlp.c_proj.weight", new long[] {n, 4 * n});
    }
    shapes.put("transformer.ln_f.weight", new long[] {n});
    shapes.put("lm_head.weight", new long[] {v, n});
    return shapes;
  }

  /** The tensors' names are exactly {@code expected}'s, with its shapes. */
  private static void checkTensors(
      Path file,
      String kind,
      Map<String, long[]> expected,
      Map<String, Tensor> tensors,
      String against) {
    List<String> missing = new ArrayList<>(expected.keySet());
    missing.removeAll(tensors.keySet());
    List<String> unexpected = new ArrayList<>(tensors.keySet());
    unexpected.removeAll(expected.keySet());
    if (!missing.isEmpty() || !unexpected.isEmpty()) {
      throw new UserError(
          "checkpoint file "
              + file
              + " does not match "
              + against
              + ": missing "
              + missing
              + ", unexpected "
              + unexpected);
    }
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      long[] got = tensors.get(e.getKey()).shape();
      if (!Arrays.equals(got, e.getValue())) {
        throw new UserError(
            "checkpoint file "
                + file
                + ": "
                + kind
                + e.getKey()
                + " has shape "
                + Arrays.toString(got)
                + ", "
                + against
                + " needs "
                + Arrays.toString(e.getValue()));
      }
    }
  }
}
