package org.omnibiote.collective;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.TrainStep;
import org.omnibiote.weights.SafeTensors;

/**
 * One rank of the collective tests, run in its own JVM by {@link CollectiveProcesses}: {@code
 * RankMain <mode> <rank> <size> <storePort> <outFile>}, mode one of {@code grads} (two
 * micro-batches, no-sync on the first, gradients written to outFile, then the raw Gloo bandwidth
 * printed by rank 0), {@code grads-after-generations} (the same, with a Reducer that first served
 * {@link #SOLO_GENERATIONS} one-rank worlds of this rank alone, as a worker's does when the world
 * shrinks and grows again) or {@code stall} (rank 1 stops taking part after a barrier; rank 0
 * starts an all-reduce and reports how it ended).
 */
public final class RankMain {
  static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(64, 32, 2, 4, 16, 0.0);
  static final int MICRO_PER_RANK = 2;
  static final int STEPS = 2;
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** Freeing a group a Reducer held corrupted the heap within about ten generations. */
  static final int SOLO_GENERATIONS = 12;

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    int rank = Integer.parseInt(args[1]);
    int size = Integer.parseInt(args[2]);
    int port = Integer.parseInt(args[3]);
    Path out = Path.of(args[4]);
    CollectiveGroup.Rendezvous at =
        mode.equals("generations")
            // The store is hosted outside the world (as the coordinator will): no rank hosts it.
            ? new CollectiveGroup.Rendezvous("127.0.0.1", port, false, "127.0.0.1", TIMEOUT)
            : CollectiveGroup.Rendezvous.local("127.0.0.1", port, rank, TIMEOUT);
    switch (mode) {
      case "grads" -> grads(at, rank, size, out);
      case "grads-after-generations" -> gradsAfterGenerations(at, rank, size, out);
      case "stall" -> stall(at, rank, size);
      case "generations" -> generations(at, rank, size);
      default -> throw new IllegalArgumentException("unknown mode " + mode);
    }
    System.out.flush();
    // libtorch/Gloo threads must not keep the JVM alive, nor their destructors crash at exit.
    Runtime.getRuntime().halt(0);
  }

  static Path firstMicro(Path out) {
    return out.resolveSibling("first-micro-" + out.getFileName());
  }

  /** The same model on every rank and in the test: seeded. */
  static OmniBioTA model() {
    torch.manual_seed(21);
    return new OmniBioTA(CONFIG);
  }

  /** All micro-batches of the step (every rank makes them all, trains its own share). */
  static List<MaskedLm.Batch> microBatches(int count) {
    torch.manual_seed(22);
    Tensor ids =
        torch.randint(
            20, 60, new long[] {2L * count, 16}, new TensorOptions(torch.ScalarType.Long));
    ids.select(1, 7).fill_(new Scalar(OmniBioTA.EOS));
    ids.select(1, 15).fill_(new Scalar(OmniBioTA.EOS));
    MaskedLm.Batch all = MaskedLm.mask(ids, 0.3);
    List<MaskedLm.Batch> out = new java.util.ArrayList<>();
    for (int i = 0; i < count; i++) {
      out.add(
          new MaskedLm.Batch(
              all.inputs().narrow(0, 2L * i, 2), all.targets().narrow(0, 2L * i, 2)));
    }
    return out;
  }

  /** The masked tokens of the whole step over all ranks: the loss divisor (LossNorm.GLOBAL). */
  static long globalMasked(List<MaskedLm.Batch> all) {
    long m = 0;
    for (MaskedLm.Batch b : all) {
      m += b.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
    }
    return m;
  }

  static Map<String, Tensor> grads(OmniBioTA model) {
    Map<String, Tensor> g = new LinkedHashMap<>();
    model.stateDict().forEach((name, p) -> g.put(name, p.grad().clone()));
    return g;
  }

  private static void grads(CollectiveGroup.Rendezvous at, int rank, int size, Path out)
      throws Exception {
    OmniBioTA model = model();
    try (CollectiveGroup group = CollectiveGroup.open(at, 0, rank, size);
        GradientReducer reducer = new GradientReducer(model, group, 16L << 10)) {
      System.out.println("rank " + rank + " buckets " + reducer.bucketAssignment().size());
      trainSteps(model, reducer, rank, size, out);
      broadcastFromRoot(group);
      bench(group);
    }
  }

  /**
   * One Reducer for the model's life: first {@link #SOLO_GENERATIONS} worlds of this rank alone
   * (each on its own store, garbage collected between), then the shared world of {@code size},
   * where the gradients must be exactly those of a Reducer made for it. Groups stay allocated, as
   * DataParallelReplica keeps them (see GradientReducer).
   */
  private static void gradsAfterGenerations(
      CollectiveGroup.Rendezvous at, int rank, int size, Path out) throws Exception {
    OmniBioTA model = model();
    @SuppressWarnings(
        "ModifiedButNotUsed") // never read: holds every group, as DataParallelReplica does
    List<CollectiveGroup> kept = new java.util.ArrayList<>();
    GradientReducer reducer = null;
    for (int gen = 1; gen <= SOLO_GENERATIONS; gen++) {
      CollectiveGroup solo =
          CollectiveGroup.open(
              CollectiveGroup.Rendezvous.local(
                  "127.0.0.1", CollectiveProcesses.freePort(), 0, TIMEOUT),
              gen,
              0,
              1);
      kept.add(solo);
      if (reducer == null) {
        reducer = new GradientReducer(model, solo, 16L << 10);
      } else {
        reducer.moveTo(solo);
      }
      try (PointerScope scope = new PointerScope()) {
        Tensor loss =
            TrainStep.maskedLossSum(model, microBatches(1).get(0), TrainStep.Readout.MASKED, true);
        reducer.syncNext(loss);
        loss.backward();
      }
      System.gc();
    }
    System.out.println("rank " + rank + " served " + SOLO_GENERATIONS + " one-rank worlds");
    CollectiveGroup group = CollectiveGroup.open(at, SOLO_GENERATIONS + 1, rank, size);
    kept.add(group);
    reducer.moveTo(group);
    trainSteps(model, reducer, rank, size, out);
    java.lang.ref.Reference.reachabilityFence(kept);
  }

  /**
   * {@link #STEPS} steps of {@link #MICRO_PER_RANK} micro-batches through the production step
   * ({@link TrainStep#accumulate} with a {@link WorldSync}: the step's masked count summed over the
   * ranks, the Reducer armed on the last micro-batch); writes the gradients.
   */
  private static void trainSteps(
      OmniBioTA model, GradientReducer reducer, int rank, int size, Path out) throws Exception {
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> all = microBatches(size * MICRO_PER_RANK);
      List<MaskedLm.Batch> mine = all.subList(rank * MICRO_PER_RANK, (rank + 1) * MICRO_PER_RANK);
      WorldSync world = WorldSync.overlapped(reducer.group(), reducer);
      // Two steps in a row, gradients reset between as MuAdamW.zeroGrad does: the second
      // step shows the Reducer re-arms cleanly; its gradients are the ones checked.
      for (int step = 0; step < STEPS; step++) {
        for (Tensor p : model.parameters().get()) {
          p.mutable_grad().reset();
        }
        boolean last = step == STEPS - 1;
        TrainStep.Sync sync =
            new TrainStep.Sync() {
              @Override
              public long sumOverRanks(long local) {
                return world.sumOverRanks(local);
              }

              @Override
              public double lossScale() {
                return world.lossScale();
              }

              @Override
              public void beforeLastBackward(Tensor loss) {
                if (last) {
                  // Proof of no-sync: after the earlier micro-batches the gradients are local.
                  try {
                    SafeTensors.write(
                        firstMicro(out), grads(model), Map.of("rank", Integer.toString(rank)));
                  } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                  }
                }
                world.beforeLastBackward(loss);
              }

              @Override
              public void afterBackward() {
                world.afterBackward();
              }
            };
        TrainStep.accumulate(model, mine, size * MICRO_PER_RANK, TrainStep.Options.DEFAULT, sync);
      }
      SafeTensors.write(out, grads(model), Map.of("rank", Integer.toString(rank)));
    }
  }

  /** Rank 1's values reach every rank; a mismatch fails this rank's JVM (exit code 1). */
  private static void broadcastFromRoot(CollectiveGroup group) {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = torch.full(new long[] {1000}, new Scalar(group.rank() == 1 ? 7.0 : -1.0));
      group.broadcast(t, 1);
      if (!torch.equal(t, torch.full(new long[] {1000}, new Scalar(7.0)))) {
        throw new IllegalStateException(
            "broadcast from rank 1 did not arrive on rank " + group.rank());
      }
      System.out.println("rank " + group.rank() + " broadcast ok");
    }
  }

  /** Raw Gloo all-reduce of 16 MB of float32, printed by rank 0 (noisy: shared 2 cores). */
  private static void bench(CollectiveGroup group) {
    try (PointerScope scope = new PointerScope()) {
      Tensor t = torch.ones(4L << 20);
      for (int i = 0; i < 3; i++) {
        group.allReduceSum(t);
      }
      int iters = 10;
      group.barrier();
      long start = System.nanoTime();
      for (int i = 0; i < iters; i++) {
        group.allReduceSum(t);
      }
      double seconds = (System.nanoTime() - start) / 1e9 / iters;
      double bytes = t.numel() * 4.0;
      if (group.rank() == 0) {
        System.out.printf(
            "BENCH raw Gloo all-reduce, %d ranks, %.0f MB float32: %.1f ms, algbw %.2f GB/s, busbw %.2f GB/s%n",
            group.size(),
            bytes / (1 << 20),
            seconds * 1e3,
            bytes / seconds / 1e9,
            2.0 * (group.size() - 1) / group.size() * bytes / seconds / 1e9);
      }
    }
  }

  /** Two world generations in turn on one external store: each gets its own key prefix. */
  private static void generations(CollectiveGroup.Rendezvous at, int rank, int size) {
    for (long gen = 1; gen <= 2; gen++) {
      try (CollectiveGroup group = CollectiveGroup.open(at, gen, rank, size);
          PointerScope scope = new PointerScope()) {
        Tensor t = torch.full(new long[] {10}, new Scalar((double) (rank + 1) * gen));
        group.allReduceSum(t);
        double want = gen * size * (size + 1) / 2.0;
        if (t.min().item_double() != want || t.max().item_double() != want) {
          throw new IllegalStateException(
              "generation " + gen + " sum " + t.max().item_double() + " != " + want);
        }
        System.out.println("generation " + gen + " ok");
      }
    }
  }

  private static void stall(CollectiveGroup.Rendezvous at, int rank, int size) throws Exception {
    CollectiveGroup group = CollectiveGroup.open(at, 0, rank, size);
    group.barrier();
    System.out.println("READY " + rank);
    System.out.flush();
    if (rank != 0) {
      Thread.sleep(Long.MAX_VALUE); // killed by the test
    }
    long start = System.nanoTime();
    try (PointerScope scope = new PointerScope()) {
      group.allReduceSum(torch.ones(1024));
      System.out.println("NO-FAILURE");
    } catch (RuntimeException e) {
      System.out.printf(
          "CAUGHT %s after %d ms: %s%n",
          e.getClass().getName(),
          (System.nanoTime() - start) / 1_000_000,
          e.getMessage().lines().findFirst().orElse(""));
    }
  }
}
