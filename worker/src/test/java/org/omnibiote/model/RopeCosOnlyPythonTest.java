package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * cos_only against PyTorch itself: the original's complex RoPE table, cast by Module.to(bfloat16)
 * and applied to bf16 q/k (src/test/resources/rope_after_bf16_cast.py on Debian's python3-torch),
 * gives exactly our cos_only output, and not our rotary one.
 */
class RopeCosOnlyPythonTest {
  private static final int T = 12;
  private static final int H = 3;
  private static final int D = 8;

  @TempDir Path dir;

  @Test
  void cosOnlyIsBitExactlyTheOriginalsRopeAfterItsBf16Cast() throws Exception {
    PythonReferenceParityTest.requireTorch();
    Path out = dir.resolve("rope.npy");
    Path script = Path.of(getClass().getResource("/rope_after_bf16_cast.py").toURI());
    Process p =
        new ProcessBuilder(
                PythonReferenceParityTest.PYTHON,
                script.toString(),
                out.toString(),
                Integer.toString(T),
                Integer.toString(H),
                Integer.toString(D))
            .redirectErrorStream(true)
            .start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), "python failed:\n" + log);
    TestTensors.Floats original = TestTensors.readNpy(out);

    float[] values = new float[2 * T * H * D];
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) (Math.floorMod(7 * i, 33) - 16) / 8; // exact in bf16
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor x = Tensor.create(values, 2, T, H, D).to(ScalarType.BFloat16);
      float[] cosOnly =
          TestTensors.floats(
                  new OmniBioTA.Rope(T, D, OmniBioTAConfig.RopeVariant.COS_ONLY).apply(x))
              .values();
      float[] rotary =
          TestTensors.floats(new OmniBioTA.Rope(T, D, OmniBioTAConfig.RopeVariant.ROTARY).apply(x))
              .values();
      assertArrayEquals(new long[] {2, T, H, D}, original.shape());
      assertArrayEquals(original.values(), cosOnly, 0f);
      assertFalse(
          Arrays.equals(original.values(), rotary), "rotary must differ from the cast table");
    }
  }
}
