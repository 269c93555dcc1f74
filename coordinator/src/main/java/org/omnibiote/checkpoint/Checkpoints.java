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
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run folder's checkpoints as files, without their tensors: which are committed, which one a
 * resume means, pruning, and the training state a checkpoint was saved with. Checkpoint X in run
 * folder R is four files:
 *
 * <ul>
 *   <li>{@code R/X.safetensors}: the weights under the original names with the model config in the
 *       metadata (Python reads it with numpy alone);
 *   <li>{@code R/X.optimizer.safetensors}: the AdamW moments, the optimiser's step count in the
 *       metadata;
 *   <li>{@code R/X.state.json}: the {@link TrainingState};
 *   <li>{@code R/X.checkpoint.json}: the {@link CheckpointManifest} (sizes and SHA-256 of the
 *       three), written last. Each file goes to a temp file, is fsynced and renamed, the folder
 *       fsynced; the manifest's rename commits the checkpoint. Without a valid manifest the parts
 *       are an interrupted save and are never listed or loaded.
 * </ul>
 *
 * Periodic checkpoints are named {@code saveName_TOKENS}, the final one {@code saveName}. The
 * tensors are written and read by the worker (org.omnibiote.weights.TrainingCheckpoint); the
 * coordinator needs only this class, so it never loads libtorch.
 */
public final class Checkpoints {
  private static final Logger log = LoggerFactory.getLogger(Checkpoints.class);

  public static final String WEIGHTS = "weights";
  public static final String OPTIMIZER = "optimizer";
  public static final String STATE = "state";

  /** The parts, in the order they are written and verified. */
  public static final List<String> ROLES = List.of(WEIGHTS, OPTIMIZER, STATE);

  private static final Map<String, String> SUFFIX =
      Map.of(WEIGHTS, ".safetensors", OPTIMIZER, ".optimizer.safetensors", STATE, ".state.json");
  public static final String MANIFEST_SUFFIX = ".checkpoint.json";

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .configure(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES, true)
          .configure(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES, true)
          .enable(SerializationFeature.INDENT_OUTPUT);

  private Checkpoints() {}

  /** The part files of checkpoint {@code name} in {@code runDir}, by role. */
  public static Map<String, Path> partFiles(Path runDir, String name) {
    if (name.isEmpty() || name.startsWith(".") || name.contains("/") || name.contains("\\")) {
      throw new IllegalArgumentException("checkpoint name '" + name + "' is not a plain file name");
    }
    Map<String, Path> files = new LinkedHashMap<>();
    for (String role : ROLES) {
      files.put(role, runDir.resolve(name + SUFFIX.get(role)));
    }
    return files;
  }

  /** The state part as bytes (what the worker writes beside the tensors). */
  public static byte[] stateBytes(TrainingState state) throws JsonProcessingException {
    return JSON.writeValueAsBytes(state);
  }

  /**
   * The training state of a committed checkpoint, its manifest and state part verified (size and
   * SHA-256); the tensors are not read. A UserError names the file and the problem.
   */
  public static TrainingState readState(Path checkpoint) throws IOException {
    Path manifestPath = manifestPath(checkpoint);
    CheckpointManifest manifest = readManifest(checkpoint);
    manifest.verify(manifestPath, STATE);
    return parseState(manifest.file(manifestPath, STATE));
  }

  /** The manifest of a committed checkpoint, or a UserError saying there is none. */
  public static CheckpointManifest readManifest(Path checkpoint) throws IOException {
    Path manifestPath = manifestPath(checkpoint);
    if (!Files.isRegularFile(manifestPath)) {
      throw new UserError(
          "checkpoint "
              + checkpoint
              + ": no manifest "
              + manifestPath
              + " (a checkpoint without one was never committed, e.g. an interrupted save)");
    }
    return CheckpointManifest.read(manifestPath);
  }

  /** Parses a state part; a UserError names the file when it is not valid. */
  public static TrainingState parseState(Path stateFile) throws IOException {
    try {
      com.fasterxml.jackson.databind.JsonNode tree = JSON.readTree(Files.readAllBytes(stateFile));
      if (tree instanceof com.fasterxml.jackson.databind.node.ObjectNode o
          && !o.has("data_generations")) {
        // Written before runs adopted data generations (or by a run that adopted none).
        o.put("data_generations", "");
      }
      return JSON.treeToValue(tree, TrainingState.class);
    } catch (JsonProcessingException e) {
      throw new UserError(
          "checkpoint training state " + stateFile + " is not valid: " + e.getOriginalMessage());
    }
  }

