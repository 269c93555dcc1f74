package org.omnibiote.worker;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.ActorSystem;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.collective.CollectiveGroup;
import org.omnibiote.collective.GradientReducer;
import org.omnibiote.collective.WorldSync;
import org.omnibiote.data.Adoption;
import org.omnibiote.data.Prefetcher;
import org.omnibiote.data.TokenIds;
import org.omnibiote.data.TrainingData;
import org.omnibiote.model.AttentionKernels;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.schedule.RunPlan;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.Precision;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.train.Autocast;
import org.omnibiote.train.DeviceMemory;
import org.omnibiote.train.Devices;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MatmulPeak;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.train.TrainStep;
import org.omnibiote.weights.TrainingCheckpoint;

/**
 * A worker's engine: its model replica, optimiser and view of the data (read through a {@link
 * Prefetcher}), and the world generation it belongs to. It runs what the coordinator orders: join a
 * world, run this rank's share of a step ({@link TrainStep}), evaluate, save, restore. It decides
 * nothing about the schedule.
 *
 * <p>In a world of one rank (the embedded run, or a distributed run down to one worker) there is
 * nothing to communicate: no c10d group is opened. In a larger world the gradients are summed by a
 * {@link WorldSync}: the c10d Reducer during the last backward, or one all-reduce after it when
 * activations are recomputed (checkpoint_freq &gt; 0).
 *
 * <p>Not thread-safe: one dedicated thread drives it (libtorch modules are not thread-safe).
 */
public final class DataParallelReplica implements AutoCloseable {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(DataParallelReplica.class);
  private final TrainSettings s;
  private final Device device;
  private TrainingData data;
  private Prefetcher prefetcher;
  private final ActorSystem system;
  private final int prefetchAhead;
  private final OmniBioTAConfig config;
  private final RunPlan plan;
  private final double prefetchTimeoutSeconds;
  private final double peakFlops;
  private final TrainStep.Options options;
  private OmniBioTA model;
  private MuAdamW optimizer;
  private long generation = -1;
  private CollectiveGroup group;
  private TrainStep.Sync sync = TrainStep.ALONE;
  private GradientReducer reducer;
  // Native objects kept for the life of the process, never freed: every group a Reducer has held
  // and every Reducer taken off its model (freeing them corrupted the native heap: see
  // GradientReducer), and the scalar of a world whose collective failed (Gloo may still write
  // into a timed-out operation's buffers). A generation costs a few idle Gloo threads and
  // sockets; a failed one also its Reducer's buckets.
  // Process-wide: a replica that is closed (its node's settings changed) must not free them either.
  private static final List<Object> NEVER_FREED = Collections.synchronizedList(new ArrayList<>());

  // World generations on a CUDA device that this process abandoned after a failure: what the
  // worker's restart bound counts (Worker.Settings.gpuRestartAfterFailedGenerations).
  private static final java.util.concurrent.atomic.AtomicInteger FAILED_GPU_GENERATIONS =
      new java.util.concurrent.atomic.AtomicInteger();

  // Measured matmul rates by device and precision ("cuda:0 BF16"): once per process each.
  private static final Map<String, Double> PEAK = new java.util.concurrent.ConcurrentHashMap<>();

  /** What this rank did in a step; the coordinator sums the parts over ranks. */
  public record StepReport(
      double lossPart,
      long masked,
      long nonPad,
      long stepMasked,
      double seconds,
      double waitSeconds,
      double commSeconds,
      double gradNorm,
      DeviceMemory.Peak gpu) {}

