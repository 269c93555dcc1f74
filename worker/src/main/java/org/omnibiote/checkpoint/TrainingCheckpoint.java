package org.omnibiote.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.OmniBioTAConfig;
import org.omnibiote.train.MuAdamW;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training checkpoints that resume exactly. Checkpoint X in run folder R is four files:
 * <ul>
 *   <li>{@code R/X.safetensors}: the weights under the original names with the model config
 *       in the metadata ({@link ModelWeights}; Python reads it with numpy alone);
 *   <li>{@code R/X.optimizer.safetensors}: the AdamW moments ({@link MuAdamW#state}), the
 *       optimiser's step count in the metadata;
 *   <li>{@code R/X.state.json}: the {@link TrainingState};
 *   <li>{@code R/X.checkpoint.json}: the manifest (sizes and SHA-256 of the three), written
 *       last. Each file goes to a temp file, is fsynced and renamed, the folder fsynced; the
 *       manifest's rename commits the checkpoint. Without a valid manifest the parts are an
 *       interrupted save and are never listed or loaded.
 * </ul>
 * Periodic checkpoints are named {@code saveName_TOKENS}, the final one {@code saveName}.
 */
public final class TrainingCheckpoint {
  private static final Logger log = LoggerFactory.getLogger(TrainingCheckpoint.class);

  static final String WEIGHTS = "weights";
  static final String OPTIMIZER = "optimizer";
  static final String STATE = "state";
  /** The parts, in the order they are written and verified. */
  static final List<String> ROLES = List.of(WEIGHTS, OPTIMIZER, STATE);
  private static final Map<String, String> SUFFIX =
      Map.of(WEIGHTS, ".safetensors", OPTIMIZER, ".optimizer.safetensors", STATE, ".state.json");
  public static final String MANIFEST_SUFFIX = ".checkpoint.json";
  /** Optimiser file metadata: AdamW's step count t. */
  static final String STEPS_KEY = "steps";

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .configure(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES, true)
          .configure(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES, true)
          .enable(SerializationFeature.INDENT_OUTPUT);

  private TrainingCheckpoint() {}

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
     * checked against the model before anything is copied; a mismatch is a UserError naming
     * the checkpoint and the tensor.
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

    /**
     * Refuses to resume when a setting that must match ({@link TrainingState#run}) differs
     * between the checkpoint and this run, naming each one.
     */
    public void requireSameRun(Map<String, String> now) {
      Map<String, String> saved = state.run();
      List<String> differences = new ArrayList<>();
      SortedSet<String> keys = new TreeSet<>(saved.keySet());
      keys.addAll(now.keySet());
      for (String key : keys) {
        String was = saved.get(key);
        String is = now.get(key);
        if (was == null ? is != null : !was.equals(is)) {
          differences.add(key + " " + (was == null ? "(unset)" : was) + " -> " + (is == null ? "(unset)" : is));
        }
      }
      if (!differences.isEmpty()) {
        throw new UserError(
            "checkpoint " + manifest + " was saved by a run with other settings; resuming needs the same: "
                + String.join(", ", differences));
      }
    }
  }

  /**
   * Saves checkpoint {@code name} in {@code runDir} and returns its manifest. An existing
   * checkpoint of that name is un-committed first (its manifest deleted), so a crash never
   * leaves an old manifest over new parts.
   */
  public static Path save(Path runDir, String name, OmniBioTA model, MuAdamW optimizer, TrainingState state)
      throws IOException {
    if (name.isEmpty() || name.startsWith(".") || name.contains("/") || name.contains("\\")) {
      throw new IllegalArgumentException("checkpoint name '" + name + "' is not a plain file name");
    }
    if (!state.config().equals(model.config())) {
      throw new IllegalArgumentException(
          "training state config " + state.config() + " is not the model's " + model.config());
    }
    Files.createDirectories(runDir);
    Path manifest = manifestOf(runDir, name);
    if (Files.deleteIfExists(manifest)) {
      AtomicFiles.forceFolder(runDir.toAbsolutePath());
    }
    Map<String, Path> files = new LinkedHashMap<>();
    for (String role : ROLES) {
      files.put(role, runDir.resolve(name + SUFFIX.get(role)));
    }
    ModelWeights.save(model, files.get(WEIGHTS));
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put(STEPS_KEY, Long.toString(optimizer.steps()));
    SafeTensors.write(files.get(OPTIMIZER), optimizer.state(), metadata);
    AtomicFiles.write(files.get(STATE), JSON.writeValueAsBytes(state));
    CheckpointManifest.of(name, state, files).write(manifest);
    return manifest;
  }

  /**
   * Loads and verifies a checkpoint given as its manifest, its {@code .safetensors} weights
   * or its path prefix {@code R/X}: every part present with the manifest's size and SHA-256,
   * the weights' config JSON valid and their names and shapes those of that config, the
   * moments matching the weights, the state's config the weights'. Anything else is a
   * UserError naming the file and the problem. Tensors are allocated in the caller's
   * PointerScope, if any.
   */
  public static Loaded load(Path checkpoint) throws IOException {
    Path manifestPath = manifestPath(checkpoint);
    if (!Files.isRegularFile(manifestPath)) {
      throw new UserError(
          "checkpoint " + checkpoint + ": no manifest " + manifestPath
              + " (a checkpoint without one was never committed, e.g. an interrupted save)");
    }
    CheckpointManifest manifest = CheckpointManifest.read(manifestPath);
    manifest.verify(manifestPath);

    Path weightsFile = manifest.file(manifestPath, WEIGHTS);
    SafeTensors.Contents weights = SafeTensors.read(weightsFile);
    String configJson = weights.metadata().get(ModelWeights.CONFIG_KEY);
    if (configJson == null) {
      throw new UserError("checkpoint weights " + weightsFile + ": no model config in the metadata");
    }
    OmniBioTAConfig config;
    try {
      config = OmniBioTAConfig.fromJson(configJson);
    } catch (UserError e) {
      throw new UserError("checkpoint weights " + weightsFile + ": " + e.getMessage(), e);
    }
    Map<String, long[]> shapes = parameterShapes(config);
    checkTensors(weightsFile, "weight ", shapes, weights.tensors(), "its config " + config.toJson());

    Path optimizerFile = manifest.file(manifestPath, OPTIMIZER);
    SafeTensors.Contents moments = SafeTensors.read(optimizerFile);
    Map<String, long[]> momentShapes = new LinkedHashMap<>();
    shapes.forEach((n, s) -> {
      momentShapes.put("exp_avg." + n, s);
      momentShapes.put("exp_avg_sq." + n, s);
    });
    checkTensors(optimizerFile, "", momentShapes, moments.tensors(), "the weights");
    long steps;
    try {
      steps = Long.parseLong(moments.metadata().getOrDefault(STEPS_KEY, ""));
    } catch (NumberFormatException e) {
      throw new UserError("checkpoint optimizer state " + optimizerFile + ": no step count in the metadata");
    }

    Path stateFile = manifest.file(manifestPath, STATE);
    TrainingState state;
    try {
      state = JSON.readValue(Files.readAllBytes(stateFile), TrainingState.class);
    } catch (JsonProcessingException e) {
      throw new UserError("checkpoint training state " + stateFile + " is not valid: " + e.getOriginalMessage());
    }
    if (!state.config().equals(config)) {
      throw new UserError(
          "checkpoint training state " + stateFile + " names model config " + state.config().toJson()
              + ", but the weights " + weightsFile + " are " + config.toJson());
    }
    return new Loaded(config, weights.tensors(), moments.tensors(), state, manifestPath, steps);
  }

  /**
   * The manifest to resume from: {@code latest} (the committed checkpoint with the most
   * tokens among {@code saveName_*} and the final {@code saveName}), a number of tokens (the
   * checkpoint {@code saveName_TOKENS}), or a path (as {@link #load} takes). A UserError
   * when there is none, listing the available ones.
   */
  public static Path resolve(Path runDir, String saveName, String resumeFrom) throws IOException {
    String spec = resumeFrom.trim();
    if (spec.equals("latest")) {
      List<Path> candidates = new ArrayList<>(list(runDir, saveName));
      Path finalOne = manifestOf(runDir, saveName);
      if (committed(finalOne)) {
        candidates.add(finalOne);
      }
      Path best = null;
      long bestTokens = -1;
      for (Path m : candidates) {
        long tokens = CheckpointManifest.read(m).tokens();
        if (tokens >= bestTokens) { // ties go to the later candidate: the final checkpoint
          best = m;
          bestTokens = tokens;
        }
      }
      if (best == null) {
        throw new UserError(
            "--resume_from latest: no committed checkpoint " + saveName + "_TOKENS or " + saveName
                + " in " + runDir);
      }
      return best;
    }
    Long tokens = tokens(spec);
    if (tokens != null) {
      Path periodic = manifestOf(runDir, saveName + "_" + tokens);
      if (committed(periodic)) {
        return periodic;
      }
      Path finalOne = manifestOf(runDir, saveName);
      if (committed(finalOne) && CheckpointManifest.read(finalOne).tokens() == tokens) {
        return finalOne;
      }
      List<String> available = new ArrayList<>();
      for (Path m : list(runDir, saveName)) {
        available.add(Long.toString(CheckpointManifest.read(m).tokens()));
      }
      throw new UserError(
          "--resume_from " + resumeFrom + ": no committed checkpoint " + saveName + "_" + tokens
              + " in " + runDir + "; available: "
              + (available.isEmpty() ? "none" : String.join(", ", available)));
    }
    Path manifest = manifestPath(Path.of(spec));
    if (!committed(manifest)) {
      throw new UserError(
          "--resume_from " + resumeFrom + ": no committed checkpoint there (expected a manifest "
              + manifest + " whose parts are present)");
    }
    return manifest;
  }

  /** The committed periodic checkpoints {@code saveName_TOKENS} of the run, oldest first. */
  /** Whether checkpoint {@code name} of {@code runDir} was committed (its manifest exists). */
  public static boolean exists(Path runDir, String name) {
    return Files.exists(runDir.resolve(name + MANIFEST_SUFFIX));
  }

  public static List<Path> list(Path runDir, String saveName) throws IOException {
    Pattern pattern = Pattern.compile(Pattern.quote(saveName) + "_(\\d+)" + Pattern.quote(MANIFEST_SUFFIX));
    if (!Files.isDirectory(runDir)) {
      return List.of();
    }
    List<Periodic> found = new ArrayList<>();
    try (Stream<Path> files = Files.list(runDir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Matcher m = pattern.matcher(p.getFileName().toString());
        if (m.matches() && committed(p)) {
          found.add(new Periodic(new BigDecimal(m.group(1)), p));
        }
      }
    }
    found.sort(Comparator.comparing(Periodic::tokens));
    return found.stream().map(Periodic::manifest).collect(Collectors.toList());
  }

  private record Periodic(BigDecimal tokens, Path manifest) {}

  /**
   * Deletes all but the newest {@code keep} periodic checkpoints (keep <= 0 keeps all). Call
   * it only after a commit. Each manifest is deleted (and the folder fsynced) before its
   * parts, so a half-deleted checkpoint is never taken for a committed one. Parts of
   * interrupted saves older than the newest committed checkpoint go too.
   */
  public static void prune(Path runDir, String saveName, int keep) throws IOException {
    if (keep <= 0) {
      return;
    }
    List<Path> committed = list(runDir, saveName);
    if (committed.isEmpty()) {
      return;
    }
    for (Path manifest : committed.subList(0, Math.max(0, committed.size() - keep))) {
      CheckpointManifest m = CheckpointManifest.read(manifest);
      Files.deleteIfExists(manifest);
      AtomicFiles.forceFolder(runDir.toAbsolutePath());
      for (String role : ROLES) {
        Files.deleteIfExists(m.file(manifest, role));
      }
      log.info("pruned checkpoint {}", manifest);
    }
    BigDecimal newest = tokensOfName(committed.get(committed.size() - 1), saveName);
    Pattern part =
        Pattern.compile("\\.?" + Pattern.quote(saveName) + "_(\\d+)(\\.safetensors|\\.optimizer\\.safetensors|\\.state\\.json)(\\..*\\.tmp)?");
    try (Stream<Path> files = Files.list(runDir)) {
      for (Path p : files.collect(Collectors.toList())) {
        Matcher m = part.matcher(p.getFileName().toString());
        if (m.matches() && new BigDecimal(m.group(1)).compareTo(newest) < 0) {
          String name = saveName + "_" + m.group(1);
          if (!Files.exists(manifestOf(runDir, name))) {
            Files.deleteIfExists(p);
            log.info("deleted {}, left by an interrupted save", p);
          }
        }
      }
    }
  }

  /** The manifest of a checkpoint given as manifest, weights, another part, or prefix. */
  static Path manifestPath(Path checkpoint) {
    String file = checkpoint.getFileName().toString();
    for (String suffix : List.of(MANIFEST_SUFFIX, SUFFIX.get(OPTIMIZER), SUFFIX.get(WEIGHTS), SUFFIX.get(STATE))) {
      if (file.endsWith(suffix) && file.length() > suffix.length()) {
        return checkpoint.resolveSibling(file.substring(0, file.length() - suffix.length()) + MANIFEST_SUFFIX);
      }
    }
    return checkpoint.resolveSibling(file + MANIFEST_SUFFIX);
  }

  private static Path manifestOf(Path runDir, String name) {
    return runDir.resolve(name + MANIFEST_SUFFIX);
  }

  /** A manifest that parses and whose parts are all present with their recorded sizes. */
  private static boolean committed(Path manifest) throws IOException {
    if (!Files.isRegularFile(manifest)) {
      return false;
    }
    try {
      return CheckpointManifest.read(manifest).partsPresent(manifest);
    } catch (UserError e) {
      log.warn("ignoring checkpoint {}: {}", manifest, e.getMessage());
      return false;
    }
  }

  private static BigDecimal tokensOfName(Path manifest, String saveName) {
    String file = manifest.getFileName().toString();
    return new BigDecimal(file.substring(saveName.length() + 1, file.length() - MANIFEST_SUFFIX.length()));
  }

  /** A token count: digits, or a number like 1e9 that is a whole number; null otherwise. */
  private static Long tokens(String spec) {
    if (!spec.matches("[0-9]+(\\.[0-9]+)?([eE][0-9]+)?")) {
      return null;
    }
    try {
      return new BigDecimal(spec).longValueExact();
    } catch (ArithmeticException | NumberFormatException e) {
      return null;
    }
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
      Path file, String kind, Map<String, long[]> expected, Map<String, Tensor> tensors, String against) {
    List<String> missing = new ArrayList<>(expected.keySet());
    missing.removeAll(tensors.keySet());
    List<String> unexpected = new ArrayList<>(tensors.keySet());
    unexpected.removeAll(expected.keySet());
    if (!missing.isEmpty() || !unexpected.isEmpty()) {
      throw new UserError(
          "checkpoint file " + file + " does not match " + against + ": missing " + missing
              + ", unexpected " + unexpected);
    }
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      long[] got = tensors.get(e.getKey()).shape();
      if (!Arrays.equals(got, e.getValue())) {
        throw new UserError(
            "checkpoint file " + file + ": " + kind + e.getKey() + " has shape " + Arrays.toString(got)
                + ", " + against + " needs " + Arrays.toString(e.getValue()));
      }
    }
  }
}
