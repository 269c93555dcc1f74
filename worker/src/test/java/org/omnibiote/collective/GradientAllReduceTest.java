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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.SafeTensors;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.train.Accumulation;
import org.omnibiote.train.MaskedLm;

/**
 * Two real JVMs, each with 2 micro-batches (no all-reduce on the first), reduce through the
 * c10d Reducer over Gloo on 127.0.0.1: both end with the gradient one process computes over all
 * 4 micro-batches.
 */
class GradientAllReduceTest {
  /** fp32: the sum of two partial sums differs from one sequential sum by rounding only. */
  private static final double RELATIVE_TOLERANCE = 1e-5;

  @Test
  void twoRanksWithNoSyncAccumulationHoldTheSingleProcessGradientSum(@TempDir Path dir) throws Exception {
    int size = 2;
    try (CollectiveProcesses ranks = new CollectiveProcesses("grads", size, dir)) {
      assertTrue(ranks.waitAll(50), "ranks did not finish in 50 s:\n" + ranks.allLogs());
      for (int r = 0; r < size; r++) {
        assertEquals(0, ranks.process(r).exitValue(), "rank " + r + " failed:\n" + ranks.allLogs());
      }
      System.out.print(ranks.allLogs());
    }
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> rank0 = SafeTensors.read(CollectiveProcesses.out(dir, 0)).tensors();
      Map<String, Tensor> rank1 = SafeTensors.read(CollectiveProcesses.out(dir, 1)).tensors();
      Map<String, Tensor> single = singleProcess(size * RankMain.MICRO_PER_RANK);
      assertEquals(single.keySet(), rank0.keySet());
      StringBuilder bad = new StringBuilder();
      for (String name : single.keySet()) {
        double d = rank0.get(name).sub(single.get(name)).abs().max().item_double();
        double sc = single.get(name).abs().max().item_double();
        if (d > RELATIVE_TOLERANCE * sc) {
          bad.append(name).append(" diff ").append(d).append(" scale ").append(sc)
              .append(" ratio ").append(rank0.get(name).abs().sum().item_double() / single.get(name).abs().sum().item_double()).append('\n');
        }
      }
      assertEquals("", bad.toString(), "parameters whose reduced gradient is off");
      for (String name : single.keySet()) {
        assertTrue(torch.equal(rank0.get(name), rank1.get(name)), name + " differs between ranks");
        double diff = rank0.get(name).sub(single.get(name)).abs().max().item_double();
        double scale = single.get(name).abs().max().item_double();
        assertTrue(scale > 0, name + " has no gradient in the reference");
        assertTrue(diff <= RELATIVE_TOLERANCE * scale,
            name + ": reduced gradient differs from the single-process sum by " + diff + " (scale " + scale + ")");
      }
    }
  }

  /** One process, same model and micro-batches, plain accumulation over all of them. */
  private static Map<String, Tensor> singleProcess(int micro) {
    OmniBioTA model = RankMain.model();
    List<MaskedLm.Batch> all = RankMain.microBatches(micro);
    double divisor = RankMain.globalMasked(all);
    for (MaskedLm.Batch b : all) {
      Accumulation.maskedLossSum(model, b, Accumulation.Readout.MASKED, true)
          .div(new Scalar(divisor)).backward();
    }
    return RankMain.grads(model);
  }
}
