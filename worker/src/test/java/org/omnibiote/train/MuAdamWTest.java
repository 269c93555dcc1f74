package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * µP's optimiser groups, checked by their effect: after one AdamW step with every gradient equal to
 * 1, a parameter p becomes p * (1 - lr_g * wd_g) - lr_g (Adam's first step moves by lr times the
 * gradient's sign), so each parameter's group lr and decay can be read back.
 */
class MuAdamWTest {
  private static final int N = 96; // width multiplier 4
  private static final MuAdamW.Settings SETTINGS =
      new MuAdamW.Settings(1e-2, 0.9, 0.999, 1e-8, 0.05);

  @Test
  void hiddenMatricesGetLrTimes24OverNAndDecayTimesNOver24() {
    Map<String, double[]> lrAndDecay = stepOnce(false);
    for (Map.Entry<String, double[]> e : lrAndDecay.entrySet()) {
      boolean hidden = MuAdamW.isHidden(e.getKey());
      double lr = hidden ? 1e-2 * 24 / N : 1e-2;
      double wd = hidden ? 0.05 * N / 24 : 0.05;
      assertEquals(lr, e.getValue()[0], lr * 1e-3, e.getKey() + " lr");
      assertEquals(wd, e.getValue()[1], wd * 1e-2, e.getKey() + " weight decay");
    }
    List<String> hidden = new ArrayList<>();
    lrAndDecay.keySet().stream().filter(MuAdamW::isHidden).forEach(hidden::add);
    assertEquals(
        List.of(
            "transformer.h.0.attn.c_attn.weight",
            "transformer.h.0.attn.c_proj.weight",
            "transformer.h.0.mlp.c_fc.weight",
            "transformer.h.0.mlp.c_proj.weight"),
        hidden);
  }

  @Test
  void forceLrIsOnePlainGroup() {
    Map<String, double[]> lrAndDecay = stepOnce(true);
    for (Map.Entry<String, double[]> e : lrAndDecay.entrySet()) {
      assertEquals(1e-2, e.getValue()[0], 1e-5, e.getKey() + " lr");
      assertEquals(0.05, e.getValue()[1], 0.05 * 1e-2, e.getKey() + " weight decay");
    }
  }

  /** Per parameter: the lr and weight decay its update implies. */
  private static Map<String, double[]> stepOnce(boolean forceLr) {
    torch.manual_seed(2);
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(64, N, 1, 4, 8, 0.0));
    MuAdamW optimizer = new MuAdamW(model, SETTINGS, forceLr);
    Map<String, double[]> out = new java.util.LinkedHashMap<>();
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> params = model.stateDict();
      Map<String, Tensor> before = new java.util.LinkedHashMap<>();
      Tensor loss = null;
      for (Map.Entry<String, Tensor> e : params.entrySet()) {
        // Distinct values everywhere (LayerNorm gains start all 1), to fit lr and decay below.
        e.getValue().detach().copy_(torch.randn(e.getValue().shape()));
        before.put(e.getKey(), e.getValue().detach().clone());
        loss = loss == null ? e.getValue().sum() : loss.add(e.getValue().sum());
      }
      loss.backward(); // d(sum of every parameter)/dp = 1 everywhere
      optimizer.step();
      params.forEach(
          (name, p) -> {
            // p1 = p0 - lr*wd*p0 - lr: fit lr and wd from two elements with different p0.
            Tensor p0 = before.get(name).flatten();
            Tensor p1 = p.detach().flatten();
            int i = argmax(p0);
            int j = argmin(p0);
            double a0 = p0.get(i).item_float(), b0 = p0.get(j).item_float();
            double a1 = p1.get(i).item_float(), b1 = p1.get(j).item_float();
            double slope = (a1 - b1) / (a0 - b0); // 1 - lr*wd
            double lr = slope * a0 - a1;
            out.put(name, new double[] {lr, (1 - slope) / lr});
          });
    }
    return out;
  }

  private static int argmax(Tensor t) {
    return (int) t.argmax().item_long();
  }

  private static int argmin(Tensor t) {
    return (int) t.argmin().item_long();
  }
}
