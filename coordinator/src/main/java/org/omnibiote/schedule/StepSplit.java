package org.omnibiote.schedule;

import java.util.ArrayList;
import java.util.List;

/**
 * How one global step's samples are shared among the ranks of a world: the step's rows are whole
 * micro-batches of mini_batch_size rows (RunPlan guarantees it), dealt out so that rank r gets
 * floor(M/W) micro-batches plus one more for the first M mod W ranks, each rank a contiguous range
 * of global sample indices. The global batch is therefore exact whatever the world size, and since
 * sample i is a function of (seed, i) alone, the step trains the same samples in any world; only
 * who computes which changes.
 */
public final class StepSplit {
  private StepSplit() {}

  /**
   * Rank {@code rank}'s share: {@code microBatches} micro-batches from global sample {@code
   * firstSample}.
   */
  public record Share(int rank, long firstSample, int microBatches, int rows) {}

  /**
   * The shares of a step of {@code rows} rows starting at global sample {@code firstSample}, in
   * rank order. A rank may get no micro-batch when the step has fewer than the world size; it still
   * joins the gradient all-reduce, with zero gradients.
   */
  public static List<Share> split(long firstSample, int rows, int miniBatch, int worldSize) {
    if (miniBatch <= 0 || worldSize <= 0 || rows < 0 || rows % miniBatch != 0) {
      throw new IllegalArgumentException(
          "rows " + rows + " must be whole micro-batches of " + miniBatch + ", world " + worldSize);
    }
    int micro = rows / miniBatch;
    List<Share> shares = new ArrayList<>(worldSize);
    long next = firstSample;
    for (int r = 0; r < worldSize; r++) {
      int m = micro / worldSize + (r < micro % worldSize ? 1 : 0);
      shares.add(new Share(r, next, m, m * miniBatch));
      next += (long) m * miniBatch;
    }
    return shares;
  }
}
