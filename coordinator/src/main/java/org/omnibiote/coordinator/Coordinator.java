package org.omnibiote.coordinator;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.omnibiote.UserError;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.console.RunView;
import org.omnibiote.data.Adoption;
import org.omnibiote.data.DataGenerations;
import org.omnibiote.data.TrainingData;
import org.omnibiote.schedule.Ledger;
import org.omnibiote.schedule.RunPlan;
import org.omnibiote.schedule.RunSchedule;
import org.omnibiote.schedule.RunSchedule.Counters;
import org.omnibiote.schedule.StepSplit;

/**
 * The run's owner, a Cluster Singleton on a node of role {@code coordinator}. It keeps the world
 * (registered workers on reachable nodes) and drives the run through {@link RunSchedule}: forms a
 * world generation, orders each step's shares, commits a step when every rank reported (ledger,
 * metrics), orders rank 0 to evaluate and checkpoint, and on any failure (a dead, lost or hung
 * worker, a failed collective) aborts the step and forms a new generation from the survivors,
 * restoring a state every rank agrees on.
 *
 * <p>Which state a new world starts from: each worker's replica is known to hold the run's state
 * after some number of steps ({@code validAt}) or an unknown one. A worker whose step failed before
 * its optimiser update still holds the last committed state, so the new world takes rank 0 from
 * those and broadcasts its state (nothing is lost); when none is left, every rank loads the last
 * checkpoint and the ledger records the rewind.
 */
public final class Coordinator {

  /** What the coordinator receives. */
  public sealed interface Command
      permits WorkersChanged,
          Membership,
          Described,
          Joined,
          StepDone,
          Failed,
          Saved,
          FormNow,
          JoinTimedOut,
          StepTimedOut,
          OutcomesTimedOut,
          Heartbeat,
          Leave,
          Admin {}

  /** What a worker was doing when it failed. */
  public enum Operation {
    JOIN,
    STEP,
    SAVE
  }

  /** A worker joined world generation {@code generation}. */
  /**
   * A worker joined world generation {@code generation}; {@code peakFlops} is its device's measured
   * matmul rate in the run's precision (what the mfu is a fraction of).
   */
  public record Joined(
      long generation, int rank, ActorRef<WorkerProtocol.Command> worker, double peakFlops)
      implements Command, ClusterMessage {}

  /**
   * A worker's share of step {@code step} is done (its optimiser step included). {@code
   * gpuAllocatedMb} and {@code gpuReservedMb} are the peaks of the step on the worker's CUDA device
   * (libtorch's caching allocator: bytes held by tensors, and bytes it took from the driver); 0 on
   * the CPU.
   */
  public record StepDone(
      long generation,
      long step,
      ActorRef<WorkerProtocol.Command> worker,
      double lossPart,
      long masked,
      long nonPad,
      long stepMasked,
      double seconds,
      double waitSeconds,
      double commSeconds,
      double gradNorm,
      double rssMb,
      double gpuAllocatedMb,
      double gpuReservedMb,
      String valJson)
      implements Command, ClusterMessage {}

  /** A join, step or save failed on a worker (before any optimiser update, for a step). */
  public record Failed(
      long generation,
      long step,
      Operation what,
      ActorRef<WorkerProtocol.Command> worker,
      String error,
      boolean userError)
      implements Command, ClusterMessage {}

  /** Rank 0 committed checkpoint {@code manifest} of the state after {@code step} steps. */
  public record Saved(long generation, long step, String manifest)
      implements Command, ClusterMessage {}

  /**
   * A watched worker is alive: its memory and the lines its node logged since the last beat ({@code
   * log}: newline-separated, "" for none).
   */
  public record Heartbeat(
      ActorRef<WorkerProtocol.Command> worker,
      double rssMb,
      double gpuAllocatedMb,
      double gpuReservedMb,
      String log)
      implements Command, ClusterMessage {}

  /**
   * A worker asks to leave the run at the next step boundary (its node was sent SIGTERM): it is
   * taken out as an operator's eviction would, and its node exits 0.
   */
  public record Leave(ActorRef<WorkerProtocol.Command> worker) implements Command, ClusterMessage {}

  /**
   * An operator's action (from the console or {@code admin}), applied at the next step boundary:
   * {@code action} is pause, resume, checkpoint, stop, evict (of worker {@code target}) or set
   * ({@code key} to {@code value}); {@code by} is the id of the token that asked.
   */
  public record Admin(
      String action,
      String target,
      String key,
      String value,
      String by,
      ActorRef<AdminReply> replyTo)
      implements Command, ClusterMessage {}

  /** The answer to an {@link Admin}: an HTTP status (202 accepted, 400, 404, 409) and a message. */
  public record AdminReply(int status, String message) implements ClusterMessage {}

  record WorkersChanged(Receptionist.Listing listing) implements Command {}

  record Membership(ClusterEvent.ClusterDomainEvent event) implements Command {}

  record Described(ActorRef<WorkerProtocol.Command> worker, WorkerProtocol.Description description)
      implements Command {}

  record FormNow() implements Command {}

  record JoinTimedOut(long generation) implements Command {}

  record StepTimedOut(long generation, long step) implements Command {}

  record OutcomesTimedOut(long generation) implements Command {}

  /** How the run ended, for the command that started this coordinator. */
  public interface RunListener {
    void finished(Path checkpoint, long steps, long tokens, double loss);

    /**
     * An operator stopped the run at a step boundary after {@code checkpoint} was committed (the
     * state after {@code steps} steps): resuming continues from it.
     */
    default void stopped(Path checkpoint, long steps, long tokens, String by) {
      finished(checkpoint, steps, tokens, Double.NaN);
    }

    void failed(String message, boolean userError);
  }

  private enum Phase {
    WAITING,
    FORMING,
    RUNNING,
    SAVING,
    RECOVERING,
    PAUSED,
    DONE
  }

  private static final Duration DESCRIBE_TIMEOUT = Duration.ofSeconds(10);

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final RunSpec spec;
  private final RunSpec.Distributed dist;
  private RunPlan plan;
  private final RunListener listener;
  private final RunView view;

