package org.omnibiote.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

class SafeTensorsTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(50, 16, 1, 2, 8, 0.1);

  @TempDir Path dir;

  @Test
  void weightsRoundTripBitExactWithTheConfigInTheMetadata() throws IOException {
    torch.manual_seed(1);
    OmniBioTA model = new OmniBioTA(CONFIG);
    Path file = dir.resolve("w.safetensors");
    ModelWeights.save(model, file);
    OmniBioTA loaded = ModelWeights.load(file);
    assertEquals(CONFIG, loaded.config());
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> a = model.stateDict();
      Map<String, Tensor> b = loaded.stateDict();
      assertEquals(List.copyOf(a.keySet()), List.copyOf(b.keySet()));
      for (String name : a.keySet()) {
        assertTrue(torch.equal(a.get(name), b.get(name)), name + " differs after the round trip");
      }
    }
    // No temporary file is left beside the weights.
    try (var files = Files.list(dir)) {
      assertEquals(
          List.of("w.safetensors"),
          files.map(p -> p.getFileName().toString()).collect(Collectors.toList()));
    }
  }

  @Test
  void headerIsTheSafetensorsLayout() throws IOException {
    Path file = dir.resolve("w.safetensors");
    ModelWeights.save(new OmniBioTA(CONFIG), file);
    ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    long headerLength = bytes.getLong();
    assertEquals(0, (8 + headerLength) % 8, "data 8-byte aligned");
    String header = new String(bytes.array(), 8, (int) headerLength, StandardCharsets.UTF_8);
    assertTrue(header.startsWith("{\"__metadata__\":{\"format\":\"pt\",\"config\":"), header);
    assertTrue(header.contains("\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[50,16],"), header);
    // 50x16 + 16 + (48x16 + 16x16 + 16 + 64x16 + 16x64) + 16 + 50x16 floats
    long floats = 800 + 16 + 768 + 256 + 16 + 1024 + 1024 + 16 + 800;
    assertEquals(8 + headerLength + 4 * floats, Files.size(file));
  }

  @Test
  void truncatedFileIsRefused() throws IOException {
    Path file = saved();
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, bytes.length - 5));
    UserError e = assertThrows(UserError.class, () -> ModelWeights.load(file));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void impossibleHeaderLengthIsRefused() throws IOException {
    Path file = saved();
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
    Files.write(file, bytes);
    UserError e = assertThrows(UserError.class, () -> ModelWeights.load(file));
    assertTrue(e.getMessage().contains("header length"), e.getMessage());
  }

  @Test
  void weightsOfAnotherShapeAreRefusedNamingTheTensor() throws IOException {
    Path file = dir.resolve("w.safetensors");
    OmniBioTA model = new OmniBioTA(CONFIG);
    // Same names, but the file claims a wider model in its config.
    SafeTensors.write(
        file,
        model.stateDict(),
        Map.of("config", new OmniBioTAConfig(50, 32, 1, 2, 8, 0.1).toJson()));
    UserError e = assertThrows(UserError.class, () -> ModelWeights.load(file));
    assertTrue(
        e.getMessage().contains("transformer.wte.weight has shape [50, 16]"), e.getMessage());
  }

  @Test
  void missingConfigIsRefused() throws IOException {
    Path file = dir.resolve("w.safetensors");
    SafeTensors.write(file, new OmniBioTA(CONFIG).stateDict(), Map.of());
    UserError e = assertThrows(UserError.class, () -> ModelWeights.load(file));
    assertTrue(e.getMessage().contains("no model config"), e.getMessage());
  }

  private Path saved() throws IOException {
    Path file = dir.resolve("w.safetensors");
    ModelWeights.save(new OmniBioTA(CONFIG), file);
    return file;
  }
}
