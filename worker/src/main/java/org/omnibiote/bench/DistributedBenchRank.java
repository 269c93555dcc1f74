package org.omnibiote.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.collective.CollectiveGroup;
import org.omnibiote.collective.GradientReducer;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.OmniBioTAConfig;
import org.omnibiote.train.Accumulation;
import org.omnibiote.train.Devices;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.train.TrainStep;

/**
 * One rank of {@code bench distributed}, in its own JVM: times data-parallel training steps of
 * one model in the modes the benchmark compares, and a raw Gloo all-reduce of the gradient
 * bytes, printing {@code RESULT key value} lines for the command that started it.
 *
 * <p>Modes: {@code local} (no communication), {@code after} (all-reduce of the flattened
 * gradients after backward, no overlap), {@code overlap} (the c10d Reducer during the last
 * micro-batch's backward, as training runs), {@code raw} (Gloo all-reduce of a flat tensor of
 * the gradient bytes).
 */
public final class DistributedBenchRank {
  private DistributedBenchRank() {}

  /**
   * Args: rank size storePort nLayer nEmbd nHead ctxLen vocab miniBatch microBatches steps
   * warmup modes(comma-separated).
   */
  public static void main(String[] a) {
    int rank = Integer.parseInt(a[0]);
    int size = Integer.parseInt(a[1]);
    int port = Integer.parseInt(a[2]);
    OmniBioTAConfig config = new OmniBioTAConfig(Integer.parseInt(a[7]), Integer.parseInt(a[4]),
        Integer.parseInt(a[3]), Integer.parseInt(a[5]), Integer.parseInt(a[6]), 0.0);
    int mini = Integer.parseInt(a[8]);
    int micro = Integer.parseInt(a[9]);
    int steps = Integer.parseInt(a[10]);
    int warmup = Integer.parseInt(a[11]);
    List<String> modes = Arrays.asList(a[12].split(","));
    Devices.useFastCpuAttention();
    torch.manual_seed(1 + rank);
    OmniBioTA model = new OmniBioTA(config);
    MuAdamW optimizer = new MuAdamW(model, MuAdamW.Settings.ORIGINAL_DEFAULTS, false);
    List<MaskedLm.Batch> batches = new ArrayList<>();
    long masked = 0;
    for (int i = 0; i < micro; i++) {
      Tensor ids = torch.randint(4, config.vocabSize(), new long[] {mini, config.ctxLen()});
      MaskedLm.Batch b = MaskedLm.mask(ids, 0.15);
      batches.add(b);
      masked += Accumulation.maskedCount(b);
    }
    long gradBytes = 0;
    for (Tensor p : model.parameters().get()) {
      gradBytes += p.numel() * 4;
    }
    result(rank, "grad_bytes", gradBytes);
    result(rank, "tokens_per_step", (double) micro * mini * config.ctxLen());
    CollectiveGroup group = size == 1 ? null : CollectiveGroup.open(
        CollectiveGroup.Rendezvous.local("127.0.0.1", port, rank, Duration.ofSeconds(120)), 0, rank, size);
    Tensor raw = modes.contains("raw") ? torch.ones(gradBytes / 4) : null;
    for (String mode : modes) {
      double[] ms = new double[steps];
      GradientReducer reducer = mode.equals("overlap") ? new GradientReducer(model, group) : null;
      for (int s = -warmup; s < steps; s++) {
        if (group != null) {
          group.barrier();
        }
        long start = System.nanoTime();
        try (PointerScope scope = new PointerScope()) {
          switch (mode) {
            case "raw" -> group.allReduceSum(raw);
            case "local", "after", "overlap" -> step(model, optimizer, batches, masked, group, reducer, mode);
            default -> throw new IllegalArgumentException("unknown mode " + mode);
          }
        }
        if (s >= 0) {
          ms[s] = (System.nanoTime() - start) / 1e6;
        }
      }
      if (reducer != null) {
        reducer.close();
      }
      Arrays.sort(ms);
      result(rank, mode + "_ms", ms[ms.length / 2]);
    }
    if (group != null) {
      group.close();
    }
  }

  private static void step(OmniBioTA model, MuAdamW optimizer, List<MaskedLm.Batch> batches,
      long masked, CollectiveGroup group, GradientReducer reducer, String mode) {
    optimizer.zeroGrad();
    double scale = (reducer == null ? 1.0 : reducer.lossScale()) / masked;
    for (int i = 0; i < batches.size(); i++) {
      try (PointerScope scope = new PointerScope()) {
        Tensor loss = Accumulation.maskedLossSum(model, batches.get(i), Accumulation.Readout.MASKED, false)
            .mul(new Scalar(scale));
        if (reducer != null && i == batches.size() - 1) {
          reducer.syncNext(loss);
        }
        loss.backward();
      }
    }
    if (mode.equals("after")) {
      List<Tensor> grads = new ArrayList<>();
      for (Tensor p : model.parameters().get()) {
        grads.add(p.grad().view(-1));
      }
      Tensor flat = torch.cat(new TensorVector(grads.toArray(Tensor[]::new)));
      group.allReduceSum(flat);
      flat.div_(new Scalar(group.size()));
      long at = 0;
      for (Tensor g : grads) {
        g.copy_(flat.narrow(0, at, g.numel()));
        at += g.numel();
      }
    }
    torch.clip_grad_norm_(model.parameters(), TrainStep.CLIP_NORM);
    optimizer.step();
  }

  private static void result(int rank, String key, double value) {
    if (rank == 0) {
      System.out.printf(Locale.ROOT, "RESULT %s %.6f%n", key, value);
      System.out.flush();
    }
  }
}