  /**
   * Refuses to resume when a setting that must match ({@link TrainingState#run}) differs between
   * the checkpoint and this run, naming each one.
   */
  public static void requireSameRun(Path manifest, TrainingState state, Map<String, String> now) {
    Map<String, String> saved = state.run();
    List<String> differences = new ArrayList<>();
    SortedSet<String> keys = new TreeSet<>(saved.keySet());
    keys.addAll(now.keySet());
    for (String key : keys) {
      String was = saved.get(key);
      String is = now.get(key);
      if (was == null ? is != null : !was.equals(is)) {
        differences.add(
            key + " " + (was == null ? "(unset)" : was) + " -> " + (is == null ? "(unset)" : is));
      }
    }
    if (!differences.isEmpty()) {
      throw new UserError(
          "checkpoint "
              + manifest
              + " was saved by a run with other settings; resuming needs the same: "
              + String.join(", ", differences));
    }
  }

  /**
   * The manifest to resume from: {@code latest} (the committed checkpoint with the most tokens
   * among {@code saveName_*} and the final {@code saveName}), a number of tokens (the checkpoint
   * {@code saveName_TOKENS}), or a path (a manifest, a part or the prefix R/X). A UserError when
   * there is none, listing the available ones.
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
            "--resume_from latest: no committed checkpoint "
                + saveName
                + "_TOKENS or "
                + saveName
                + " in "
                + runDir);
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
          "--resume_from "
              + resumeFrom
              + ": no committed checkpoint "
              + saveName
              + "_"
              + tokens
              + " in "
              + runDir
              + "; available: "
              + (available.isEmpty() ? "none" : String.join(", ", available)));
    }
    Path manifest = manifestPath(Path.of(spec));
    if (!committed(manifest)) {
      throw new UserError(
          "--resume_from "
              + resumeFrom
              + ": no committed checkpoint there (expected a manifest "
              + manifest
              + " whose parts are present)");
    }
    return manifest;
  }

  /** Whether checkpoint {@code name} of {@code runDir} was committed (its manifest exists). */
  public static boolean exists(Path runDir, String name) {
    return Files.exists(runDir.resolve(name + MANIFEST_SUFFIX));
  }

  /** The committed periodic checkpoints {@code saveName_TOKENS} of the run, oldest first. */
  public static List<Path> list(Path runDir, String saveName) throws IOException {
    Pattern pattern =
        Pattern.compile(Pattern.quote(saveName) + "_(\\d+)" + Pattern.quote(MANIFEST_SUFFIX));
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
   * Deletes all but the newest {@code keep} periodic checkpoints (keep <= 0 keeps all). Call it
   * only after a commit. Each manifest is deleted (and the folder fsynced) before its parts, so a
   * half-deleted checkpoint is never taken for a committed one. Parts of interrupted saves older
   * than the newest committed checkpoint go too.
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
        Pattern.compile(
            "\\.?"
                + Pattern.quote(saveName)
                + "_(\\d+)(\\.safetensors|\\.optimizer\\.safetensors|\\.state\\.json)(\\..*\\.tmp)?");
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
  public static Path manifestPath(Path checkpoint) {
    String file = checkpoint.getFileName().toString();
    for (String suffix :
        List.of(MANIFEST_SUFFIX, SUFFIX.get(OPTIMIZER), SUFFIX.get(WEIGHTS), SUFFIX.get(STATE))) {
      if (file.endsWith(suffix) && file.length() > suffix.length()) {
        return checkpoint.resolveSibling(
            file.substring(0, file.length() - suffix.length()) + MANIFEST_SUFFIX);
      }
    }
    return checkpoint.resolveSibling(file + MANIFEST_SUFFIX);
  }

  public static Path manifestOf(Path runDir, String name) {
    return runDir.resolve(name + MANIFEST_SUFFIX);
  }

  /** A manifest that parses and whose parts are all present with their recorded sizes. */
  public static boolean committed(Path manifest) throws IOException {
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
    return new BigDecimal(
        file.substring(saveName.length() + 1, file.length() - MANIFEST_SUFFIX.length()));
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
}
