package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.OptimizerParamGroupVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * Our AdamW against libtorch's own {@code torch::optim::AdamW} with the same groups and options:
 * identical parameters bit for bit over several steps with random gradients and a changing lr; and
 * the moments it exposes are the whole state (a fresh optimiser loaded with them continues
 * bit-identically).
 */
class MuAdamWParityTest {
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(40, 48, 2, 4, 8, 0.0);
  private static final MuAdamW.Settings SETTINGS = new MuAdamW.Settings(3e-2, 0.9, 0.95, 1e-6, 0.1);
  private static final int STEPS = 5;

  @Test
  void muPGroupsStepBitIdenticallyToLibtorchAdamW() {
    assertBitIdenticalToLibtorch(false);
  }

  @Test
  void forceLrStepsBitIdenticallyToLibtorchAdamW() {
    assertBitIdenticalToLibtorch(true);
  }

  private static void assertBitIdenticalToLibtorch(boolean forceLr) {
    torch.manual_seed(5);
    OmniBioTA ours = new OmniBioTA(CONFIG);
    OmniBioTA theirs = new OmniBioTA(CONFIG);
    theirs.loadStateDict(ours.stateDict());
    MuAdamW optimizer = new MuAdamW(ours, SETTINGS, forceLr);
    AdamW reference = libtorchAdamW(theirs, forceLr);
    double[] peaks = optimizer.groupLrs();
    assertEquals(forceLr ? 1 : 2, peaks.length);
    for (int step = 0; step < STEPS; step++) {
      double factor = 1.0 - step / 8.0;
      optimizer.setLrFactor(factor);
      OptimizerParamGroupVector groups = reference.param_groups();
      for (int g = 0; g < peaks.length; g++) {
        groups.get(g).options().set_lr(peaks[g] * factor);
      }
      try (PointerScope scope = new PointerScope()) {
        optimizer.zeroGrad();
        reference.zero_grad();
        randomGradients(ours, theirs);
        optimizer.step();
        reference.step();
        assertSameParameters(ours, theirs, "step " + (step + 1));
      }
    }
    assertEquals(STEPS, optimizer.steps());
  }

