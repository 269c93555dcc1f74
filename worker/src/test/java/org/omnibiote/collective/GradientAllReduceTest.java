package org.omnibiote.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.TrainStep;
import org.omnibiote.weights.SafeTensors;

/**
 * Two real JVMs, each with 2 micro-batches (no all-reduce on the first), reduce through the c10d
 * Reducer over Gloo on 127.0.0.1, for two steps in a row: after the second, both hold the gradient
 * one process computes over all 4 micro-batches, and after its first micro-batch each held only its
 * local gradient (nothing was reduced). The ranks also print the raw Gloo all-reduce bandwidth of
 * 16 MB (a measurement, not asserted). The same holds for a Reducer that served a dozen one-rank
 * worlds of each rank first (a worker's, after the world shrank and grew).
 */
class GradientAllReduceTest {
  /** fp32: the sum of two partial sums differs from one sequential sum by rounding only. */
  private static final double RELATIVE_TOLERANCE = 1e-5;

  @ParameterizedTest
  @ValueSource(strings = {"grads", "grads-after-generations"})
  void twoRanksWithNoSyncAccumulationHoldTheSingleProcessGradientSum(String mode, @TempDir Path dir)
      throws Exception {
    int size = 2;
    try (CollectiveProcesses ranks = new CollectiveProcesses(mode, size, dir)) {
      assertTrue(ranks.waitAll(50), "ranks did not finish in 50 s:\n" + ranks.allLogs());
      for (int r = 0; r < size; r++) {
        assertEquals(0, ranks.process(r).exitValue(), "rank " + r + " failed:\n" + ranks.allLogs());
      }
      System.out.print(ranks.allLogs());
    }
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> rank0 = SafeTensors.read(CollectiveProcesses.out(dir, 0)).tensors();
      Map<String, Tensor> rank1 = SafeTensors.read(CollectiveProcesses.out(dir, 1)).tensors();
      Map<String, Tensor> single =
          singleProcess(size * RankMain.MICRO_PER_RANK, List.of(0, 1, 2, 3), 1);
      // No-sync: after its first micro-batch each rank holds only its own local gradient.
      for (int r = 0; r < size; r++) {
        Map<String, Tensor> local =
            SafeTensors.read(RankMain.firstMicro(CollectiveProcesses.out(dir, r))).tensors();
        Map<String, Tensor> expected =
            singleProcess(
                size * RankMain.MICRO_PER_RANK, List.of(r * RankMain.MICRO_PER_RANK), size);
        for (String name : expected.keySet()) {
          double diff = local.get(name).sub(expected.get(name)).abs().max().item_double();
          double scale = expected.get(name).abs().max().item_double();
          assertTrue(
              diff <= RELATIVE_TOLERANCE * scale,
              "rank "
                  + r
                  + " "
                  + name
                  + " after the no-sync micro-batch is not its local gradient: off by "
                  + diff);
        }
      }
      assertEquals(single.keySet(), rank0.keySet());
      StringBuilder bad = new StringBuilder();
      for (String name : single.keySet()) {
        double d = rank0.get(name).sub(single.get(name)).abs().max().item_double();
        double sc = single.get(name).abs().max().item_double();
        if (d > RELATIVE_TOLERANCE * sc) {
          bad.append(name)
              .append(" diff ")
              .append(d)
              .append(" scale ")
              .append(sc)
              .append(" ratio ")
              .append(
                  rank0.get(name).abs().sum().item_double()
                      / single.get(name).abs().sum().item_double())
              .append('\n');
        }
      }
      assertEquals("", bad.toString(), "parameters whose reduced gradient is off");
      for (String name : single.keySet()) {
        assertTrue(torch.equal(rank0.get(name), rank1.get(name)), name + " differs between ranks");
        double diff = rank0.get(name).sub(single.get(name)).abs().max().item_double();
        double scale = single.get(name).abs().max().item_double();
        assertTrue(scale > 0, name + " has no gradient in the reference");
        assertTrue(
            diff <= RELATIVE_TOLERANCE * scale,
            name
                + ": reduced gradient differs from the single-process sum by "
                + diff
                + " (scale "
                + scale
                + ")");
      }
    }
  }

  /**
   * One process, same model and micro-batches, plain accumulation over the micro-batches {@code
   * used}, loss normalised by the whole step's masked tokens and multiplied by {@code lossScale}.
   */
  private static Map<String, Tensor> singleProcess(
      int micro, List<Integer> used, double lossScale) {
    OmniBioTA model = RankMain.model();
    List<MaskedLm.Batch> all = RankMain.microBatches(micro);
    double scale = lossScale / RankMain.globalMasked(all);
    for (int i : used) {
      TrainStep.maskedLossSum(model, all.get(i), TrainStep.Readout.MASKED, true)
          .mul(new Scalar(scale))
          .backward();
    }
    return RankMain.grads(model);
  }
}
