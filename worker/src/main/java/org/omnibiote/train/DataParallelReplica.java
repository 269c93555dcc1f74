package org.omnibiote.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
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
import org.omnibiote.checkpoint.TrainingCheckpoint;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.collective.CollectiveGroup;
import org.omnibiote.collective.GradientReducer;
import org.omnibiote.data.Prefetcher;
import org.omnibiote.data.TrainingData;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.OmniBioTAConfig;

/**
 * A worker's model replica in a data-parallel world: the model, its optimiser and its view of
 * the data (read through a {@link Prefetcher}), the c10d group of the current world generation
 * and the {@link GradientReducer} that all-reduces gradients during the last micro-batch's
 * backward. It runs what the coordinator orders: join a world, run a share of a step, evaluate,
 * save, restore. It decides nothing about the schedule.
 *
 * <p>Not thread-safe: one dedicated thread drives it (libtorch modules are not thread-safe).
 */
public final class DataParallelReplica implements AutoCloseable {
  private final TrainSettings s;
  private final Device device;
  private final TrainingData data;
  private final Prefetcher prefetcher;
  private final OmniBioTAConfig config;
  private final RunPlan plan;
  private final double prefetchTimeoutSeconds;
  private OmniBioTA model;
  private MuAdamW optimizer;
  private Replica evaluator;
  private CollectiveGroup group;
  private GradientReducer reducer;
  // One int64 for the small collectives (the step's masked count, the step counter), owned by
  // the world: a collective that timed out may still hold its address.
  private Tensor scalar;
  // Native objects kept for the life of the process, never freed: every group a Reducer has held
  // and every Reducer taken off its model (freeing them corrupted the native heap: see
  // GradientReducer), and the scalar of a world whose collective failed (Gloo may still write
  // into a timed-out operation's buffers). A generation costs a few idle Gloo threads and
  // sockets; a failed one also its Reducer's buckets.
  // Process-wide: a replica that is closed (its node's settings changed) must not free them either.
  private static final List<Object> NEVER_FREED = java.util.Collections.synchronizedList(new ArrayList<>());

  /** What this rank did in a step; the coordinator sums the parts over ranks. */
  public record StepReport(
      double lossPart, long masked, long nonPad, long stepMasked, double seconds, double waitSeconds) {}

  /**
   * Opens the data of {@code settings} and builds the model from the seed (as the single-process
   * trainer does, so that every rank starts from the same weights even before the broadcast).
   */
  public DataParallelReplica(TrainSettings settings, ActorSystem system, int prefetchAhead,
      double prefetchTimeoutSeconds) {
    settings.check();
    if (settings.checkpointFreq() > 0) {
      throw new UserError("--checkpoint_freq " + settings.checkpointFreq() + ": activation"
          + " checkpointing is not supported with more than one worker yet (use 0)");
    }
    if (settings.lossNorm() != Accumulation.LossNorm.GLOBAL) {
      throw new UserError("--loss_norm " + settings.lossNorm().name().toLowerCase()
          + ": distributed training normalises by the step's global masked-token count"
          + " (--loss_norm global)");
    }
    this.s = settings;
    this.device = Devices.parse(settings.devices());
    if (settings.disableFlash()) {
      torch.globalContext().setSDPUseFlash(false);
    }
    this.data = TrainingData.open(settings.baseDir(), settings.dataSettings());
    this.config = settings.modelConfig(data.vocabSize());
    this.plan = new RunPlan(settings);
    this.prefetcher = new Prefetcher(data, prefetchAhead, system);
    this.prefetchTimeoutSeconds = prefetchTimeoutSeconds;
    initialise();
  }

  /** The data's fingerprint (every rank and the coordinator must read the same shards). */
  public String dataFingerprint() {
    return data.fingerprint();
  }

  public OmniBioTA model() {
    return model;
  }

  public MuAdamW optimizer() {
    return optimizer;
  }

  /** Fresh weights from the seed, fresh optimiser state (a run that restarts before any checkpoint). */
  public void initialise() {
    leaveWorld();
    dropReducer(); // it reduces the parameters of the model replaced here
    torch.manual_seed(s.seed());
    model = new OmniBioTA(config);
    model.to(device, false);
    optimizer = new MuAdamW(model, new MuAdamW.Settings(plan.peakLr(), s.beta1(), s.beta2(),
        s.epsilon(), s.weightDecay()), s.forceLr());
    evaluator = new Replica(model, optimizer, data, device, s.lossNorm(), s.precision(), s.miniBatchSize());
  }

  /** Loads a checkpoint of this run (weights, optimiser moments and step count, CPU RNG). */
  public void restore(Path manifest) throws IOException {
    try (PointerScope scope = new PointerScope()) {
      TrainingCheckpoint.Loaded loaded = TrainingCheckpoint.load(manifest);
      if (!loaded.config().equals(config)) {
        throw new UserError("checkpoint " + manifest + " holds a model " + loaded.config().toJson()
            + " but the run is " + config.toJson());
      }
      loaded.requireSameRun(invariants());
      loaded.applyTo(model, optimizer);
    }
  }

  /**
   * Joins world generation {@code generation} as {@code rank} of {@code size} (leaving the
   * previous one), then takes rank 0's weights and optimiser state, so that a replica that
   * just joined, or one restored from a checkpoint, starts the generation equal to the others.
   */
  public void joinWorld(CollectiveGroup.Rendezvous at, long generation, int rank, int size) {
    leaveWorld();
    group = CollectiveGroup.open(at, generation, rank, size, device.is_cuda());
    scalar = Tensor.create(new long[] {0}, 1);
    try {
      broadcastState();
    } catch (RuntimeException e) {
      abandonWorld();
      throw e;
    }
    if (reducer == null) {
      reducer = new GradientReducer(model, group);
    } else {
      reducer.moveTo(group); // one Reducer per model, as fault-tolerant DDP keeps it
    }
  }

