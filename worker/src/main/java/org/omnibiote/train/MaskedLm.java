package org.omnibiote.train;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.data.TokenIds;
import org.omnibiote.data.TrainingData;
import org.omnibiote.model.OmniBioTA;

/**
 * The original's masked-LM objective: each token independently with probability p (0.15), never PAD
 * or EOS, is replaced by MASK (no 80/10/10); the loss is cross-entropy on the masked positions
 * only.
 */
public final class MaskedLm {
  public static final long MASK = TokenIds.MASK;

  /** Target of positions that carry no loss (PyTorch's default ignore_index). */
  public static final long IGNORE = TokenIds.IGNORE;

  private static final long MEAN = 1; // at::Reduction::Mean

  /** The model's input and, per position, the original token where masked or IGNORE. */
  public record Batch(Tensor inputs, Tensor targets) {}

  private MaskedLm() {}

  /**
   * Samples {@code firstSample .. firstSample+rows-1} of {@code data} as [rows, ctxLen] int64
   * tensors (see TrainingData#maskedRows), in the caller's PointerScope.
   */
  public static Batch batch(TrainingData data, long firstSample, int rows) {
    return tensors(data.maskedRows(firstSample, rows));
  }

  /** The fixed val batch of {@code dataset} (see TrainingData#valMaskedRows) as tensors. */
  public static Batch valBatch(TrainingData data, String dataset, int rows) {
    return tensors(data.valMaskedRows(dataset, rows));
  }

  /** Rows as [rows, ctxLen] int64 tensors in the caller's PointerScope. */
  public static Batch tensors(TrainingData.MaskedRows m) {
    // Tensor.create allocates the tensor and copies the whole array in one bulk put.
    // cpu-only: host data; the trainer moves the batch to its device (DataParallelReplica).
    Tensor inputs = Tensor.create(m.inputs(), m.rows(), m.ctxLen());
    // cpu-only: host data; the trainer moves the batch to its device (DataParallelReplica).
    Tensor targets = Tensor.create(m.targets(), m.rows(), m.ctxLen());
    return new Batch(inputs, targets);
  }

  /**
   * Masks {@code ids} on their device with its default generator (seed it with torch.manual_seed
   * for repeatability). Written with ops libtorch can also run on the meta device (bitwise_and on
   * Bool, masked_fill), so MetaDeviceTest runs it there.
   */
  public static Batch mask(Tensor ids, double probability) {
    Tensor eligible =
        ids.ne(new Scalar(OmniBioTA.PAD)).bitwise_and(ids.ne(new Scalar(OmniBioTA.EOS)));
    Tensor masked =
        torch
            .rand(ids.shape(), ids.options().dtype(new ScalarTypeOptional(Float)))
            .lt(new Scalar(probability))
            .bitwise_and(eligible);
    return new Batch(
        ids.masked_fill(masked, new Scalar(MASK)),
        ids.masked_fill(masked.bitwise_not(), new Scalar(IGNORE)));
  }

  /** Mean cross-entropy over the masked positions; logits [B, T, V], targets [B, T]. */
  public static Tensor loss(Tensor logits, Tensor targets) {
    long v = logits.size(-1);
    return torch.cross_entropy_loss(
        logits.reshape(-1, v), targets.reshape(-1), new TensorOptional(), MEAN, IGNORE, 0.0);
  }
}
