package org.omnibiote.eval;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.data.TokenIds;
import org.omnibiote.data.TrainingData;
import org.omnibiote.data.ValidationData;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.Precision;
import org.omnibiote.train.Autocast;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.TrainStep;

/**
 * The masked-LM loss of a model over a range of val rows, computed exactly as training's val
 * evaluation computes it (model in eval mode, block-diagonal attention, readout at the masked
 * positions, cross-entropy summed in float32), batch by batch; the sums are added in double. An
 * evaluation of rows 0..m-1 in one batch of m is the very computation of training's val line.
 *
 * <p>Not thread-safe (one model, one thread); native memory is freed per batch.
 */
public final class MaskedLmEvaluation {

  /** Told after each batch: rows done so far in this range. */
  @FunctionalInterface
  public interface Progress {
    void rows(long done);
  }

  /**
   * What one range of one dataset gave: summed cross-entropy over its masked tokens, their count,
   * the rows and their non-PAD tokens. Parts of a dataset add up ({@link #plus}).
   */
  public record Sums(long rows, long tokens, long masked, double lossSum) {
    public static final Sums ZERO = new Sums(0, 0, 0, 0);

    public Sums plus(Sums o) {
      return new Sums(rows + o.rows, tokens + o.tokens, masked + o.masked, lossSum + o.lossSum);
    }

    /** Mean cross-entropy per masked token (nats); NaN with no masked token. */
    public double loss() {
      return masked == 0 ? Double.NaN : lossSum / masked;
    }

    public double perplexity() {
      return Math.exp(loss());
    }
  }

  private final OmniBioTA model;
  private final Device device;
  private final Precision precision;
  private final int batchRows;

  /**
   * @param model built and loaded outside any PointerScope; moved to {@code device}, put in eval
   *     mode
   */
  public MaskedLmEvaluation(OmniBioTA model, Device device, Precision precision, int batchRows) {
    if (batchRows < 1) {
      throw new IllegalArgumentException("batch rows must be positive");
    }
    this.model = model;
    this.device = device;
    this.precision = precision;
    this.batchRows = batchRows;
    if (!device.is_cpu()) {
      model.to(device, false);
    }
    model.eval();
  }

  /** Rows {@code first .. first+count-1} of {@code dataset}, in batches of the batch size. */
  public Sums evaluate(
      ValidationData data, String dataset, long first, long count, Progress progress) {
    Sums total = Sums.ZERO;
    for (long r = first; r < first + count; r += batchRows) {
      int rows = (int) Math.min(batchRows, first + count - r);
      total = total.plus(batch(data.masked(dataset, r, rows)));
      progress.rows(r + rows - first);
    }
    return total;
  }

  private Sums batch(TrainingData.MaskedRows rows) {
    long tokens = 0;
    for (long id : rows.ids()) {
      tokens += id != TokenIds.PAD ? 1 : 0;
    }
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard();
        Autocast autocast = Autocast.open(precision, device.type())) {
      MaskedLm.Batch b = MaskedLm.tensors(rows);
      if (!device.is_cpu()) {
        b =
            new MaskedLm.Batch(
                b.inputs().to(device, torch.ScalarType.Long),
                b.targets().to(device, torch.ScalarType.Long));
      }
      long masked = TrainStep.maskedCount(b);
      double sum = 0;
      if (masked > 0) {
        Tensor s = TrainStep.maskedLossSum(model, b, TrainStep.Readout.MASKED, true);
        sum = s.to(torch.ScalarType.Float).item_double();
      }
      return new Sums(rows.rows(), tokens, masked, sum);
    }
  }
}
