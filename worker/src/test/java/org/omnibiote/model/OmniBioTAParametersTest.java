package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

class OmniBioTAParametersTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(97, 48, 2, 4, 16, 0.1);

  @Test
  void parameterNamesAndShapesAreTheOriginalStateDict() {
    int v = 97;
    int n = 48;
    Map<String, List<Long>> expected = new LinkedHashMap<>();
    expected.put("transformer.wte.weight", List.of((long) v, (long) n));
    for (int i = 0; i < 2; i++) {
      String p = "transformer.h." + i + ".";
      expected.put(p + "ln_1.weight", List.of((long) n));
      expected.put(p + "attn.c_attn.weight", List.of(3L * n, (long) n));
      expected.put(p + "attn.c_proj.weight", List.of((long) n, (long) n));
      expected.put(p + "ln_2.weight", List.of((long) n));
      expected.put(p + "mlp.c_fc.weight", List.of(4L * n, (long) n));
      expected.put(p + "mlp.c_proj.weight", List.of((long) n, 4L * n));
    }
    expected.put("transformer.ln_f.weight", List.of((long) n));
    expected.put("lm_head.weight", List.of((long) v, (long) n));

    Map<String, List<Long>> actual = new LinkedHashMap<>();
    new OmniBioTA(CONFIG).stateDict().forEach((name, t) -> actual.put(name, shape(t)));
    assertEquals(new ArrayList<>(expected.entrySet()), new ArrayList<>(actual.entrySet()));
  }

  @Test
  void initialisationIsPyTorchDefaultsWithTheMuPReadoutRescaled() {
    torch.manual_seed(7);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(1024, 96, 1, 4, 16, 0.0));
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> p = model.stateDict();
      // Linear: U(±1/sqrt(fan_in)); the readout: U(±1/sqrt(N)) * sqrt(N/24) = U(±1/sqrt(24)).
      assertBound(p.get("transformer.h.0.attn.c_attn.weight"), 1 / Math.sqrt(96));
      assertBound(p.get("transformer.h.0.mlp.c_proj.weight"), 1 / Math.sqrt(4 * 96));
      assertBound(p.get("lm_head.weight"), 1 / Math.sqrt(24));
      // Embedding N(0, 1); LayerNorm gains 1.
      double std = p.get("transformer.wte.weight").std().item_float();
      assertEquals(1.0, std, 0.02);
      assertEquals(96f, p.get("transformer.ln_f.weight").sum().item_float());
    }
  }

  /** All values within ±bound, and the largest near it (a uniform sample of many values). */
  private static void assertBound(Tensor t, double bound) {
    double max = t.abs().max().item_float();
    assertTrue(max <= bound * (1 + 1e-6), "max |w| " + max + " above " + bound);
    assertTrue(max >= bound * 0.99, "max |w| " + max + " far below " + bound);
  }

  private static List<Long> shape(Tensor t) {
    List<Long> s = new ArrayList<>();
    for (long d : t.shape()) {
      s.add(d);
    }
    return s;
  }
}
