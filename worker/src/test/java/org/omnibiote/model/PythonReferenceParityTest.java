package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.weights.ModelWeights;

/**
 * Our weights, saved as .safetensors, are read by an independent Python OmniBioTA
 * (src/test/resources/omnibiota_reference.py, Debian's python3-torch 1.13, a numpy-only safetensors
 * reader, load_state_dict(strict=True)); its logits and encodings on the same ids match ours within
 * 1e-5 of each tensor's scale (measured: about 3e-7).
 */
class PythonReferenceParityTest {
  static final String PYTHON = "/usr/bin/python3";
  private static final long P = OmniBioTA.PAD;
  private static final long E = OmniBioTA.EOS;
  private static final double TOLERANCE = 1e-5;

  @TempDir static Path dir;
  private static OmniBioTA model;
  private static long[][] rows;

  @BeforeAll
  static void runPythonReference() throws Exception {
    requireTorch();
    torch.manual_seed(11);
    // Odd vocabulary and dropout > 0 in the config: eval() must switch dropout off.
    model = new OmniBioTA(new OmniBioTAConfig(101, 48, 2, 4, 16, 0.1));
    model.eval();
    rows = ids();
    ModelWeights.save(model, dir.resolve("weights.safetensors"));
    String json =
        Arrays.stream(rows)
            .map(
                r ->
                    Arrays.stream(r)
                        .mapToObj(Long::toString)
                        .collect(Collectors.joining(",", "[", "]")))
            .collect(Collectors.joining(",", "{\"ids\": [", "]}"));
    Files.writeString(dir.resolve("ids.json"), json);
    Path script =
        Path.of(PythonReferenceParityTest.class.getResource("/omnibiota_reference.py").toURI());
    run(
        PYTHON,
        script.toString(),
        dir.resolve("weights.safetensors").toString(),
        dir.resolve("ids.json").toString(),
        dir.resolve("out").toString());
  }

  /** Packed rows with several documents, a padded row, a row without EOS. */
  private static long[][] ids() {
    Random random = new Random(42);
    long[][] r = new long[3][16];
    for (long[] row : r) {
      for (int i = 0; i < row.length; i++) {
        row[i] = 20L + random.nextInt(81);
      }
    }
    r[0][0] = 4;
    r[0][5] = E;
    r[0][6] = 18;
    r[0][11] = E;
    r[0][12] = 4;
    r[1][0] = 18;
    r[1][9] = E;
    Arrays.fill(r[1], 10, 16, P);
    r[2][0] = 4;
    return r;
  }

  @Test
  void logitsMatchWithoutTheBlockDiagonalMask() throws IOException {
    compare("logits", () -> model.forward(TestTensors.ids(rows), false));
  }

  @Test
  void logitsMatchWithTheBlockDiagonalMask() throws IOException {
    compare("logits_blockdiag", () -> model.forward(TestTensors.ids(rows), true));
  }

  @Test
  void encodingsMatchForEveryPoolingMethod() throws IOException {
    for (Pooling method : Pooling.values()) {
      String name = "encode_" + method.name().toLowerCase(java.util.Locale.ROOT);
      compare(name, () -> model.encode(TestTensors.ids(rows), method, false));
    }
    compare("encode_all_blockdiag", () -> model.encode(TestTensors.ids(rows), Pooling.ALL, true));
  }

  @Test
  void weightsWrittenBackByPythonLoadBitExact() throws IOException {
    OmniBioTA back = ModelWeights.load(dir.resolve("out").resolve("rewritten.safetensors"));
    assertEquals(model.config(), back.config());
    try (PointerScope scope = new PointerScope()) {
      java.util.Map<String, Tensor> ours = model.stateDict();
      java.util.Map<String, Tensor> theirs = back.stateDict();
      for (String name : ours.keySet()) {
        assertTrue(torch.equal(ours.get(name), theirs.get(name)), name);
      }
    }
  }

  private static void compare(String name, java.util.function.Supplier<Tensor> ours)
      throws IOException {
    TestTensors.Floats expected = TestTensors.readNpy(dir.resolve("out").resolve(name + ".npy"));
    try (PointerScope scope = new PointerScope()) {
      TestTensors.assertClose(expected, TestTensors.floats(ours.get()), TOLERANCE, name);
    }
  }

  static void requireTorch() throws Exception {
    ReferencePython.requireTorch();
  }

  private static void run(String... command) throws Exception {
    ReferencePython.run(command);
  }
}
