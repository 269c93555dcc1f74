package org.omnibiote.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.collective.CollectiveGroup;
import org.omnibiote.collective.GradientReducer;
import org.omnibiote.data.DataSettings;
import org.omnibiote.data.TrainType;
import org.omnibiote.data.TrainingData;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.train.Devices;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.train.TrainStep;

/**
 * One worker of {@code bench distributed}, in its own JVM: {@code DistributedBenchRank <rank>
 * <size> <storePort> <settingsJson> <resultFile>}.
 *
 * <p>Each round times one optimiser step in every mode (the order rotates per round, so that slow
 * phases of the shared machine fall on every mode alike): {@link Mode#LOCAL} (no communication),
 * {@link Mode#AFTER} (the gradients all-reduced bucket by bucket after the whole backward, then
 * divided by the world size) and {@link Mode#OVERLAP} (the c10d Reducer, synced on the last
 * micro-batch), then {@link Mode#RAW}: a Gloo all-reduce of tensors of exactly the buckets' sizes.
 * Every timed part starts after a barrier, so the ranks start it together. A world of 1 runs {@link
 * Mode#LOCAL} only and opens no group.
 *
 * <p>The step is the data-parallel one: each loss is the micro-batch's masked cross-entropy sum
 * times {@code lossScale / (masked tokens of the whole step over every worker)}, so that the
 * Reducer's mean over ranks is the gradient of the global masked-token mean; forward and backward
 * over k micro-batches, clip to 1.0, MuAdamW.
 */
public final class DistributedBenchRank {
  /** The modes of a round, in the order of the result arrays. */
  enum Mode {
    LOCAL,
    AFTER,
    OVERLAP,
    RAW
  }

  /**
   * What a rank measured (seconds per timed round); {@code *LastBackward}: from the start of the
   * last micro-batch's backward to the end of the all-reduce (of backward in LOCAL); {@code
   * *LastBackwardStart}: when that began, in seconds from the step's start.
   */
  public record Result(
      int rank,
      int size,
      long parameters,
      long gradientBytes,
      List<Long> bucketBytes,
      double[] local,
      double[] after,
      double[] afterCommunication,
      double[] afterGloo,
      double[] afterWait,
      double[] overlap,
      double[] raw,
      double[] localLastBackward,
      double[] afterLastBackward,
      double[] overlapLastBackward,
      double[] localLastBackwardStart,
      double[] afterLastBackwardStart,
      double[] overlapLastBackwardStart) {}

  private final DistributedSettings settings;
  private final int rank;
  private final int size;
  private final OmniBioTA model;
  private final MuAdamW optimizer;
  // get() of a TensorVector points into the vector: it must live as long as the array.
  // The vector owns the native handles of params: keep it reachable as long as they are used
  // (without it, a GC freed them and grad() read freed memory).
  private final TensorVector paramVector;
  private final Tensor[] params;
  private final TrainingData data;
  private CollectiveGroup group;
  private GradientReducer reducer;
  // Mode AFTER's flat bucket buffers, allocated once (a fresh 100 MB tensor per step costs
  // page faults the Reducer's persistent buckets do not pay).
  private final List<Tensor> afterBuffers = new ArrayList<>();

  private DistributedBenchRank(
      DistributedSettings settings, int rank, int size, TrainingData data) {
    this.settings = settings;
    this.rank = rank;
    this.size = size;
    this.data = data;
    torch.manual_seed(settings.seed()); // the same weights on every rank
    this.model = new OmniBioTA(settings.model());
    model.train(true);
    this.optimizer = new MuAdamW(model, MuAdamW.Settings.ORIGINAL_DEFAULTS, false);
    this.paramVector = model.parameters();
    this.params = paramVector.get();
  }

  public static void main(String[] args) throws Exception {
    int code = 0;
    try {
      run(args);
    } catch (UserError e) {
      System.err.println("error: " + e.getMessage());
      code = 2;
    } catch (Throwable e) {
      e.printStackTrace();
      code = 1;
    }
    System.out.flush();
    System.err.flush();
    // libtorch/Gloo threads must not keep the JVM alive, nor their destructors crash at exit.
    Runtime.getRuntime().halt(code);
  }

