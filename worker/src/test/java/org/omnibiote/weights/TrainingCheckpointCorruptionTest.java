package org.omnibiote.weights;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.CheckpointManifest;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.train.MuAdamW;

/**
 * A damaged or mismatched checkpoint is refused with a message naming the file and the problem.
 * Some cases re-seal the manifest (new size and SHA-256) after the damage, so that the check behind
 * the integrity check is the one tested.
 */
class TrainingCheckpointCorruptionTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  private Path manifest;
  private Path weights;

  @BeforeEach
  void saveOne() throws IOException {
    torch.manual_seed(21);
    manifest =
        TrainingCheckpointTest.save(
            dir, new OmniBioTA(TrainingCheckpointTest.CONFIG), "omnibiota_64", 64);
    weights = dir.resolve("omnibiota_64.safetensors");
  }

  @Test
  void truncatedWeightsAreRefused() throws IOException {
    byte[] bytes = Files.readAllBytes(weights);
    Files.write(weights, Arrays.copyOf(bytes, bytes.length - 100));
    assertRefused(
        weights
            + " has "
            + (bytes.length - 100)
            + " bytes, the manifest says "
            + bytes.length
            + " (truncated)");
    assertTrue(
        Checkpoints.list(dir, "omnibiota").isEmpty(),
        "a checkpoint with a short part is not listed");
  }

  @Test
  void oneFlippedByteIsASha256Mismatch() throws IOException {
    byte[] bytes = Files.readAllBytes(weights);
    bytes[bytes.length - 7] ^= 0x10;
    Files.write(weights, bytes);
    assertRefused(weights + " has SHA-256 ");
  }

  @Test
  void aMissingOptimizerPartIsRefused() throws IOException {
    Path optimizer = dir.resolve("omnibiota_64.optimizer.safetensors");
    Files.delete(optimizer);
    assertRefused("its optimizer part " + optimizer + " is missing");
  }

  @Test
  void garbageInTheSafetensorsHeaderIsRefused() throws IOException {
    byte[] bytes = Files.readAllBytes(weights);
    byte[] garbage = "{\"__metadata__\": nonsense".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(garbage, 0, bytes, 8, garbage.length);
    Files.write(weights, bytes);
    reseal("weights", weights);
    assertRefused("safetensors file " + weights + ": header is not valid JSON");
  }

  @Test
  void aStateNamingAnotherModelConfigIsRefused() throws IOException {
    Path state = dir.resolve("omnibiota_64.state.json");
    ObjectNode json = (ObjectNode) JSON.readTree(state.toFile());
    ((ObjectNode) json.get("config")).put("n_embd", 64);
    Files.write(state, JSON.writeValueAsBytes(json));
    reseal("state", state);
    assertRefused("checkpoint training state " + state + " names model config");
  }

  @Test
  void weightsNotOfTheirOwnConfigAreRefused() throws IOException {
    // The weights of one model under the config of a wider one.
    OmniBioTAConfig wider = new OmniBioTAConfig(48, 64, 2, 4, 16, 0.1);
    SafeTensors.write(
        weights,
        new OmniBioTA(TrainingCheckpointTest.CONFIG).stateDict(),
        Map.of(ModelWeights.CONFIG_KEY, wider.toJson()));
    reseal("weights", weights);
    assertRefused(
        "checkpoint file "
            + weights
            + ": weight transformer.wte.weight has shape [48, 32], its config");
  }

  @Test
  void applyingToAModelOfAnotherShapeIsRefusedNamingTheTensor() throws IOException {
    TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(manifest);
    OmniBioTA other = new OmniBioTA(new OmniBioTAConfig(48, 64, 2, 4, 16, 0.1));
    MuAdamW optimizer = new MuAdamW(other, TrainingCheckpointTest.SETTINGS, false);
    UserError e = assertThrows(UserError.class, () -> loaded.applyTo(other, optimizer));
    assertTrue(e.getMessage().startsWith("checkpoint " + manifest + ": "), e.getMessage());
    assertTrue(
        e.getMessage()
            .contains("weight transformer.wte.weight has shape [48, 32], the model needs [48, 64]"),
        e.getMessage());
  }

  @Test
  void aManifestOfAnotherFormatIsRefused() throws IOException {
    ObjectNode json = (ObjectNode) JSON.readTree(manifest.toFile());
    json.put("version", 99);
    Files.write(manifest, JSON.writeValueAsBytes(json));
    assertRefused(
        "checkpoint manifest " + manifest + ": format omnibiote-training-checkpoint version 99");
    Files.writeString(manifest, "{\"format\": ");
    assertRefused("checkpoint manifest " + manifest + " is not valid");
  }

  private void assertRefused(String expected) {
    UserError e = assertThrows(UserError.class, () -> TrainingCheckpoint.load(manifest));
    assertTrue(
        e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
  }

  /** Records a changed part's new size and SHA-256 in the manifest, as if it had been saved so. */
  private void reseal(String role, Path file) throws IOException {
    CheckpointManifest m = CheckpointManifest.read(manifest);
    Map<String, CheckpointManifest.Part> parts = new LinkedHashMap<>(m.parts());
    parts.put(role, CheckpointManifest.Part.of(file));
    new CheckpointManifest(m.format(), m.version(), m.name(), m.step(), m.tokens(), parts)
        .write(manifest);
  }
}