  /** The current generation, or -1 outside any world. */
  public long generation() {
    return group == null ? -1 : group.generation();
  }

  /**
   * Leaves the current world, if any, after a healthy last step. The Reducer stays, to serve the
   * next world; the group stays allocated (see GradientReducer).
   */
  public void leaveWorld() {
    if (group != null) {
      NEVER_FREED.add(group);
      group = null;
    }
    scalar = null;
  }

  /**
   * Leaves a world whose collective failed: the Reducer's hooks come off the parameters and the
   * next world gets a fresh one (this one may have stopped half-way through a reduction), but the
   * group, the Reducer (its buckets) and the scalar buffer stay allocated for the life of the
   * process, since Gloo may still write into a timed-out operation's buffers.
   */
  public void abandonWorld() {
    dropReducer();
    if (group != null) {
      NEVER_FREED.add(group);
      group = null;
    }
    if (scalar != null) {
      NEVER_FREED.add(scalar);
      scalar = null;
    }
  }

  /** Takes the Reducer's hooks off the model and keeps it allocated (see GradientReducer). */
  private void dropReducer() {
    if (reducer != null) {
      reducer.close(); // only removes the autograd hooks
      NEVER_FREED.add(reducer);
      reducer = null;
    }
  }

  private void broadcastState() {
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
      scalar.fill_(new Scalar(optimizer.steps()));
      group.broadcast(scalar, 0);
      optimizer.setSteps(scalar.item_long());
    }
  }

  /**
   * This rank's share of global step {@code step}: {@code microBatches} micro-batches from
   * global sample {@code firstSample} (possibly none: the rank still joins the all-reduce, with
   * zero gradients), the loss of each divided by the step's masked-token count over every rank
   * (one small all-reduce first), gradients all-reduced during the last backward, then clip
   * and AdamW at peak * {@code lrFactor}.
   */
  public StepReport step(long firstSample, int microBatches, double lrFactor)
      throws InterruptedException, TimeoutException {
    if (group == null) {
      throw new IllegalStateException("step outside a world");
    }
    long start = System.nanoTime();
    int mini = s.miniBatchSize();
    prefetcher.request(firstSample, microBatches, mini);
    List<TrainingData.MaskedRows> rows = new ArrayList<>(microBatches);
    long masked = 0;
    long nonPad = 0;
    long waitStart = System.nanoTime();
    for (int i = 0; i < microBatches; i++) {
      TrainingData.MaskedRows r = prefetcher.take(prefetchTimeoutSeconds);
      for (int j = 0; j < r.ids().length; j++) {
        masked += r.targets()[j] != MaskedLm.IGNORE ? 1 : 0;
        nonPad += r.ids()[j] != OmniBioTA.PAD ? 1 : 0;
      }
      rows.add(r);
    }
    double wait = (System.nanoTime() - waitStart) / 1e9;
    double lossPart = 0;
    long stepMasked;
    try (PointerScope scope = new PointerScope()) {
      scalar.fill_(new Scalar(masked));
      group.allReduceSum(scalar);
      stepMasked = scalar.item_long();
      optimizer.zeroGrad();
      model.train(true);
      optimizer.setLrFactor(lrFactor);
      // The Reducer averages over ranks; scaling by the world size makes the result the
      // gradient of the global masked-token mean (see GradientReducer).
      double scale = reducer.lossScale() / Math.max(stepMasked, 1);
      if (microBatches == 0) {
        Tensor zero = null;
        for (Tensor p : model.parameters().get()) {
          Tensor none = p.sum().mul(new Scalar(0.0));
          zero = zero == null ? none : zero.add(none);
        }
        reducer.syncNext(zero);
        zero.backward();
      }
      for (int i = 0; i < microBatches; i++) {
        try (PointerScope micro = new PointerScope()) {
          MaskedLm.Batch b = Replica.onDevice(TrainingData.tensors(rows.get(i)), device);
          Tensor sum;
          try (Precision.Autocast cast = s.precision().autocast(device.type())) {
            sum = Accumulation.maskedLossSum(model, b, Accumulation.Readout.MASKED, true);
          }
          Tensor loss = sum.mul(new Scalar(scale));
          if (i == microBatches - 1) {
            reducer.syncNext(loss); // no all-reduce on the earlier micro-batches (DDP's no_sync)
          }
          loss.backward();
          lossPart += sum.item_double() / Math.max(stepMasked, 1);
        }
      }
      torch.clip_grad_norm_(model.parameters(), TrainStep.CLIP_NORM);
      optimizer.step();
    }
    return new StepReport(lossPart, masked, nonPad, stepMasked, (System.nanoTime() - start) / 1e9, wait);
  }

  /** Val losses on the fixed val batches (as the single-process trainer computes them). */
  public Map<String, Double> evaluate() {
    return new LinkedHashMap<>(evaluator.evaluate());
  }

  /** Saves checkpoint {@code name} of the run folder with the run's counters after {@code step}. */
  public Path save(String name, long step, long tokens, long samples) throws IOException {
    TrainingState state = TrainingState.capture(step, tokens, samples, s.seed(), config,
        plan.schedule(), invariants());
    return TrainingCheckpoint.save(s.runDir(), name, model, optimizer, state);
  }

  /** The settings a resumed run must share with the checkpoint (as the single-process trainer). */
  private Map<String, String> invariants() {
    return s.runInvariants(data.fingerprint());
  }

  @Override
  public void close() {
    leaveWorld();
    dropReducer();
    prefetcher.close();
    data.close();
  }
}