  private static void run(String[] args) throws Exception {
    int rank = Integer.parseInt(args[0]);
    int size = Integer.parseInt(args[1]);
    int port = Integer.parseInt(args[2]);
    DistributedSettings settings = DistributedSettings.fromJson(args[3]);
    Path resultFile = Path.of(args[4]);
    Devices.useFastCpuAttention();
    // As many libtorch threads as OpenBLAS gets from the environment (read at start-up).
    String threads = System.getenv("OMP_NUM_THREADS");
    torch.set_num_threads(threads == null ? 1 : Integer.parseInt(threads));
    TrainingData data =
        settings.baseDir() == null
            ? null
            : TrainingData.open(
                Path.of(settings.baseDir()),
                new DataSettings(
                    TrainType.parse(settings.trainType()),
                    false,
                    settings.model().ctxLen(),
                    null,
                    settings.seed()));
    DistributedBenchRank worker = new DistributedBenchRank(settings, rank, size, data);
    Result result = worker.measure(port);
    byte[] json = new ObjectMapper().writeValueAsBytes(result);
    AtomicFiles.write(resultFile, json);
  }

  @SuppressWarnings("EnumOrdinal") // the ordinal indexes the dense per-mode tables on purpose
  private Result measure(int port) {
    List<Long> bucketBytes = new ArrayList<>();
    long gradientBytes = 0;
    long parameters = 0;
    for (Tensor p : params) {
      gradientBytes += p.numel() * p.element_size();
      parameters += p.numel();
    }
    List<Tensor> rawTensors = new ArrayList<>();
    if (size > 1) {
      group =
          CollectiveGroup.open(
              CollectiveGroup.Rendezvous.local(
                  "127.0.0.1", port, rank, Duration.ofSeconds(settings.timeoutSeconds())),
              0,
              rank,
              size);
      reducer = new GradientReducer(model, group, settings.bucketBytes());
      for (List<Integer> bucket : reducer.bucketAssignment()) {
        long bytes = 0;
        for (int i : bucket) {
          bytes += params[i].numel() * params[i].element_size();
        }
        bucketBytes.add(bytes);
        rawTensors.add(torch.ones(bytes / 4)); // float32, like the gradients
        afterBuffers.add(torch.zeros(bytes / 4));
      }
    } else {
      bucketBytes.add(gradientBytes);
    }
    int steps = settings.steps();
    double[][] seconds = new double[Mode.values().length][steps];
    double[][] lastBackward = new double[Mode.values().length][steps];
    double[][] lastBackwardStart = new double[Mode.values().length][steps];
    double[] afterCommunication = new double[steps];
    double[] afterGloo = new double[steps];
    double[] afterWait = new double[steps];
    List<Mode> modes =
        size > 1 ? List.of(Mode.LOCAL, Mode.AFTER, Mode.OVERLAP) : List.of(Mode.LOCAL);
    long started = System.nanoTime();
    for (int round = 0; round < settings.rounds(); round++) {
      int timed = round - settings.warmup();
      StringBuilder line = new StringBuilder();
      for (int m = 0; m < modes.size(); m++) {
        Mode mode = modes.get((m + round) % modes.size());
        double[] comm = new double[5];
        double s = step(mode, round, comm);
        if (timed >= 0) {
          seconds[mode.ordinal()][timed] = s;
          lastBackward[mode.ordinal()][timed] = comm[3];
          lastBackwardStart[mode.ordinal()][timed] = comm[4];
          if (mode == Mode.AFTER) {
            afterCommunication[timed] = comm[0];
            afterGloo[timed] = comm[1];
            afterWait[timed] = comm[2];
          }
        }
        line.append(
            String.format(
                Locale.ROOT, " %s %.0f ms", mode.name().toLowerCase(Locale.ROOT), s * 1e3));
        if (mode == Mode.AFTER) {
          line.append(
              String.format(
                  Locale.ROOT,
                  " (all-reduce %.0f ms, of which waiting for the peer %.0f ms)",
                  comm[0] * 1e3,
                  comm[2] * 1e3));
        }
        line.append(';');
      }
      if (size > 1) {
        double s = raw(rawTensors);
        if (timed >= 0) {
          seconds[Mode.RAW.ordinal()][timed] = s;
        }
        line.append(String.format(Locale.ROOT, " raw all-reduce %.0f ms;", s * 1e3));
      }
      if (rank == 0) {
        double elapsed = (System.nanoTime() - started) / 1e9;
        long eta = Math.round(elapsed / (round + 1) * (settings.rounds() - round - 1));
        System.err.printf(
            Locale.ROOT,
            "bench distributed: %d worker%s, round %d/%d%s%s ETA %d:%02d%n",
            size,
            size == 1 ? "" : "s",
            round + 1,
            settings.rounds(),
            round < settings.warmup() ? " (warm-up)" : "",
            line,
            eta / 60,
            eta % 60);
      }
    }
    if (size > 1) {
      reducer.close();
      group.close();
    }
    return new Result(
        rank,
        size,
        parameters,
        gradientBytes,
        bucketBytes,
        seconds[Mode.LOCAL.ordinal()],
        seconds[Mode.AFTER.ordinal()],
        afterCommunication,
        afterGloo,
        afterWait,
        seconds[Mode.OVERLAP.ordinal()],
        seconds[Mode.RAW.ordinal()],
        lastBackward[Mode.LOCAL.ordinal()],
        lastBackward[Mode.AFTER.ordinal()],
        lastBackward[Mode.OVERLAP.ordinal()],
        lastBackwardStart[Mode.LOCAL.ordinal()],
        lastBackwardStart[Mode.AFTER.ordinal()],
        lastBackwardStart[Mode.OVERLAP.ordinal()]);
  }