  /**
   * Opens the data of {@code settings}, measures this device's matmul rate (for the mfu) and builds
   * the model from the seed, so that every rank starts from the same weights even before the
   * broadcast.
   */
  public DataParallelReplica(
      TrainSettings settings,
      ActorSystem system,
      int prefetchAhead,
      double prefetchTimeoutSeconds) {
    settings.check();
    this.s = settings;
    this.device = Devices.parse(settings.devices());
    if (settings.disableFlash()) {
      // The original's --disable_flash: SDPA may not pick the flash kernel (math or
      // memory-efficient ones remain); a process-wide libtorch setting.
      torch.globalContext().setSDPUseFlash(false);
    }
    this.data = TrainingData.open(settings.baseDir(), settings.dataSettings());
    this.config = settings.modelConfig(data.vocabSize());
    this.plan = new RunPlan(settings);
    this.options = TrainStep.Options.of(settings.lossNorm(), settings.precision());
    // Before seeding: the measurement draws random matrices from torch's generator. Once per
    // process, device and precision (about a second): the machine does not change between runs.
    this.peakFlops =
        PEAK.computeIfAbsent(
            settings.devices() + " " + settings.precision(),
            k -> MatmulPeak.measure(Autocast.matmulType(settings.precision()), device));
    if (device.is_cuda()) {
      log.info(
          AttentionKernels.describeCuda(
              config.dropout() > 0,
              settings.precision() != Precision.FP32,
              torch.globalContext().userEnabledFlashSDP()));
    }
    this.system = system;
    this.prefetchAhead = prefetchAhead;
    this.prefetcher = new Prefetcher(data, prefetchAhead, system);
    this.prefetchTimeoutSeconds = prefetchTimeoutSeconds;
    initialise();
  }

  /** The data's fingerprint (every rank and the coordinator must read the same shards). */
  public String dataFingerprint() {
    return data.fingerprint();
  }

  /** This device's measured matmul rate in the run's precision, FLOP/s. */
  public double peakFlops() {
    return peakFlops;
  }

  public OmniBioTA model() {
    return model;
  }

  public MuAdamW optimizer() {
    return optimizer;
  }

  /**
   * Fresh weights from the seed, fresh optimiser state (a run that starts, or restarts before any
   * checkpoint).
   */
  public void initialise() {
    leaveWorld();
    dropReducer(); // it reduces the parameters of the model replaced here
    torch.manual_seed(s.seed());
    model = new OmniBioTA(config);
    model.setCheckpointFreq(s.checkpointFreq());
    model.to(device, false);
    optimizer =
        new MuAdamW(
            model,
            new MuAdamW.Settings(plan.peakLr(), s.beta1(), s.beta2(), s.epsilon(), s.weightDecay()),
            s.forceLr());
  }

  /** Loads a checkpoint of this run (weights, optimiser moments and step count, CPU RNG). */
  public void restore(Path manifest) throws IOException {
    try (PointerScope scope = new PointerScope()) {
      TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(manifest);
      if (!loaded.config().equals(config)) {
        throw new UserError(
            "checkpoint "
                + manifest
                + " holds a model "
                + loaded.config().toJson()
                + " but the run is "
                + config.toJson());
      }
      loaded.requireSameRun(invariants());
      loaded.applyTo(model, optimizer);
    }
  }

  /**
   * Joins world generation {@code generation} as {@code rank} of {@code size} (leaving the previous
   * one). In a world of several ranks it rendezvouses under {@code worldKey} and takes rank 0's
   * weights and optimiser state, so that a replica that just joined, or one restored from a
   * checkpoint, starts the generation equal to the others.
   */
  public void joinWorld(
      CollectiveGroup.Rendezvous at, String worldKey, long generation, int rank, int size) {
    leaveWorld();
    this.generation = generation;
    if (size == 1) {
      sync = TrainStep.ALONE;
      return;
    }
    group = CollectiveGroup.open(at, worldKey, generation, rank, size, device.is_cuda());
    // Made outside the broadcast's scope and kept: a broadcast that timed out may still write into
    // it.
    Tensor steps = Tensor.create(new long[] {0}, 1); // cpu-only: broadcast by Gloo (CPU tensors)
    NEVER_FREED.add(steps);
    try {
      broadcastState(steps);
    } catch (RuntimeException e) {
      abandonWorld();
      throw e;
    }
    if (s.checkpointFreq() > 0) {
      sync = WorldSync.afterBackward(group, model);
    } else {
      if (reducer == null) {
        reducer = new GradientReducer(model, group);
      } else {
        reducer.moveTo(group); // one Reducer per model, as fault-tolerant DDP keeps it
      }
      sync = WorldSync.overlapped(group, reducer);
    }
  }

