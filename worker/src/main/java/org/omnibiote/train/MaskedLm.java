package org.omnibiote.train;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.model.OmniBioTA;

/**
 * The original's masked-LM objective: each token independently with probability p (0.15),
 * never PAD or EOS, is replaced by MASK (no 80/10/10); the loss is cross-entropy on the masked
 * positions only.
 */
public final class MaskedLm {
  public static final long MASK = 2;
  /** Target of positions that carry no loss (PyTorch's default ignore_index). */
  public static final long IGNORE = -100;
  private static final long MEAN = 1; // at::Reduction::Mean

  /** The model's input and, per position, the original token where masked or IGNORE. */
  public record Batch(Tensor inputs, Tensor targets) {}

  private MaskedLm() {}

  /** Masks with torch's default generator (seed it with torch.manual_seed for repeatability). */
  public static Batch mask(Tensor ids, double probability) {
    Tensor eligible = ids.ne(new Scalar(OmniBioTA.PAD)).logical_and(ids.ne(new Scalar(OmniBioTA.EOS)));
    Tensor masked = torch.rand(ids.shape(), new TensorOptions(Float)).lt(new Scalar(probability)).logical_and(eligible);
    return new Batch(
        torch.where(masked, new Scalar(MASK), ids),
        torch.where(masked, ids, new Scalar(IGNORE)));
  }

  /** Mean cross-entropy over the masked positions; logits [B, T, V], targets [B, T]. */
  public static Tensor loss(Tensor logits, Tensor targets) {
    long v = logits.size(-1);
    return torch.cross_entropy_loss(
        logits.reshape(-1, v), targets.reshape(-1), new TensorOptional(), MEAN, IGNORE, 0.0);
  }
}