  /**
   * One optimiser step in {@code mode}; wall seconds from zero-grad to the end of the AdamW step.
   * For AFTER, {@code comm} gets the seconds of the whole all-reduce phase (wait for the peer,
   * flatten, Gloo, divide, copy back), of the Gloo calls alone and of the wait; in every mode
   * {@code comm[3]} gets the seconds from the start of the last micro-batch's backward to the end
   * of the gradient all-reduce (of backward without one): the only part of the step in which the
   * modes differ, and {@code comm[4]} when that part started (seconds into the step, which all
   * ranks begin together).
   */
  private double step(Mode mode, int round, double[] comm) {
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> mine = new ArrayList<>();
      @SuppressWarnings(
          "EnumOrdinal") // the ordinal (0-2 when stepping) numbers the round's batches
      long stepMasked = stepBatches(round * 3L + mode.ordinal(), mine);
      if (size > 1) {
        group.barrier();
      }
      long start = System.nanoTime();
      // The production step; the modes differ only in how the gradients meet (the Sync).
      TrainStep.run(
          model,
          optimizer,
          mine,
          mine.size(),
          1.0,
          TrainStep.Options.DEFAULT,
          new TimedSync(mode, stepMasked, comm, start));
      return (System.nanoTime() - start) / 1e9;
    }
  }

  /**
   * The step's sums in {@code mode}, timed: none (LOCAL), the Reducer during the last backward
   * (OVERLAP), or the buckets all-reduced after it (AFTER). The step's masked count is known to
   * every rank here (each builds the whole step's batches), so no collective is spent on it.
   */
  private final class TimedSync implements TrainStep.Sync {
    private final Mode mode;
    private final long stepMasked;
    private final double[] comm;
    private final long start;
    private long lastStart;

    TimedSync(Mode mode, long stepMasked, double[] comm, long start) {
      this.mode = mode;
      this.stepMasked = stepMasked;
      this.comm = comm;
      this.start = start;
      this.lastStart = start;
    }

    @Override
    public long sumOverRanks(long local) {
      return stepMasked;
    }

    @Override
    public double lossScale() {
      return size > 1 ? reducer.lossScale() : 1.0;
    }

    @Override
    public void beforeLastBackward(Tensor loss) {
      if (mode == Mode.OVERLAP) {
        reducer.syncNext(loss); // no-sync on every micro-batch but the last (DDP's no_sync)
      }
      lastStart = System.nanoTime();
    }

    @Override
    public void afterBackward() {
      if (mode == Mode.AFTER) {
        long c0 = System.nanoTime();
        allReduceAfterBackward(comm);
        comm[0] = (System.nanoTime() - c0) / 1e9;
      }
      comm[3] = (System.nanoTime() - lastStart) / 1e9;
      comm[4] = (lastStart - start) / 1e9;
    }
  }

  /**
   * DDP without overlap: each of the Reducer's buckets copied into its flat buffer (allocated once,
   * as the Reducer's are), summed over the ranks by Gloo, divided by the world size (the Reducer's
   * mean) and copied back into the gradients. {@code comm} gets the seconds of the Gloo calls ([1])
   * and of the wait for the slower rank's backward before them ([2]).
   */
  private void allReduceAfterBackward(double[] comm) {
    long w0 = System.nanoTime();
    group.barrier(); // what the first all-reduce would wait anyway: measured apart
    comm[2] = (System.nanoTime() - w0) / 1e9;
    Scalar worldSize = new Scalar((double) size);
    List<List<Integer>> buckets = reducer.bucketAssignment();
    for (int b = 0; b < buckets.size(); b++) {
      Tensor buffer = afterBuffers.get(b);
      long offset = 0;
      for (int i : buckets.get(b)) {
        Tensor grad = params[i].grad();
        buffer.narrow(0, offset, grad.numel()).copy_(grad.reshape(-1));
        offset += grad.numel();
      }
      long g0 = System.nanoTime();
      group.allReduceSum(buffer);
      comm[1] += (System.nanoTime() - g0) / 1e9;
      buffer.div_(worldSize);
      offset = 0;
      for (int i : buckets.get(b)) {
        Tensor grad = params[i].grad();
        grad.copy_(buffer.narrow(0, offset, grad.numel()).view(grad.sizes()));
        offset += grad.numel();
      }
    }
  }

  /** Seconds of one all-reduce of every raw tensor in turn, started together on all ranks. */
  private double raw(List<Tensor> tensors) {
    group.barrier();
    long start = System.nanoTime();
    for (Tensor t : tensors) {
      group.allReduceSum(t);
    }
    return (System.nanoTime() - start) / 1e9;
  }

  /**
   * The micro-batches of step {@code step} over every worker (the same on every rank, a function of
   * the seed and the step only); adds this rank's share to {@code mine} and returns the whole
   * step's masked-token count.
   */
  private long stepBatches(long step, List<MaskedLm.Batch> mine) {
    int k = settings.microBatches();
    int m = settings.miniBatch();
    int rows = size * k * m;
    MaskedLm.Batch all;
    if (data != null) {
      all = MaskedLm.batch(data, step * rows, rows);
    } else {
      torch.manual_seed(settings.seed() * 1_000_003L + step);
      all =
          MaskedLm.mask(
              randomRows(rows, new Random(settings.seed() * 31 + step)),
              TrainBenchmark.MASK_PROBABILITY);
    }
    long masked = all.targets().ne(new Scalar(MaskedLm.IGNORE)).sum().item_long();
    for (int i = 0; i < k; i++) {
      long first = (long) (rank * k + i) * m;
      mine.add(
          new MaskedLm.Batch(all.inputs().narrow(0, first, m), all.targets().narrow(0, first, m)));
    }
    return masked;
  }

  /**
   * Rows of random tokens (ids 20..V-1) packed as documents of 20..399 tokens each ending in EOS,
   * as the shards' packed rows are (and as {@code bench train} makes them).
   */
  private Tensor randomRows(int rows, Random random) {
    int t = settings.model().ctxLen();
    int vocab = settings.model().vocabSize();
    long[] ids = new long[rows * t];
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < t; i++) {
        ids[r * t + i] = 20L + random.nextInt(vocab - 20);
      }
      for (int pos = 20 + random.nextInt(380); pos < t; pos += 20 + random.nextInt(380)) {
        ids[r * t + pos] = OmniBioTA.EOS;
      }
    }
    return Tensor.create(ids, rows, t);
  }
}
