package org.omnibiote.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.schedule.Schedule;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.train.Steps;

/** Saving, loading, resolving and pruning training checkpoints. */
class TrainingCheckpointTest {
  /** Dropout > 0, so the restored RNG state shows in the next step's result. */
  static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(48, 32, 2, 4, 16, 0.1);

  static final MuAdamW.Settings SETTINGS = new MuAdamW.Settings(2e-2, 0.9, 0.99, 1e-8, 0.01);
  static final Schedule SCHEDULE = new Schedule(0.1, 4, 50);

  @TempDir Path dir;

  @Test
  void roundTripRestoresWeightsMomentsStepsAndRngSoTrainingContinuesBitIdentically()
      throws IOException {
    torch.manual_seed(3);
    OmniBioTA model = new OmniBioTA(CONFIG);
    MuAdamW optimizer = new MuAdamW(model, SETTINGS, false);
    for (int i = 0; i < 3; i++) {
      step(model, optimizer, i);
    }
    TrainingState state =
        TrainingCheckpoint.captureState(
            3, 192, 12, 77, CONFIG, SCHEDULE, Map.of("ctx_len", "16", "batch_size", "4"), null);
    Path manifest = TrainingCheckpoint.save(dir, "omnibiota_192", model, optimizer, state);
    assertEquals(dir.resolve("omnibiota_192.checkpoint.json"), manifest);
    float[] randAfterSave = rand();
    step(model, optimizer, 3);

    torch.manual_seed(99); // another model, another optimiser, another RNG position
    OmniBioTA resumed = new OmniBioTA(CONFIG);
    MuAdamW resumedOptimizer = new MuAdamW(resumed, SETTINGS, false);
    TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(dir.resolve("omnibiota_192"));
    assertEquals(state, loaded.state());
    assertEquals(CONFIG, loaded.config());
    assertEquals(3, loaded.optimizerSteps());
    assertEquals(SCHEDULE, loaded.state().schedule());
    loaded.applyTo(resumed, resumedOptimizer);
    assertEquals(3, resumedOptimizer.steps());
    assertArrayEquals(
        randAfterSave, rand(), "torch.rand after load continues where it was at save");
    step(resumed, resumedOptimizer, 3);

    try (PointerScope scope = new PointerScope()) {
      assertSameTensors(model.stateDict(), resumed.stateDict());
      assertSameTensors(optimizer.state(), resumedOptimizer.state());
    }
    try (var files = Files.list(dir)) {
      assertEquals(
          List.of(
              "omnibiota_192.checkpoint.json",
              "omnibiota_192.optimizer.safetensors",
              "omnibiota_192.safetensors",
              "omnibiota_192.state.json"),
          files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()),
          "the four parts and no temporary file");
    }
  }

  @Test
  void theWeightsPartIsAModelWeightsFile() throws IOException {
    torch.manual_seed(4);
    OmniBioTA model = new OmniBioTA(CONFIG);
    save(model, "omnibiota", 0);
    OmniBioTA back = ModelWeights.load(dir.resolve("omnibiota.safetensors"));
    try (PointerScope scope = new PointerScope()) {
      assertSameTensors(model.stateDict(), back.stateDict());
    }
  }

  @Test
  void parameterShapesAreTheModels() {
    OmniBioTA model = new OmniBioTA(CONFIG);
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> params = model.stateDict();
      Map<String, long[]> shapes = TrainingCheckpoint.parameterShapes(CONFIG);
      assertEquals(List.copyOf(params.keySet()), List.copyOf(shapes.keySet()));
      params.forEach((name, t) -> assertArrayEquals(t.shape(), shapes.get(name), name));
    }
  }

  @Test
  void aTornSaveIsNeitherListedNorLoaded() throws IOException {
    OmniBioTA model = new OmniBioTA(CONFIG);
    save(model, "omnibiota_100", 100);
    // An interrupted save of 200: every part renamed into place, the manifest never written.
    for (String suffix : List.of(".safetensors", ".optimizer.safetensors", ".state.json")) {
      Files.copy(dir.resolve("omnibiota_100" + suffix), dir.resolve("omnibiota_200" + suffix));
    }
    assertEquals(
        List.of(dir.resolve("omnibiota_100.checkpoint.json")), Checkpoints.list(dir, "omnibiota"));
    assertEquals(
        dir.resolve("omnibiota_100.checkpoint.json"),
        Checkpoints.resolve(dir, "omnibiota", "latest"));
    UserError e =
        assertThrows(
            UserError.class,
            () -> TrainingCheckpoint.load(dir.resolve("omnibiota_200.safetensors")));
    assertTrue(
        e.getMessage().contains("no manifest " + dir.resolve("omnibiota_200.checkpoint.json")),
        e.getMessage());
  }

  @Test
  void resolveFindsLatestTokensAndPaths() throws IOException {
    OmniBioTA model = new OmniBioTA(CONFIG);
    UserError none =
        assertThrows(UserError.class, () -> Checkpoints.resolve(dir, "omnibiota", "latest"));
    assertTrue(none.getMessage().contains("no committed checkpoint"), none.getMessage());

    save(model, "omnibiota_1000", 1000);
    save(model, "omnibiota_3000", 3000);
    save(model, "omnibiota_2000", 2000);
    save(model, "other_9000", 9000); // another save_name in the same folder
    assertEquals(
        List.of(manifest("omnibiota_1000"), manifest("omnibiota_2000"), manifest("omnibiota_3000")),
        Checkpoints.list(dir, "omnibiota"));
    assertEquals(manifest("omnibiota_3000"), Checkpoints.resolve(dir, "omnibiota", "latest"));
    assertEquals(manifest("omnibiota_2000"), Checkpoints.resolve(dir, "omnibiota", "2000"));
    assertEquals(manifest("omnibiota_1000"), Checkpoints.resolve(dir, "omnibiota", "1e3"));

    UserError e =
        assertThrows(UserError.class, () -> Checkpoints.resolve(dir, "omnibiota", "2500"));
    assertTrue(e.getMessage().contains("no committed checkpoint omnibiota_2500"), e.getMessage());
    assertTrue(e.getMessage().contains("available: 1000, 2000, 3000"), e.getMessage());

    // A path: the manifest, the weights, or the prefix, relative or absolute.
    Path prefix = dir.resolve("omnibiota_2000");
    assertEquals(
        manifest("omnibiota_2000"), Checkpoints.resolve(dir, "omnibiota", prefix.toString()));
    assertEquals(
        manifest("omnibiota_2000"), Checkpoints.resolve(dir, "omnibiota", prefix + ".safetensors"));
    assertEquals(
        manifest("omnibiota_2000"),
        Checkpoints.resolve(dir, "omnibiota", prefix + ".checkpoint.json"));
    UserError missing =
        assertThrows(
            UserError.class,
            () -> Checkpoints.resolve(dir, "omnibiota", dir.resolve("nothing").toString()));
    assertTrue(missing.getMessage().contains("nothing.checkpoint.json"), missing.getMessage());

    // The final checkpoint is the latest once it exists (it has the most tokens).
    save(model, "omnibiota", 3500);
    assertEquals(manifest("omnibiota"), Checkpoints.resolve(dir, "omnibiota", "latest"));
    assertEquals(manifest("omnibiota"), Checkpoints.resolve(dir, "omnibiota", "3500"));
    assertEquals(3, Checkpoints.list(dir, "omnibiota").size(), "list holds the periodic ones only");
  }

  @Test
  void pruneKeepsTheNewestKAndDeletesManifestsWithTheirParts() throws IOException {
    OmniBioTA model = new OmniBioTA(CONFIG);
    for (long tokens : new long[] {100, 200, 300, 400}) {
      save(model, "omnibiota_" + tokens, tokens);
    }
    // Left by an interrupted save of 150 (older than the newest: to go) and of 500 (newer: kept).
    Files.copy(dir.resolve("omnibiota_100.safetensors"), dir.resolve("omnibiota_150.safetensors"));
    Files.copy(dir.resolve("omnibiota_100.safetensors"), dir.resolve("omnibiota_500.safetensors"));
    Checkpoints.prune(dir, "omnibiota", 0);
    assertEquals(4, Checkpoints.list(dir, "omnibiota").size(), "keep <= 0 keeps all");

    Checkpoints.prune(dir, "omnibiota", 2);
    assertEquals(
        List.of(manifest("omnibiota_300"), manifest("omnibiota_400")),
        Checkpoints.list(dir, "omnibiota"));
    try (var files = Files.list(dir)) {
      List<String> names =
          files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
      assertFalse(
          names.stream()
              .anyMatch(n -> n.startsWith("omnibiota_100") || n.startsWith("omnibiota_200")),
          names.toString());
      assertFalse(names.contains("omnibiota_150.safetensors"), names.toString());
      assertTrue(names.contains("omnibiota_500.safetensors"), names.toString());
      assertEquals(9, names.size(), names.toString());
    }
    TrainingCheckpoint.load(manifest("omnibiota_300"));
  }

  @Test
  void resumingWithOtherRunSettingsIsRefusedNamingThem() throws IOException {
    OmniBioTA model = new OmniBioTA(CONFIG);
    MuAdamW optimizer = new MuAdamW(model, SETTINGS, false);
    Map<String, String> run = Map.of("batch_size", "4", "ctx_len", "16", "data", "abc123");
    TrainingCheckpoint.save(
        dir,
        "omnibiota_64",
        model,
        optimizer,
        TrainingCheckpoint.captureState(1, 64, 4, 1, CONFIG, SCHEDULE, run, null));
    TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(manifest("omnibiota_64"));
    loaded.requireSameRun(run);
    UserError e =
        assertThrows(
            UserError.class,
            () ->
                loaded.requireSameRun(
                    Map.of("batch_size", "8", "ctx_len", "16", "train_type", "mixed")));
    assertTrue(
        e.getMessage()
            .contains("batch_size 4 -> 8, data abc123 -> (unset), train_type (unset) -> mixed"),
        e.getMessage());
  }

  @Test
  void savingAgainUnderTheSameNameReplacesTheCheckpoint() throws IOException {
    torch.manual_seed(5);
    OmniBioTA first = new OmniBioTA(CONFIG);
    OmniBioTA second = new OmniBioTA(CONFIG);
    save(first, "omnibiota", 1000);
    save(second, "omnibiota", 2000);
    TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(manifest("omnibiota"));
    assertEquals(2000, loaded.state().tokens());
    try (PointerScope scope = new PointerScope()) {
      assertSameTensors(second.stateDict(), loaded.weights());
    }
  }

  private Path manifest(String name) {
    return dir.resolve(name + ".checkpoint.json");
  }

  /** Saves the model with a fresh optimiser and the given token count. */
  Path save(OmniBioTA model, String name, long tokens) throws IOException {
    return save(dir, model, name, tokens);
  }

  static Path save(Path dir, OmniBioTA model, String name, long tokens) throws IOException {
    MuAdamW optimizer = new MuAdamW(model, SETTINGS, false);
    TrainingState state =
        TrainingCheckpoint.captureState(
            tokens / 64, tokens, tokens / 16, 1, model.config(), SCHEDULE, Map.of(), "");
    return TrainingCheckpoint.save(dir, name, model, optimizer, state);
  }

  /** One training step on a batch drawn from torch's generator (as dropout is). */
  private static void step(OmniBioTA model, MuAdamW optimizer, long step) {
    try (PointerScope scope = new PointerScope()) {
      Tensor ids =
          torch.randint(20, 48, new long[] {4, 16}, new TensorOptions(torch.ScalarType.Long));
      ids.select(1, 9).fill_(new Scalar(OmniBioTA.EOS));
      MaskedLm.Batch batch = MaskedLm.mask(ids, 0.3);
      optimizer.setLrFactor(SCHEDULE.factor(step));
      Steps.run(model, optimizer, List.of(batch), LossNorm.GLOBAL, true);
    }
  }

  private static float[] rand() {
    try (PointerScope scope = new PointerScope()) {
      Tensor r = torch.rand(8);
      float[] out = new float[8];
      r.data_ptr_float().capacity(8).get(out);
      return out;
    }
  }

  private static void assertSameTensors(Map<String, Tensor> expected, Map<String, Tensor> actual) {
    assertEquals(List.copyOf(expected.keySet()), List.copyOf(actual.keySet()));
    for (String name : expected.keySet()) {
      assertTrue(torch.equal(expected.get(name), actual.get(name)), name + " differs");
    }
  }
}