  /** The current generation, or -1 outside any world. */
  public long generation() {
    return generation;
  }

  /**
   * Leaves the current world, if any, after a healthy last step. The Reducer stays, to serve the
   * next world; the group stays allocated (see GradientReducer), but its NCCL communicators, if
   * any, are aborted: that frees their GPU buffers, and no communicator of a past world is left to
   * hold GPU memory.
   */
  public void leaveWorld() {
    if (group != null) {
      group.abortNccl();
      NEVER_FREED.add(group);
      group = null;
    }
    sync = TrainStep.ALONE;
    generation = -1;
  }

  /**
   * Leaves a world whose collective failed: the Reducer's hooks come off the parameters and the
   * next world gets a fresh one (this one may have stopped half-way through a reduction), but the
   * group, the Reducer (its buckets) and the world's buffers stay allocated for the life of the
   * process, since Gloo may still write into a timed-out operation's buffers.
   */
  public void abandonWorld() {
    boolean gpu = group != null && group.hasNccl();
    if (group != null) {
      group.abortNccl(); // first: no NCCL kernel writes into the world's buffers after this
    }
    if (sync instanceof WorldSync w) {
      NEVER_FREED.add(w);
    }
    dropReducer();
    leaveWorld();
    if (gpu) {
      FAILED_GPU_GENERATIONS.incrementAndGet();
      DeviceMemory.releaseCached(device); // what the world freed, back to the driver and NCCL
    }
  }

  /**
   * World generations on a CUDA device this process abandoned after a failure. Each may have left
   * GPU memory that could not be freed safely (bounded by the worker's restart after K of them).
   */
  public static int failedGpuGenerations() {
    return FAILED_GPU_GENERATIONS.get();
  }

  /**
   * Takes the Reducer's hooks off the model and keeps it allocated (see GradientReducer). On CUDA
   * its bucket buffers go back to libtorch's allocator: every group it held has had its NCCL
   * communicators aborted by then (leaveWorld, or abandonWorld before this), so no kernel writes
   * into them; on the CPU they stay (Gloo threads may).
   */
  private void dropReducer() {
    if (reducer != null) {
      reducer.close(); // only removes the autograd hooks
      if (device.is_cuda()) {
        try {
          reducer.releaseBuckets();
        } catch (RuntimeException e) {
          log.warn("the dropped Reducer keeps its buckets: {}", e.getMessage());
        }
      }
      NEVER_FREED.add(reducer);
      reducer = null;
    }
  }

