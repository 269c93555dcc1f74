package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * A sequence encodes the same alone and right-padded in a batch beside a longer one: pooling
 * ignores PAD positions and attention never sees PAD keys.
 */
class EncodePoolingTest {
  private static final long P = OmniBioTA.PAD;
  private static final long E = OmniBioTA.EOS;
  private static final int N = 32;

  @Test
  void everyPoolingMethodIgnoresPadding() {
    torch.manual_seed(5);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(64, N, 2, 4, 10, 0.1));
    model.eval();
    long[][] alone = {{18, 30, 31, 32, E}};
    long[][] batch = {{4, 20, 21, 22, 23, 24, 25, 26, 27, E}, {18, 30, 31, 32, E, P, P, P, P, P}};
    try (PointerScope scope = new PointerScope()) {
      for (Pooling method : Pooling.values()) {
        TestTensors.Floats single =
            TestTensors.floats(model.encode(TestTensors.ids(alone), method, false));
        TestTensors.Floats both =
            TestTensors.floats(model.encode(TestTensors.ids(batch), method, false));
        if (method == Pooling.ALL) {
          float[] row = Arrays.copyOfRange(both.values(), 10 * N, 20 * N);
          TestTensors.assertClose(
              single,
              new TestTensors.Floats(single.shape(), Arrays.copyOf(row, 5 * N)),
              1e-5,
              "all");
          assertArrayEquals(
              new float[5 * N], Arrays.copyOfRange(row, 5 * N, 10 * N), "PAD positions are zero");
        } else {
          assertArrayEquals(new long[] {2, N}, both.shape());
          TestTensors.Floats second =
              new TestTensors.Floats(single.shape(), Arrays.copyOfRange(both.values(), N, 2 * N));
          TestTensors.assertClose(single, second, 1e-5, method.toString());
        }
      }
    }
  }

  @Test
  void firstAndLastAreTheTagAndTheLastRealToken() {
    torch.manual_seed(6);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(64, N, 1, 4, 8, 0.0));
    model.eval();
    long[][] ids = {{18, 30, 31, E, P, P}};
    try (PointerScope scope = new PointerScope()) {
      float[] all =
          TestTensors.floats(model.encode(TestTensors.ids(ids), Pooling.ALL, false)).values();
      float[] first =
          TestTensors.floats(model.encode(TestTensors.ids(ids), Pooling.FIRST, false)).values();
      float[] last =
          TestTensors.floats(model.encode(TestTensors.ids(ids), Pooling.LAST, false)).values();
      assertArrayEquals(Arrays.copyOfRange(all, 0, N), first);
      assertArrayEquals(Arrays.copyOfRange(all, 3 * N, 4 * N), last);
      assertEquals(N, first.length);
    }
  }
}