  // What operators asked for, applied at the next step boundary (see atBoundary).
  private boolean paused;
  private String pausedBy;
  private boolean pauseRecorded;
  private String checkpointAskedBy;
  private boolean checkpointAsked;
  private String stopAskedBy;
  private final List<Admin> pendingActions = new ArrayList<>();

  /**
   * Tells this coordinator's worlds apart in the workers' rendezvous stores, whatever their
   * generation.
   */
  private final String runKey = Long.toHexString(new java.security.SecureRandom().nextLong());

  private final RunRecords records;

  private final Map<ActorRef<WorkerProtocol.Command>, WorkerProtocol.Description> registered =
      new LinkedHashMap<>();
  private final Set<Address> unreachable = new HashSet<>();
  private final Set<ActorRef<WorkerProtocol.Command>> evicted = new HashSet<>();

  /** Why a worker may be gone (its node unreachable ...): what the console says when it leaves. */
  private final Map<ActorRef<WorkerProtocol.Command>, String> trouble = new HashMap<>();

  /** Steps after which a worker's replica holds the run's state; absent: unknown. */
  private final Map<ActorRef<WorkerProtocol.Command>, Long> validAt = new HashMap<>();

  // The data generations the run adopted (with the seed they decide every sample), as workers get
  // them with each step; generations refused (another tokenizer, damaged); when to look next; and
  // the coordinator's own view of the grown corpus (opened at the first adoption, for the counts).
  private final List<Adoption> adoptions = new ArrayList<>();
  private String adoptionsText = "";
  private final Set<Long> refusedGenerations = new HashSet<>();
  private long nextAdoptPoll = System.nanoTime();
  private TrainingData planningData;

  private RunSchedule schedule;
  private Path lastCheckpoint;
  private Counters lastCheckpointAt = Counters.START;
  private Phase phase = Phase.WAITING;
  private boolean started;
  private List<ActorRef<WorkerProtocol.Command>> world = List.of();

  /** The generation of {@code world} (the last one formed). */
  private long worldGeneration = -1;

  /** When the last world was aborted (System.nanoTime), while no new world has formed since. */
  private Long abortedAt;

  private final Map<ActorRef<WorkerProtocol.Command>, Double> joined = new HashMap<>();
  private RunSchedule.StepOrder order;
  private final Map<ActorRef<WorkerProtocol.Command>, StepDone> reports = new LinkedHashMap<>();
  private final Set<ActorRef<WorkerProtocol.Command>> awaitingOutcome = new HashSet<>();
  private RunSchedule.StepOrder pendingSave;
  private String lastLogged = "";

  private Coordinator(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      RunSpec spec,
      RunListener listener,
      RunView view)
      throws IOException {
    this.ctx = ctx;
    this.timers = timers;
    this.spec = spec;
    this.dist = spec.distributed();
    this.listener = listener;
    this.view = view;
    RunSpec.ResumePoint at = spec.resumePoint();
    this.lastCheckpoint = at.manifest();
    this.lastCheckpointAt = at.counters();
    this.records = RunRecords.open(spec, at.counters(), view);
    // The checkpoint's adopted generations, then those an earlier coordinator of this run folder
    // adopted after it (the ledger): the same list gives the same samples.
    adoptions.addAll(at.adoptions());
    for (Adoption a : records.adoptions()) {
      if (adoptions.isEmpty()
          || a.generation() > adoptions.get(adoptions.size() - 1).generation()) {
        adoptions.add(a);
      }
    }
    adoptionsText = Adoption.encode(adoptions);
    // An operator's changes of an earlier coordinator of this run folder hold on.
    this.plan = spec.plan().with(records.changes());
    this.schedule =
        new RunSchedule(
            plan,
            spec.settings().miniBatchSize(),
            spec.checkpointName(),
            at.counters(),
            records.lastGeneration());
    view.start(at.counters().step(), plan.totalSteps(), at.counters().tokens(), totalTokens(plan));
    for (RunPlan.Change c : plan.changes()) {
      view.plan(plan.totalSteps(), totalTokens(plan), c.key(), c.value());
    }
    if (at.manifest() != null) {
      view.checkpoint(
          at.manifest().getFileName().toString(), at.counters().step(), at.counters().tokens());
    }
    event(
        "run",
        at.manifest() == null
            ? "new run: " + plan.totalSteps() + " steps"
            : "resumed from " + at.manifest().getFileName() + " at step " + at.counters().step(),
        null);
    ctx.getLog()
        .info(
            "run {}: {} steps, at step {} ({})",
            spec.runDir(),
            plan.totalSteps(),
            at.counters().step(),
            at.manifest() == null ? "new run" : "from checkpoint " + at.manifest());
  }

  public static Behavior<Command> create(RunSpec spec, RunListener listener) {
    return create(spec, listener, RunView.of(spec));
  }