  private void broadcastState(Tensor steps) {
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      List<Tensor> all = new ArrayList<>(model.stateDict().values());
      all.addAll(optimizer.state().values());
      for (Tensor t : all) {
        if (t.is_contiguous()) {
          group.broadcast(t, 0);
        } else {
          Tensor c = t.contiguous();
          group.broadcast(c, 0);
          t.copy_(c);
        }
      }
      steps.fill_(new Scalar(optimizer.steps()));
      group.broadcast(steps, 0);
      optimizer.setSteps(steps.item_long());
    }
  }

  /**
   * This rank's share of a global step of {@code stepMicroBatches} micro-batches: {@code
   * microBatches} of them from global sample {@code firstSample} (possibly none: the rank still
   * takes part in the sums, with zero gradients), then clip and AdamW at peak * {@code lrFactor}
   * ({@link TrainStep}).
   */
  public StepReport step(
      long firstSample,
      int microBatches,
      int stepMicroBatches,
      double lrFactor,
      String dataGenerations)
      throws InterruptedException, TimeoutException {
    if (generation < 0) {
      throw new IllegalStateException("step outside a world");
    }
    long start = System.nanoTime();
    adoptData(dataGenerations);
    int mini = s.miniBatchSize();
    prefetcher.request(firstSample, microBatches, mini);
    List<TrainingData.MaskedRows> rows = new ArrayList<>(microBatches);
    long nonPad = 0;
    long waitStart = System.nanoTime();
    for (int i = 0; i < microBatches; i++) {
      TrainingData.MaskedRows r = prefetcher.take(prefetchTimeoutSeconds);
      for (long id : r.ids()) {
        nonPad += id != TokenIds.PAD ? 1 : 0;
      }
      rows.add(r);
    }
    double wait = (System.nanoTime() - waitStart) / 1e9;
    DeviceMemory.resetPeak(device);
    try (PointerScope scope = new PointerScope()) {
      List<MaskedLm.Batch> batches = new ArrayList<>(microBatches);
      for (TrainingData.MaskedRows r : rows) {
        batches.add(onDevice(MaskedLm.tensors(r)));
      }
      TrainStep.Result r =
          TrainStep.run(model, optimizer, batches, stepMicroBatches, lrFactor, options, sync);
      return new StepReport(
          r.loss(),
          r.masked(),
          nonPad,
          r.stepMasked(),
          (System.nanoTime() - start) / 1e9,
          wait,
          sync instanceof WorldSync w ? w.takeCommSeconds() : 0,
          r.gradNorm(),
          DeviceMemory.peak(device));
    }
  }

  /**
   * Brings the data to the run's list of adopted generations before a step reads it (between steps:
   * no prefetch is in flight). The list only grows, so the data normally adopts the new ones; a
   * list that does not extend this one (a coordinator that started over from the ledger) reopens
   * the data with it.
   */
  private void adoptData(String dataGenerations) {
    List<Adoption> wanted = Adoption.decode(dataGenerations);
    List<Adoption> held = data.adoptions();
    if (wanted.equals(held)) {
      return;
    }
    if (wanted.size() > held.size() && wanted.subList(0, held.size()).equals(held)) {
      for (Adoption a : wanted.subList(held.size(), wanted.size())) {
        data.adopt(a);
      }
      return;
    }
    log.info("reopening the data with the run's adopted generations {}", dataGenerations);
    TrainingData fresh = TrainingData.open(s.baseDir(), s.dataSettings(), wanted);
    prefetcher.close();
    data.close();
    data = fresh;
    prefetcher = new Prefetcher(data, prefetchAhead, system);
  }

  /** Masked-LM loss on the fixed val batch (mini_batch_size rows) of each dataset trained on. */
  public Map<String, Double> evaluate() {
    Map<String, Double> losses = new LinkedHashMap<>();
    model.eval();
    try (NoGradGuard noGrad = new NoGradGuard()) {
      for (String set : data.valSets()) {
        try (PointerScope scope = new PointerScope();
            Autocast autocast = Autocast.open(s.precision(), device.type())) {
          MaskedLm.Batch b = onDevice(MaskedLm.valBatch(data, set, s.miniBatchSize()));
          Tensor sum = TrainStep.maskedLossSum(model, b, TrainStep.Readout.MASKED, true);
          long masked = TrainStep.maskedCount(b);
          losses.put(set, sum.to(torch.ScalarType.Float).item_double() / Math.max(masked, 1));
        }
      }
    } finally {
      model.train(true);
    }
    return losses;
  }

  /** Saves checkpoint {@code name} of the run folder with the run's counters after {@code step}. */
  public Path save(String name, long step, long tokens, long samples) throws IOException {
    TrainingState state =
        TrainingCheckpoint.captureState(
            step,
            tokens,
            samples,
            s.seed(),
            config,
            plan.schedule(),
            invariants(),
            Adoption.encode(data.adoptions()));
    return TrainingCheckpoint.save(s.runDir(), name, model, optimizer, state);
  }

  /** The settings a resumed run must share with the checkpoint. */
  private Map<String, String> invariants() {
    return s.runInvariants(data.fingerprint());
  }

  /** The batch's tensors on this replica's device (the batch itself on the CPU). */
  private MaskedLm.Batch onDevice(MaskedLm.Batch b) {
    if (device.is_cpu()) {
      return b;
    }
    return new MaskedLm.Batch(
        b.inputs().to(device, torch.ScalarType.Long),
        b.targets().to(device, torch.ScalarType.Long));
  }

  @Override
  public void close() {
    leaveWorld();
    dropReducer();
    prefetcher.close();
    data.close();
  }
}