  @Test
  void loadedStateContinuesBitIdentically() {
    torch.manual_seed(6);
    OmniBioTA a = new OmniBioTA(CONFIG);
    MuAdamW optA = new MuAdamW(a, SETTINGS, false);
    OmniBioTA scratch = new OmniBioTA(CONFIG);
    for (int step = 0; step < 3; step++) {
      try (PointerScope scope = new PointerScope()) {
        optA.zeroGrad();
        randomGradients(a, scratch);
        optA.step();
      }
    }
    // b: the same weights, a fresh optimiser loaded with a's moments and step count.
    OmniBioTA b = new OmniBioTA(CONFIG);
    b.loadStateDict(a.stateDict());
    MuAdamW optB = new MuAdamW(b, SETTINGS, false);
    Map<String, Tensor> state = optA.state();
    assertEquals(2 * a.stateDict().size(), state.size());
    List<String> keys = new ArrayList<>(state.keySet());
    assertEquals("exp_avg.transformer.wte.weight", keys.get(0));
    assertEquals("exp_avg_sq.transformer.wte.weight", keys.get(1));
    assertEquals("exp_avg_sq.lm_head.weight", keys.get(keys.size() - 1));
    optB.loadState(state, optA.steps());
    assertEquals(3, optB.steps());
    for (int step = 0; step < 2; step++) {
      try (PointerScope scope = new PointerScope()) {
        optA.zeroGrad();
        optB.zeroGrad();
        randomGradients(a, b);
        optA.step();
        optB.step();
      }
    }
    assertSameParameters(a, b, "after resume");
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> sa = optA.state();
      Map<String, Tensor> sb = optB.state();
      for (String key : sa.keySet()) {
        assertTrue(torch.equal(sa.get(key), sb.get(key)), key);
        assertEquals(torch.ScalarType.Float.value, sa.get(key).scalar_type().value, key);
      }
    }
  }

  @Test
  void zeroGradDropsTheGradients() {
    OmniBioTA model = new OmniBioTA(CONFIG);
    MuAdamW optimizer = new MuAdamW(model, SETTINGS, false);
    try (PointerScope scope = new PointerScope()) {
      randomGradients(model, new OmniBioTA(CONFIG));
      assertTrue(model.stateDict().get("lm_head.weight").grad().defined());
      optimizer.zeroGrad();
      for (Tensor p : optimizer.parameters()) {
        assertFalse(p.grad().defined());
      }
    }
  }

  @Test
  void loadStateRefusesAMissingKeyOrAnotherShapeNamingIt() {
    OmniBioTA model = new OmniBioTA(CONFIG);
    MuAdamW optimizer = new MuAdamW(model, SETTINGS, false);
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> missing = new LinkedHashMap<>(optimizer.state());
      missing.remove("exp_avg_sq.transformer.h.1.mlp.c_fc.weight");
      UserError e = assertThrows(UserError.class, () -> optimizer.loadState(missing, 1));
      assertTrue(
          e.getMessage().contains("missing [exp_avg_sq.transformer.h.1.mlp.c_fc.weight]"),
          e.getMessage());

      Map<String, Tensor> wider = new LinkedHashMap<>(optimizer.state());
      wider.put("exp_avg.lm_head.weight", torch.zeros(40, 96));
      e = assertThrows(UserError.class, () -> optimizer.loadState(wider, 1));
      assertTrue(
          e.getMessage().contains("exp_avg.lm_head.weight has shape [40, 96]"), e.getMessage());
    }
  }

  /** Gives both models the same random gradients, through autograd: d(sum(p * r))/dp = r. */
  private static void randomGradients(OmniBioTA a, OmniBioTA b) {
    Map<String, Tensor> pa = a.stateDict();
    Map<String, Tensor> pb = b.stateDict();
    Tensor la = null;
    Tensor lb = null;
    for (String name : pa.keySet()) {
      Tensor r = torch.randn(pa.get(name).shape());
      Tensor ta = pa.get(name).mul(r).sum();
      Tensor tb = pb.get(name).mul(r).sum();
      la = la == null ? ta : la.add(ta);
      lb = lb == null ? tb : lb.add(tb);
    }
    la.backward();
    lb.backward();
  }

  private static void assertSameParameters(OmniBioTA a, OmniBioTA b, String when) {
    Map<String, Tensor> pa = a.stateDict();
    Map<String, Tensor> pb = b.stateDict();
    for (String name : pa.keySet()) {
      Tensor x = pa.get(name);
      Tensor y = pb.get(name);
      assertTrue(
          torch.equal(x, y),
          when + ": " + name + " differs by up to " + x.sub(y).abs().max().item_float());
    }
  }

  /** libtorch's AdamW with the groups MuAdamW makes (the optimiser this project used before). */
  private static AdamW libtorchAdamW(OmniBioTA model, boolean forceLr) {
    Map<String, Tensor> params = model.stateDict();
    if (forceLr) {
      return new AdamW(
          new TensorVector(params.values().toArray(new Tensor[0])),
          options(SETTINGS.lr(), SETTINGS.weightDecay()));
    }
    double width = CONFIG.nEmbd() / OmniBioTA.BASE_WIDTH;
    TensorVector hidden = new TensorVector();
    TensorVector vector = new TensorVector();
    params.forEach((name, t) -> (MuAdamW.isHidden(name) ? hidden : vector).push_back(t));
    AdamW optimizer =
        new AdamW(hidden, options(SETTINGS.lr() / width, SETTINGS.weightDecay() * width));
    optimizer.add_param_group(
        new OptimizerParamGroup(vector, options(SETTINGS.lr(), SETTINGS.weightDecay())));
    return optimizer;
  }

  /**
   * The bindings expose AdamWOptions' {@code std::tuple<double, double> betas} as two raw doubles,
   * and libstdc++ lays a tuple out last element first: index 0 is beta2. (The libtorch-based
   * MuAdamW this class replaces wrote them the other way round, training with beta1 = 0.999 and
   * beta2 = 0.9.) The defaults (0.9, 0.999) pin the layout down.
   */
  private static AdamWOptions options(double lr, double weightDecay) {
    AdamWOptions o = new AdamWOptions(lr);
    assertEquals(0.999, o.betas().get(0), "betas layout: index 0 should hold the default beta2");
    assertEquals(0.9, o.betas().get(1), "betas layout: index 1 should hold the default beta1");
    o.betas().put(0, SETTINGS.beta2()).put(1, SETTINGS.beta1());
    o.eps().put(SETTINGS.epsilon());
    o.weight_decay().put(weightDecay);
    return o;
  }
}