  /** As above, and what the run does is shown on {@code view} (the admin console reads it). */
  public static Behavior<Command> create(RunSpec spec, RunListener listener, RunView view) {
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers -> {
                  Coordinator c;
                  try {
                    c = new Coordinator(ctx, timers, spec, listener, view);
                  } catch (RuntimeException | IOException e) {
                    ctx.getLog().error("cannot start the run: {}", e.getMessage());
                    view.phase(RunView.Phase.FAILED, String.valueOf(e.getMessage()));
                    listener.failed(e.getMessage(), e instanceof org.omnibiote.UserError);
                    return Behaviors.stopped();
                  }
                  ctx.getSystem()
                      .receptionist()
                      .tell(
                          Receptionist.subscribe(
                              WorkerProtocol.KEY,
                              ctx.messageAdapter(Receptionist.Listing.class, WorkersChanged::new)));
                  Cluster.get(ctx.getSystem())
                      .subscriptions()
                      .tell(
                          Subscribe.create(
                              ctx.messageAdapter(
                                  ClusterEvent.ClusterDomainEvent.class, Membership::new),
                              ClusterEvent.ClusterDomainEvent.class));
                  if (c.schedule.finished()) {
                    c.finish();
                  }
                  return c.behavior();
                }));
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(WorkersChanged.class, this::onWorkers)
        .onMessage(Membership.class, this::onMembership)
        .onMessage(Described.class, this::onDescribed)
        .onMessage(
            FormNow.class,
            f -> {
              if (phase == Phase.WAITING) {
                form();
              }
              return Behaviors.same();
            })
        .onMessage(Joined.class, this::onJoined)
        .onMessage(StepDone.class, this::onStepDone)
        .onMessage(Failed.class, this::onFailed)
        .onMessage(Saved.class, this::onSaved)
        .onMessage(
            JoinTimedOut.class,
            t -> {
              if (phase == Phase.FORMING && t.generation() == schedule.generation()) {
                abort(
                    "world generation "
                        + t.generation()
                        + " did not form within "
                        + dist.joinTimeout().toSeconds()
                        + " s");
              }
              return Behaviors.same();
            })
        .onMessage(
            StepTimedOut.class,
            t -> {
              if (phase == Phase.RUNNING
                  && order != null
                  && t.step() == order.step()
                  && t.generation() == order.generation()) {
                abort(
                    "step "
                        + (t.step() + 1)
                        + " took longer than "
                        + dist.stepTimeout().toSeconds()
                        + " s");
              }
              return Behaviors.same();
            })
        .onMessage(OutcomesTimedOut.class, this::onOutcomesTimedOut)
        .onMessage(Heartbeat.class, this::onHeartbeat)
        .onMessage(Admin.class, this::onAdmin)
        .onMessage(
            Leave.class,
            l ->
                onAdmin(
                    new Admin(
                        "evict",
                        l.worker().path().toString(),
                        null,
                        null,
                        "SIGTERM",
                        ctx.getSystem().ignoreRef())))
        .onSignal(
            PostStop.class,
            s -> {
              closeRun();
              return Behaviors.same();
            })
        .build();
  }

  // ---- membership -------------------------------------------------------------------------

  private Behavior<Command> onWorkers(WorkersChanged changed) {
    Set<ActorRef<WorkerProtocol.Command>> now =
        changed.listing().getServiceInstances(WorkerProtocol.KEY);
    for (ActorRef<WorkerProtocol.Command> w : new ArrayList<>(registered.keySet())) {
      if (!now.contains(w)) {
        WorkerProtocol.Description d = registered.remove(w);
        String why = trouble.getOrDefault(w, "it left the cluster (its node stopped)");
        if (!evicted.contains(w)) {
          view.departed(w.path().toString(), why);
          event("membership", "worker " + (d == null ? w.path() : d) + " left: " + why, null);
        }
        trouble.remove(w);
        lost(w, "worker " + w.path() + " deregistered");
      }
    }
    for (ActorRef<WorkerProtocol.Command> w : now) {
      if (!registered.containsKey(w) && !evicted.contains(w)) {
        registered.put(w, null);
        ctx.ask(
            WorkerProtocol.Description.class,
            w,
            DESCRIBE_TIMEOUT,
            WorkerProtocol.Describe::new,
            (d, failure) -> new Described(w, d));
      }
    }
    membershipChanged();
    return Behaviors.same();
  }

  private Behavior<Command> onMembership(Membership m) {
    ClusterEvent.ClusterDomainEvent e = m.event();
    Address lostAt = null;
    if (e instanceof ClusterEvent.UnreachableMember u) {
      unreachable.add(u.member().address());
      ctx.getLog().warn("node {} unreachable", u.member().address());
      lostAt = u.member().address();
    } else if (e instanceof ClusterEvent.ReachableMember r) {
      unreachable.remove(r.member().address());
      ctx.getLog().info("node {} reachable again", r.member().address());
    } else if (e instanceof ClusterEvent.MemberRemoved r) {
      unreachable.add(r.member().address());
      ctx.getLog().info("node {} removed", r.member().address());
      lostAt = r.member().address();
    } else if (e instanceof ClusterEvent.MemberUp up) {
      unreachable.remove(up.member().address());
      ctx.getLog().info("node {} up, roles {}", up.member().address(), up.member().getRoles());
    } else {
      return Behaviors.same();
    }
    String what =
        e instanceof ClusterEvent.UnreachableMember
            ? "unreachable (killed, crashed, or cut off)"
            : e instanceof ClusterEvent.ReachableMember
                ? "reachable again"
                : e instanceof ClusterEvent.MemberRemoved ? "removed from the cluster" : "up";
    event(
        "membership",
        "node "
            // (un)reachability events are not MemberEvents: casting them stopped the coordinator
            + (e instanceof ClusterEvent.ReachabilityEvent r
                    ? r.member()
                    : ((ClusterEvent.MemberEvent) e).member())
                .address()
            + " "
            + what,
        null);
    if (lostAt != null) {
      for (ActorRef<WorkerProtocol.Command> w : registered.keySet()) {
        if (address(w).equals(lostAt)) {
          trouble.putIfAbsent(w, "its node " + lostAt + " became " + what);
        }
      }
    }
    if (lostAt != null) {
      for (ActorRef<WorkerProtocol.Command> w : new ArrayList<>(world)) {
        if (address(w).equals(lostAt)) {
          lost(w, "worker " + registered.get(w) + " on " + lostAt + " is unreachable");
        }
      }
    }
    membershipChanged();
    return Behaviors.same();
  }

  private Behavior<Command> onDescribed(Described d) {
    if (d.description() == null) {
      ctx.getLog()
          .warn("worker {} did not describe itself within {}", d.worker().path(), DESCRIBE_TIMEOUT);
      registered.remove(d.worker());
      return Behaviors.same();
    }
    if (!registered.containsKey(d.worker())) {
      return Behaviors.same();
    }
    List<String> differences = spec.differences(d.description().ownSettings());
    if (!differences.isEmpty()) {
      evict(
          d.worker(),
          "worker "
              + d.description()
              + " was started with settings that differ"
              + " from the run's: "
              + String.join(", ", differences),
          true);
      registered.remove(d.worker());
      return Behaviors.same();
    }
    registered.put(d.worker(), d.description());
    WorkerProtocol.Description me = d.description();
    view.worker(d.worker().path().toString(), me.device(), me.host(), me.pid());
    d.worker().tell(new WorkerProtocol.Watch(ctx.getSelf()));
    event("membership", "worker " + me + " registered", null);
    membershipChanged();
    return Behaviors.same();
  }

  /** A world member is gone: the step (or the forming world) in flight cannot complete. */
  private void lost(ActorRef<WorkerProtocol.Command> w, String why) {
    validAt.remove(w);
    if (!world.contains(w)) {
      return;
    }
    switch (phase) {
      case FORMING, RUNNING, SAVING, PAUSED -> abort(why);
      case RECOVERING -> {
        awaitingOutcome.remove(w);
        maybeRecovered();
      }
      default -> {}
    }
  }

  private void membershipChanged() {
    logWorld();
    if (phase == Phase.WAITING) {
      int needed = started ? 1 : dist.minWorkers();
      if (candidates().size() >= needed) {
        // Debounced: workers starting together form one world. After an abort, no sooner than
        // abort-settle after it: the failure detector's time to mark a killed node unreachable
        // (a recovery that already took that long, waiting for a hung worker, waits no more).
        Duration delay = dist.settle();
        if (abortedAt != null) {
          Duration rest = dist.abortSettle().minus(Duration.ofNanos(System.nanoTime() - abortedAt));
          delay = rest.compareTo(delay) > 0 ? rest : delay;
        }
        timers.startSingleTimer("form", new FormNow(), delay);
      } else {
        timers.cancel("form");
      }
    }
  }

  /** Described, compatible workers on reachable nodes that were not evicted. */
  private Map<ActorRef<WorkerProtocol.Command>, WorkerProtocol.Description> candidates() {
    Map<ActorRef<WorkerProtocol.Command>, WorkerProtocol.Description> c = new LinkedHashMap<>();
    registered.forEach(
        (ref, d) -> {
          if (d != null && !evicted.contains(ref) && !unreachable.contains(address(ref))) {
            c.put(ref, d);
          }
        });
    return c;
  }

  // ---- forming a world ----------------------------------------------------------------------

  private void form() {
    Map<ActorRef<WorkerProtocol.Command>, WorkerProtocol.Description> cands = candidates();
    if (cands.size() < (started ? 1 : dist.minWorkers()) || cands.isEmpty()) {
      return;
    }
    abortedAt = null;
    final long now = schedule.counters().step();
    long at = now;
    WorldChoice<ActorRef<WorkerProtocol.Command>> choice =
        WorldChoice.choose(
            new ArrayList<>(cands.keySet()), world, validAt, now, w -> w.path().toString());
    ActorRef<WorkerProtocol.Command> root = choice.root();
    List<ActorRef<WorkerProtocol.Command>> ranks = choice.ranks();
    WorkerProtocol.Restore restore;
    if (choice.keepsState()) {
      restore = new WorkerProtocol.KeepState();
    } else {
      restore = rewindToCheckpoint();
      at = schedule.counters().step();
    }
    long generation = schedule.newGeneration();
    worldGeneration = generation;
    world = List.copyOf(ranks);
    joined.clear();
    // Rank 0's store: every rank of the generation meets there (as torchrun's rank 0 hosts it).
    WorkerProtocol.Description store = cands.get(world.get(0));
    for (ActorRef<WorkerProtocol.Command> w : world) {
      if (w != root) {
        validAt.remove(w); // overwritten by the broadcast (or the restore) of the join
      }
    }
    for (int rank = 0; rank < world.size(); rank++) {
      world
          .get(rank)
          .tell(
              new WorkerProtocol.JoinWorld(
                  generation,
                  runKey + "-gen-" + generation,
                  rank,
                  world.size(),
                  store.storeHost(),
                  store.storePort(),
                  dist.collectiveTimeout().toMillis(),
                  spec.settings(),
                  restore,
                  spec.dataFingerprint(),
                  ctx.getSelf()));
    }
    setPhase(Phase.FORMING);
    view.world(generation, world.stream().map(w -> w.path().toString()).toList());
    timers.startSingleTimer("join", new JoinTimedOut(generation), dist.joinTimeout());
    ctx.getLog()
        .info(
            "forming world generation {}: {} workers at step {}{}",
            generation,
            world.size(),
            at,
            restore instanceof WorkerProtocol.KeepState
                ? ", state from " + store
                : restore instanceof WorkerProtocol.LoadCheckpoint l
                    ? ", restoring " + l.manifest()
                    : ", fresh weights from the seed");
  }

  /** No worker holds the run's state: every rank loads the last checkpoint (or the seed's init). */
  private WorkerProtocol.Restore rewindToCheckpoint() {
    RunSpec.ResumePoint point =
        lastCheckpoint == null
            ? new RunSpec.ResumePoint(null, Counters.START)
            : new RunSpec.ResumePoint(lastCheckpoint, lastCheckpointAt);
    if (point.counters().step() < schedule.counters().step()) {
      ctx.getLog()
          .warn(
              "no worker holds the state after step {}: back to step {} ({})",
              schedule.counters().step(),
              point.counters().step(),
              point.manifest() == null ? "the start" : point.manifest());
      records.rewound(point.counters().step(), schedule.generation());
      event(
          "restore",
          "no worker holds the state after step "
              + schedule.counters().step()
              + ": back to step "
              + point.counters().step(),
          null);
    }
    schedule =
        new RunSchedule(
            plan,
            spec.settings().miniBatchSize(),
            spec.checkpointName(),
            point.counters(),
            schedule.generation());
    return point.manifest() == null
        ? new WorkerProtocol.InitFromSeed()
        : new WorkerProtocol.LoadCheckpoint(point.manifest().toString());
  }

  private Behavior<Command> onJoined(Joined j) {
    if (phase != Phase.FORMING
        || j.generation() != worldGeneration
        || !world.contains(j.worker())) {
      return Behaviors.same();
    }
    joined.put(j.worker(), j.peakFlops());
    if (joined.size() == world.size()) {
      timers.cancel("join");
      for (ActorRef<WorkerProtocol.Command> w : world) {
        validAt.put(w, schedule.counters().step());
      }
      started = true;
      setPhase(Phase.RUNNING);
      ctx.getLog().info("world generation {} formed: {}", schedule.generation(), describe(world));
      view.worldState("training");
      event(
          "generation",
          "world generation "
              + schedule.generation()
              + " formed at step "
              + schedule.counters().step()
              + ": "
              + describe(world),
          null);
      if (pendingSave != null) {
        save(pendingSave);
      } else {
        nextStep();
      }
    }
    return Behaviors.same();
  }

  // ---- steps ----------------------------------------------------------------------------------

  private void nextStep() {
    if (atBoundary()) {
      return;
    }
    if (schedule.finished()) {
      finish();
      return;
    }
    Set<ActorRef<WorkerProtocol.Command>> newcomers = new LinkedHashSet<>(candidates().keySet());
    newcomers.removeAll(world);
    if (!newcomers.isEmpty()) {
      ctx.getLog().info("admitting {} at the step boundary", describe(new ArrayList<>(newcomers)));
      leaveWorld();
      setPhase(Phase.WAITING);
      form();
      return;
    }
    adoptNewGenerations();
    order = schedule.next(world.size());
    reports.clear();
    for (StepSplit.Share share : order.shares()) {
      world
          .get(share.rank())
          .tell(
              new WorkerProtocol.RunStep(
                  order.generation(),
                  order.step(),
                  share.firstSample(),
                  share.microBatches(),
                  order.rows() / spec.settings().miniBatchSize(),
                  order.lrFactor(),
                  order.evaluate() && share.rank() == 0,
                  adoptionsText,
                  ctx.getSelf()));
    }
    setPhase(Phase.RUNNING);
    timers.startSingleTimer(
        "step", new StepTimedOut(order.generation(), order.step()), dist.stepTimeout());
  }

  /**
   * At a step boundary, every poll interval: data generations that {@code omnibiote follow}
   * committed to the run's base_dir since the last one adopted are adopted from the next sample on,
   * in order; the ledger, the events and the console record each. A generation that cannot be
   * adopted (another tokenizer, unreadable) is refused once, with its reason, and the run goes on.
   */
  private void adoptNewGenerations() {
    if (dist.adoptPoll().isZero() || System.nanoTime() - nextAdoptPoll < 0) {
      return;
    }
    nextAdoptPoll = System.nanoTime() + dist.adoptPoll().toNanos();
    Path baseDir = spec.settings().baseDir();
    long latest;
    try {
      latest = DataGenerations.latest(baseDir);
    } catch (UserError e) {
      ctx.getLog().warn("cannot look for new data generations: {}", e.getMessage());
      return;
    }
    view.generationsCommitted(latest);
    long last = adoptions.isEmpty() ? 0 : adoptions.get(adoptions.size() - 1).generation();
    for (long g = last + 1; g <= latest; g++) {
      if (refusedGenerations.contains(g)) {
        continue;
      }
      Counters at = schedule.counters();
      Adoption a = new Adoption(g, at.samples());
      try {
        if (planningData == null) {
          planningData =
              TrainingData.openUnverified(baseDir, spec.settings().dataSettings(), adoptions);
        }
        TrainingData.AdoptionSummary sum = planningData.adopt(a);
        adoptions.add(a);
        adoptionsText = Adoption.encode(adoptions);
        records.adopted(
            at.step(),
            worldGeneration,
            new Ledger.Adopted(
                g,
                a.firstSample(),
                sum.source(),
                sum.documentsAdded(),
                sum.tokensAdded(),
                sum.documentsSuperseded(),
                sum.tokensSuperseded()));
        view.data(planningData.summary());
        view.adopted(
            new RunView.Adopted(
                g,
                at.step(),
                a.firstSample(),
                sum.source(),
                sum.documentsAdded(),
                sum.tokensAdded(),
                sum.documentsSuperseded(),
                sum.tokensSuperseded(),
                System.currentTimeMillis()));
        String line =
            String.format(
                Locale.ROOT,
                "adopted data generation %d (%s) before step %d: %,d documents (%,d tokens) added,"
                    + " %,d documents (%,d tokens) superseded",
                g,
                sum.source(),
                at.step() + 1,
                sum.documentsAdded(),
                sum.tokensAdded(),
                sum.documentsSuperseded(),
                sum.tokensSuperseded());
        ctx.getLog().info(line);
        event("data", line, null);
      } catch (UserError | IllegalArgumentException e) {
        refusedGenerations.add(g);
        String line = "data generation " + g + " of " + baseDir + " refused: " + e.getMessage();
        ctx.getLog().error(line);
        event("data", line, null);
      }
    }
  }

  private Behavior<Command> onStepDone(StepDone d) {
    if (order == null || d.generation() != order.generation() || d.step() != order.step()) {
      return Behaviors.same();
    }
    if (phase == Phase.RECOVERING) {
      validAt.remove(d.worker()); // it applied an update the run will not keep
      awaitingOutcome.remove(d.worker());
      maybeRecovered();
      return Behaviors.same();
    }
    if (phase != Phase.RUNNING || !world.contains(d.worker())) {
      return Behaviors.same();
    }
    reports.put(d.worker(), d);
    if (reports.size() == world.size()) {
      timers.cancel("step");
      commit();
    }
    return Behaviors.same();
  }

  private void commit() {
    List<StepDone> byRank = world.stream().map(reports::get).toList();
    double loss = byRank.stream().mapToDouble(StepDone::lossPart).sum();
    if (!Double.isFinite(loss)) {
      records.aborted(entry(order, Ledger.Entry.ABORTED));
      fail(
          String.format(
              Locale.ROOT,
              "the loss became %s at step %d: lower --lr, or use"
                  + " --precision fp32; the last checkpoint is kept",
              loss,
              order.step() + 1),
          true);
      return;
    }
    schedule.commit(order);
    Counters at = schedule.counters();
    for (ActorRef<WorkerProtocol.Command> w : world) {
      validAt.put(w, at.step());
    }
    double peak = joined.values().stream().mapToDouble(Double::doubleValue).sum();
    records.committed(entry(order, Ledger.Entry.COMMITTED), order, at, loss, byRank, peak);
    for (StepDone d : byRank) {
      view.workerStep(
          d.worker().path().toString(), d.seconds(), d.waitSeconds(), d.commSeconds(), d.rssMb());
    }
    String val = byRank.get(0).valJson();
    if (val != null && !val.isEmpty()) {
      ctx.getLog().info("step {} val loss {}", at.step(), val);
    }
    if (order.checkpoint() != null) {
      save(order);
    } else {
      nextStep();
    }
  }

  private Ledger.Entry entry(RunSchedule.StepOrder o, String status) {
    List<Ledger.Part> parts = new ArrayList<>();
    for (StepSplit.Share s : o.shares()) {
      WorkerProtocol.Description d = registered.get(world.get(s.rank()));
      parts.add(
          new Ledger.Part(
              s.rank(),
              d == null ? world.get(s.rank()).path().toString() : d.toString(),
              s.firstSample(),
              s.rows()));
    }
    return new Ledger.Entry(o.step(), o.generation(), status, parts);
  }

  private void save(RunSchedule.StepOrder o) {
    pendingSave = o;
    setPhase(Phase.SAVING);
    Counters after = o.after();
    world
        .get(0)
        .tell(
            new WorkerProtocol.Save(
                worldGeneration,
                after.step(),
                o.checkpoint(),
                after.tokens(),
                after.samples(),
                ctx.getSelf()));
  }

  private Behavior<Command> onSaved(Saved s) {
    // A save ordered in an earlier generation may answer late: its checkpoint is not this world's
    // (the new rank 0 was ordered to write it again, and deletes its manifest first).
    if (phase != Phase.SAVING
        || pendingSave == null
        || s.generation() != worldGeneration
        || s.step() != pendingSave.after().step()) {
      return Behaviors.same();
    }
    RunSchedule.StepOrder o = pendingSave;
    pendingSave = null;
    lastCheckpoint = Path.of(s.manifest());
    lastCheckpointAt = o.after();
    ctx.getLog().info("checkpoint {} at step {}", s.manifest(), o.after().step());
    view.checkpoint(lastCheckpoint.getFileName().toString(), o.after().step(), o.after().tokens());
    event(
        "checkpoint",
        "checkpoint " + lastCheckpoint.getFileName() + " at step " + o.after().step(),
        null);
    try {
      Checkpoints.prune(
          spec.runDir(), spec.checkpointName(), plan.keepCheckpoints(o.after().step()));
    } catch (IOException e) {
      ctx.getLog().warn("pruning old checkpoints failed: {}", e.getMessage());
    }
    setPhase(Phase.RUNNING);
    nextStep();
    return Behaviors.same();
  }

  // ---- failures -------------------------------------------------------------------------------

  private Behavior<Command> onFailed(Failed f) {
    if (f.generation() != worldGeneration) {
      return Behaviors.same();
    }
    String who = String.valueOf(registered.get(f.worker()));
    if (f.userError()) {
      evict(f.worker(), f.error(), true);
    }
    if (f.what() == Operation.SAVE) {
      fail("saving checkpoint failed on " + who + ": " + f.error(), f.userError());
      return Behaviors.same();
    }
    if (phase == Phase.FORMING || phase == Phase.RUNNING || phase == Phase.SAVING) {
      abort(f.what().name().toLowerCase(Locale.ROOT) + " failed on " + who + ": " + f.error());
    }
    if (phase == Phase.RECOVERING) {
      // Its step failed before its optimiser update: it still holds the committed state.
      awaitingOutcome.remove(f.worker());
      maybeRecovered();
    }
    return Behaviors.same();
  }

  /**
   * The step (or world) in flight cannot complete: record the abort, make every member leave the
   * generation (a rank blocked in a collective fails fast), then wait until each live member said
   * how its step ended (its optimiser update applied or not) before forming a new world.
   */
  private void abort(String why) {
    ctx.getLog().warn("aborting world generation {}: {}", schedule.generation(), why);
    event("abort", "world generation " + schedule.generation() + " aborted: " + why, null);
    timers.cancel("step");
    timers.cancel("join");
    awaitingOutcome.clear();
    if (phase == Phase.RUNNING && order != null && order.generation() == schedule.generation()) {
      records.aborted(entry(order, Ledger.Entry.ABORTED));
      schedule.abort(order);
      for (ActorRef<WorkerProtocol.Command> w : world) {
        if (reports.containsKey(w)) {
          validAt.remove(w); // it applied the aborted step's update
        } else if (isLive(w)) {
          awaitingOutcome.add(w);
        }
      }
    } else if (phase == Phase.FORMING) {
      for (ActorRef<WorkerProtocol.Command> w : world) {
        if (isLive(w) && !joined.containsKey(w)) {
          awaitingOutcome.add(w);
        }
      }
    }
    leaveWorld();
    setPhase(Phase.RECOVERING);
    abortedAt = System.nanoTime();
    timers.startSingleTimer(
        "outcomes", new OutcomesTimedOut(schedule.generation()), dist.outcomeTimeout());
    maybeRecovered();
  }

  private boolean isLive(ActorRef<WorkerProtocol.Command> w) {
    return registered.containsKey(w) && !evicted.contains(w) && !unreachable.contains(address(w));
  }

  private void leaveWorld() {
    for (ActorRef<WorkerProtocol.Command> w : world) {
      w.tell(new WorkerProtocol.LeaveWorld(worldGeneration));
    }
  }

  private Behavior<Command> onOutcomesTimedOut(OutcomesTimedOut t) {
    if (phase == Phase.RECOVERING) {
      for (ActorRef<WorkerProtocol.Command> w : new ArrayList<>(awaitingOutcome)) {
        evict(
            w,
            "worker "
                + registered.get(w)
                + " did not answer within "
                + dist.outcomeTimeout().toSeconds()
                + " s after its world was aborted: it is hung",
            false);
      }
      awaitingOutcome.clear();
      maybeRecovered();
    }
    return Behaviors.same();
  }

  private void maybeRecovered() {
    if (phase != Phase.RECOVERING || !awaitingOutcome.isEmpty()) {
      return;
    }
    timers.cancel("outcomes");
    setPhase(Phase.WAITING);
    membershipChanged();
  }

  private void evict(ActorRef<WorkerProtocol.Command> w, String reason, boolean userError) {
    evict(w, reason, userError, false);
  }

  private void evict(
      ActorRef<WorkerProtocol.Command> w, String reason, boolean userError, boolean byOperator) {
    view.departed(w.path().toString(), reason);
    event("membership", "worker " + registered.get(w) + " evicted: " + reason, null);
    if (userError) {
      ctx.getLog().error("refusing worker: {}", reason);
    } else {
      ctx.getLog().warn("evicting worker: {}", reason);
    }
    evicted.add(w);
    validAt.remove(w);
    w.tell(new WorkerProtocol.Evicted(reason, userError, byOperator));
  }

  // ---- the end --------------------------------------------------------------------------------

  private void finish() {
    setPhase(Phase.DONE);
    Counters at = schedule.counters();
    Path last =
        Checkpoints.exists(spec.runDir(), spec.checkpointName())
            ? spec.runDir().resolve(spec.checkpointName() + Checkpoints.MANIFEST_SUFFIX)
            : lastCheckpoint;
    records.finished();
    double lastLoss = records.lastLoss();
    String summary =
        Double.isNaN(lastLoss)
            ? String.format(
                Locale.ROOT,
                "the run was already finished: %,d steps, %,d tokens",
                at.step(),
                at.tokens())
            : String.format(
                Locale.ROOT,
                "trained %,d steps, %,d tokens; final loss %.4f",
                at.step(),
                at.tokens(),
                lastLoss);
    for (ActorRef<WorkerProtocol.Command> w : registered.keySet()) {
      w.tell(new WorkerProtocol.Finish(summary));
    }
    view.phase(RunView.Phase.DONE, summary);
    event("run", summary, null);
    closeRun();
    ctx.getLog().info(summary);
    listener.finished(last, at.step(), at.tokens(), lastLoss);
  }

  private void fail(String message, boolean userError) {
    setPhase(Phase.DONE);
    ctx.getLog().error("the run failed: {}", message);
    view.phase(RunView.Phase.FAILED, message);
    event("run", "the run failed: " + message, null);
    for (ActorRef<WorkerProtocol.Command> w : registered.keySet()) {
      w.tell(new WorkerProtocol.Finish("the run failed: " + message));
    }
    closeRun();
    listener.failed(message, userError);
  }

  private void closeRun() {
    if (planningData != null) {
      planningData.close();
      planningData = null;
    }
    try {
      records.close();
    } catch (IOException e) {
      ctx.getLog().warn("closing the run files: {}", e.getMessage());
    }
  }

  // ---- operators: the console and admin ------------------------------------------------------

  private Behavior<Command> onHeartbeat(Heartbeat h) {
    view.heartbeat(
        h.worker().path().toString(),
        h.rssMb(),
        h.gpuAllocatedMb(),
        h.gpuReservedMb(),
        h.log().isEmpty() ? List.of() : List.of(h.log().split("\n")));
    return Behaviors.same();
  }

  /**
   * Checks an operator's action now (a bad value or an unknown worker is refused at once, with
   * 400/404), then applies it at the next step boundary: at once when the run is paused, which is a
   * boundary.
   */
  private Behavior<Command> onAdmin(Admin a) {
    if (phase == Phase.DONE) {
      a.replyTo().tell(new AdminReply(409, "the run has ended"));
      return Behaviors.same();
    }
    String refused = refusal(a);
    if (refused != null) {
      ctx.getLog().warn("refused {} from {}: {}", a.action(), a.by(), refused);
      a.replyTo().tell(new AdminReply(refused.startsWith("no worker") ? 404 : 400, refused));
      return Behaviors.same();
    }
    String message =
        switch (a.action()) {
          case "pause" -> paused ? "already paused" : "pausing at the next step boundary";
          case "resume" -> paused ? "resuming" : "not paused";
          case "checkpoint" -> "a checkpoint at the next step boundary";
          case "stop" -> "stopping at the next step boundary, after a checkpoint";
          case "evict" -> "evicting " + a.target() + " at the next step boundary";
          default -> a.key() + " = " + a.value() + " from the next step boundary";
        };
    event("action", a.action() + " asked: " + message, a.by());
    switch (a.action()) {
      case "pause" -> {
        paused = true;
        pausedBy = a.by();
      }
      case "resume" -> {
        if (paused) {
          paused = false;
          pauseRecorded = false;
          records.action(schedule.counters().step(), schedule.generation(), a, null);
          event("action", "resumed", a.by());
        }
      }
      case "checkpoint" -> {
        checkpointAsked = true;
        checkpointAskedBy = a.by();
      }
      case "stop" -> stopAskedBy = a.by() == null ? "an operator" : a.by();
      default -> pendingActions.add(a);
    }
    showControl();
    a.replyTo().tell(new AdminReply(202, message));
    if (phase == Phase.PAUSED) {
      nextStep(); // a paused run is at a boundary: apply now (or resume)
    }
    return Behaviors.same();
  }

  /** Why {@code a} cannot be applied (400/404), or null. */
  private String refusal(Admin a) {
    switch (a.action()) {
      case "pause", "resume", "checkpoint", "stop" -> {
        return null;
      }
      case "evict" -> {
        return workerOf(a.target()) == null ? "no worker " + a.target() + " in the run" : null;
      }
      case "set" -> {
        double v;
        try {
          v = Double.parseDouble(a.value());
        } catch (NumberFormatException | NullPointerException e) {
          return a.key() + ": '" + a.value() + "' is not a number";
        }
        try {
          plan.with(new RunPlan.Change(schedule.counters().step(), a.key(), v));
          return null;
        } catch (IllegalArgumentException e) {
          return e.getMessage();
        }
      }
      default -> {
        return "unknown action '" + a.action() + "'";
      }
    }
  }

  /** The live worker the console calls {@code id} (or its rank, or its path). */
  private ActorRef<WorkerProtocol.Command> workerOf(String id) {
    String path = view.pathOf(id);
    for (ActorRef<WorkerProtocol.Command> w : registered.keySet()) {
      if (w.path().toString().equals(path) && !evicted.contains(w)) {
        return w;
      }
    }
    return null;
  }

  /**
   * A step boundary: applies what operators asked for, in this order: settings, evictions (a new
   * world forms), a checkpoint, a stop (after its checkpoint), a pause. Returns true when it took
   * the run over (no step is ordered now).
   */
  private boolean atBoundary() {
    long step = schedule.counters().step();
    for (Admin a : List.copyOf(pendingActions)) {
      if (a.action().equals("set")) { // the evictions stay for the loop below
        pendingActions.remove(a);
        applySetting(a, step);
      }
    }
    boolean reform = false;
    for (Admin a : List.copyOf(pendingActions)) {
      pendingActions.remove(a);
      ActorRef<WorkerProtocol.Command> w = workerOf(a.target());
      if (w == null) {
        continue; // it left meanwhile
      }
      String why =
          "SIGTERM".equals(a.by())
              ? "it was sent SIGTERM and left at a step boundary"
              : "evicted by an operator (token " + a.by() + ")";
      records.action(step, schedule.generation(), a, String.valueOf(registered.get(w)));
      event("action", "evicted " + registered.get(w) + ": " + why, a.by());
      evict(w, why, false, true);
      reform |= world.contains(w);
    }
    showControl();
    if (reform) {
      leaveWorld();
      world = List.of();
      setPhase(Phase.WAITING);
      form();
      return true;
    }
    boolean atCheckpoint = lastCheckpoint != null && lastCheckpointAt.step() == step;
    if ((checkpointAsked || stopAskedBy != null) && !atCheckpoint && step > 0) {
      records.action(
          step,
          schedule.generation(),
          new Admin(
              "checkpoint",
              null,
              null,
              null,
              checkpointAsked ? checkpointAskedBy : stopAskedBy,
              null),
          null);
      checkpointAsked = false;
      save(savedNow(step));
      return true;
    }
    checkpointAsked = false;
    if (stopAskedBy != null) {
      stop();
      return true;
    }
    if (paused) {
      if (!pauseRecorded) {
        pauseRecorded = true;
        records.action(
            step,
            schedule.generation(),
            new Admin("pause", null, null, null, pausedBy, null),
            null);
        event("action", "paused at step " + step, pausedBy);
        ctx.getLog().info("paused at step {}: no step runs until resumed", step);
      }
      setPhase(Phase.PAUSED);
      return true;
    }
    return false;
  }

  private void applySetting(Admin a, long step) {
    RunPlan.Change c = new RunPlan.Change(step, a.key(), Double.parseDouble(a.value()));
    try {
      plan = plan.with(c);
    } catch (IllegalArgumentException e) {
      event(
          "action", "set " + a.key() + " refused at step " + step + ": " + e.getMessage(), a.by());
      return;
    }
    schedule.replan(plan);
    records.action(step, schedule.generation(), a, null);
    view.plan(plan.totalSteps(), totalTokens(plan), a.key(), c.value());
    String what =
        a.key().equals("token_budget")
            ? String.format(
                Locale.ROOT,
                "token_budget %s from step %d: %d steps, lr decays linearly from %.4g to 0 at the"
                    + " new end",
                a.value(),
                step,
                plan.totalSteps(),
                plan.peakLr() * plan.lrFactor(step))
            : a.key() + " " + a.value() + " from step " + step;
    ctx.getLog().info("an operator set {}", what);
    event("action", "set " + what, a.by());
  }

  /** The order that saves the state after {@code step} steps now, as a periodic checkpoint. */
  private RunSchedule.StepOrder savedNow(long step) {
    Counters at = schedule.counters();
    return new RunSchedule.StepOrder(
        step - 1,
        worldGeneration,
        0,
        0,
        List.of(),
        false,
        spec.checkpointName() + "_" + at.tokens(),
        false,
        at);
  }

  /** Ends the run at this boundary: its last checkpoint holds the state (nothing is lost). */
  private void stop() {
    String by = stopAskedBy;
    Counters at = schedule.counters();
    setPhase(Phase.DONE);
    view.phase(RunView.Phase.STOPPED, "stopped at step " + at.step() + " by " + by);
    records.action(
        at.step(), schedule.generation(), new Admin("stop", null, null, null, by, null), null);
    event("run", "stopped at step " + at.step() + "; checkpoint " + lastCheckpoint, by);
    records.finished();
    String summary =
        String.format(
            Locale.ROOT,
            "the run was stopped at step %,d (%,d tokens); its checkpoint %s resumes it",
            at.step(),
            at.tokens(),
            lastCheckpoint);
    for (ActorRef<WorkerProtocol.Command> w : registered.keySet()) {
      w.tell(new WorkerProtocol.Finish(summary));
    }
    closeRun();
    ctx.getLog().info(summary);
    listener.stopped(lastCheckpoint, at.step(), at.tokens(), by);
  }

  private void showControl() {
    List<String> pending = new ArrayList<>();
    for (Admin a : pendingActions) {
      pending.add(
          a.action().equals("set")
              ? "set " + a.key() + "=" + a.value()
              : a.action() + " " + a.target());
    }
    if (checkpointAsked) {
      pending.add("checkpoint");
    }
    if (stopAskedBy != null) {
      pending.add("stop");
    }
    if (paused && phase != Phase.PAUSED) {
      pending.add("pause");
    }
    view.control(paused, pending);
  }

  private void setPhase(Phase p) {
    phase = p;
    RunView.Phase shown =
        switch (p) {
          case WAITING -> RunView.Phase.WAITING;
          case FORMING -> RunView.Phase.FORMING;
          case RUNNING -> RunView.Phase.RUNNING;
          case SAVING -> RunView.Phase.SAVING;
          case RECOVERING -> RunView.Phase.RECOVERING;
          case PAUSED -> RunView.Phase.PAUSED;
          case DONE -> RunView.Phase.DONE;
        };
    if (p != Phase.DONE) {
      view.phase(shown, "");
    }
    showControl();
  }

  private void event(String kind, String message, String by) {
    records.event(view.event(kind, message, by));
  }

  private long totalTokens(RunPlan p) {
    return (long) p.tokenBudget();
  }

  // ---- helpers --------------------------------------------------------------------------------

  private Address address(ActorRef<?> ref) {
    Address a = ref.path().address();
    return a.hasLocalScope() ? Cluster.get(ctx.getSystem()).selfMember().address() : a;
  }

  private String describe(List<ActorRef<WorkerProtocol.Command>> ws) {
    List<String> out = new ArrayList<>();
    for (ActorRef<WorkerProtocol.Command> w : ws) {
      out.add(String.valueOf(registered.get(w)));
    }
    return out.toString();
  }

  private void logWorld() {
    List<WorkerProtocol.Description> ws = new ArrayList<>(candidates().values());
    String line = "world: " + ws.size() + " workers " + ws;
    if (!line.equals(lastLogged)) {
      lastLogged = line;
      ctx.getLog().info(line);
    }
  }
}
