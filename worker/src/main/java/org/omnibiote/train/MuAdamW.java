package org.omnibiote.train;

import java.util.Map;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.omnibiote.model.OmniBioTA;

/**
 * AdamW with µP's two groups (mup 1.0.0's MuAdamW for base width 24): the hidden matrices
 * (c_attn, attn.c_proj, c_fc, mlp.c_proj) get lr * 24/N and weight_decay * N/24; every
 * other parameter (wte, LayerNorm gains, lm_head) keeps lr and weight_decay. Decay is
 * decoupled, so LayerNorm gains decay too, as in the original. {@code forceLr} gives one
 * plain AdamW group instead (the original's --force_lr).
 */
public final class MuAdamW {
  /** The original's optimiser flags. */
  public record Settings(double lr, double beta1, double beta2, double epsilon, double weightDecay) {
    public static final Settings ORIGINAL_DEFAULTS = new Settings(1e-2, 0.9, 0.999, 1e-8, 1e-2);
  }

  private MuAdamW() {}

  /** Matrix-like in µP: a weight whose both dimensions grow with the width. */
  public static boolean isHidden(String name) {
    return name.endsWith(".attn.c_attn.weight")
        || name.endsWith(".attn.c_proj.weight")
        || name.endsWith(".mlp.c_fc.weight")
        || name.endsWith(".mlp.c_proj.weight");
  }

  /** The optimiser; group 0 is the hidden matrices (absent with forceLr), then the rest. */
  public static AdamW create(OmniBioTA model, Settings s, boolean forceLr) {
    Map<String, Tensor> params = model.stateDict();
    if (forceLr) {
      return new AdamW(new TensorVector(params.values().toArray(new Tensor[0])), options(s, s.lr(), s.weightDecay()));
    }
    double width = model.config().nEmbd() / OmniBioTA.BASE_WIDTH;
    TensorVector hidden = new TensorVector();
    TensorVector vector = new TensorVector();
    params.forEach((name, t) -> (isHidden(name) ? hidden : vector).push_back(t));
    AdamW optimizer = new AdamW(hidden, options(s, s.lr() / width, s.weightDecay() * width));
    optimizer.add_param_group(new OptimizerParamGroup(vector, options(s, s.lr(), s.weightDecay())));
    return optimizer;
  }

  private static AdamWOptions options(Settings s, double lr, double weightDecay) {
    AdamWOptions o = new AdamWOptions(lr);
    o.betas().put(0, s.beta1()).put(1, s.beta2());
    o.eps().put(s.epsilon());
    o.weight_decay().put(weightDecay);
    return o;
  }
}
