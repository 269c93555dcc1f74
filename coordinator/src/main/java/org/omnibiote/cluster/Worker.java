package org.omnibiote.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.omnibiote.UserError;
import org.omnibiote.collective.CollectiveGroup;
import org.omnibiote.train.DataParallelReplica;
import org.omnibiote.train.TrainSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One per device on a worker node: registers with the Receptionist and runs what the
 * coordinator orders on its {@link DataParallelReplica}. Every order runs on the worker's one
 * compute thread, in arrival order (libtorch modules are not thread-safe), and the compute
 * thread replies to the coordinator itself: the actor only hands orders over and never waits
 * for compute.
 */
public final class Worker {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The Receptionist key the coordinator watches for. */
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "omnibiote-worker");

  /** What a worker receives. */
  public sealed interface Command
      permits Describe, JoinWorld, RunStep, Save, LeaveWorld, Finish, Evicted {}

  /** Asks for the worker's {@link Description}. */
  public record Describe(ActorRef<Description> replyTo) implements Command, ClusterMessage {}

  /**
   * Who a worker is: its device, host and process id, and the training settings its node was
   * started with ({@code --config}; a JSON object of omnibiote.train keys, "{}" when none), which
   * the coordinator checks against the run's.
   */
  public record Description(String device, String host, long pid, String ownSettings)
      implements ClusterMessage {
    @Override
    public String toString() {
      return device + "@" + host + " pid " + pid;
    }
  }

  /**
   * Join world generation {@code generation} as {@code rank} of {@code size}: rendezvous at the
   * coordinator's store, first loading {@code restore} ("" keep the weights held, "init" fresh
   * weights from the seed, else a checkpoint manifest), then take rank 0's state.
   *
   * @param settings the run's omnibiote.train settings as JSON
   * @param dataFingerprint the coordinator's view of the shards; a worker that reads other
   *     shards refuses to join
   */
  public record JoinWorld(long generation, int rank, int size, String storeHost, int storePort,
      long collectiveTimeoutMs, String settings, String restore, String dataFingerprint,
      ActorRef<Coordinator.Command> replyTo) implements Command, ClusterMessage {}

  /** Train this rank's share of global step {@code step} (see DataParallelReplica#step). */
  public record RunStep(long generation, long step, long firstSample, int microBatches,
      double lrFactor, boolean evaluate, ActorRef<Coordinator.Command> replyTo)
      implements Command, ClusterMessage {}

  /** Rank 0: save checkpoint {@code name} with the run's counters after step {@code step}. */
  public record Save(long generation, long step, String name, long tokens, long samples,
      ActorRef<Coordinator.Command> replyTo) implements Command, ClusterMessage {}

  /** Leave generation {@code generation} (close its c10d group). */
  public record LeaveWorld(long generation) implements Command, ClusterMessage {}

  /** The run is over: the node leaves the cluster and its command exits 0. */
  public record Finish(String summary) implements Command, ClusterMessage {}

  /** The coordinator will not use this worker (a user error, or it hung): the node exits. */
  public record Evicted(String reason, boolean userError) implements Command, ClusterMessage {}

  private final ActorContext<Command> ctx;
  // The compute thread uses these, never ctx (an ActorContext belongs to the actor's thread).
  private final ActorRef<Command> self;
  private final org.apache.pekko.actor.ActorSystem classicSystem;
  private final Description me;
  private final ExecutorService compute;
  private final Consumer<NodeExit> exit;
  private final int prefetch;
  private final double prefetchTimeoutSeconds;
  // Touched only by the compute thread.
  private DataParallelReplica replica;
  private String replicaSettings = "";

  /** Why a worker node stops: the command's exit code and message. */
  public record NodeExit(int code, String message) {}

  private Worker(ActorContext<Command> ctx, Description me, Consumer<NodeExit> exit,
      int prefetch, Duration prefetchTimeout) {
    this.ctx = ctx;
    this.prefetch = prefetch;
    this.prefetchTimeoutSeconds = prefetchTimeout.toMillis() / 1000.0;
    this.self = ctx.getSelf();
    this.classicSystem = Adapter.toClassic(ctx.getSystem());
    this.me = me;
    this.exit = exit;
    this.compute = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "omnibiote-compute-" + me.device());
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * @param ownSettings the omnibiote.train keys this node's --config sets ("{}" when none)
   * @param exit told once when the node should stop (finished, evicted)
   * @param prefetch micro-batches built ahead of compute
   * @param prefetchTimeout how long compute waits for one before the step fails
   */
  public static Behavior<Command> create(String device, String host, String ownSettings,
      Consumer<NodeExit> exit, int prefetch, Duration prefetchTimeout) {
    Description me = new Description(device, host, ProcessHandle.current().pid(), ownSettings);
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
      ctx.getLog().info("worker {} registered", me);
      return new Worker(ctx, me, exit, prefetch, prefetchTimeout).behavior();
    });
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Describe.class, d -> {
          d.replyTo().tell(me);
          return Behaviors.same();
        })
        .onMessage(JoinWorld.class, j -> run(() -> join(j)))
        .onMessage(RunStep.class, r -> run(() -> step(r)))
        .onMessage(Save.class, s -> run(() -> save(s)))
        .onMessage(LeaveWorld.class, l -> run(() -> {
          if (replica != null && replica.generation() == l.generation()) {
            replica.leaveWorld();
            log.info("left world generation {}", l.generation());
          }
        }))
        .onMessage(Finish.class, f -> {
          ctx.getLog().info("the run is finished: {}", f.summary());
          exit.accept(new NodeExit(0, f.summary()));
          return Behaviors.same();
        })
        .onMessage(Evicted.class, e -> {
          ctx.getLog().error("the coordinator evicted this worker: {}", e.reason());
          exit.accept(new NodeExit(e.userError() ? 2 : 1, e.reason()));
          return Behaviors.same();
        })
        .onSignal(PostStop.class, s -> {
          run(this::close);
          compute.shutdown();
          // Free the native side before the JVM exits: libtorch objects freed by a thread that
          // races the JVM's exit corrupt the native heap.
          if (!compute.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS)) {
            log.warn("the compute thread did not finish within 60 s of the worker stopping");
          }
          return Behaviors.same();
        })
        .build();
  }

  private Behavior<Command> run(Runnable task) {
    compute.execute(task);
    return Behaviors.same();
  }

  private void join(JoinWorld j) {
    try {
      if (replica == null || !replicaSettings.equals(j.settings())) {
        close();
        TrainSettings s = TrainSettings.from(ConfigFactory.parseString(j.settings())
            .withValue("devices", ConfigValueFactory.fromAnyRef(me.device()))
            .atPath(TrainSettings.PATH));
        replica = new DataParallelReplica(s, classicSystem, prefetch, prefetchTimeoutSeconds);
        replicaSettings = j.settings();
      }
      if (!replica.dataFingerprint().equals(j.dataFingerprint())) {
        throw new UserError("worker " + me + " reads other shards than the coordinator (data"
            + " fingerprint " + replica.dataFingerprint() + " here, " + j.dataFingerprint()
            + " there): base_dir must be the same files on every node (shared storage)");
      }
      if (j.restore().equals("init")) {
        replica.initialise();
      } else if (!j.restore().isEmpty()) {
        replica.restore(Path.of(j.restore()));
      }
      long start = System.nanoTime();
      replica.joinWorld(new CollectiveGroup.Rendezvous(j.storeHost(), j.storePort(), false,
          me.host(), Duration.ofMillis(j.collectiveTimeoutMs())), j.generation(), j.rank(), j.size());
      log.info("joined world generation {} as rank {} of {} in {} ms", j.generation(), j.rank(),
          j.size(), (System.nanoTime() - start) / 1_000_000);
      j.replyTo().tell(new Coordinator.Joined(j.generation(), j.rank(), self));
    } catch (UserError e) {
      fail(j.replyTo(), j.generation(), -1, "join", e.getMessage(), true);
    } catch (RuntimeException | java.io.IOException e) {
      log.warn("joining world generation {} failed", j.generation(), e);
      fail(j.replyTo(), j.generation(), -1, "join", firstLine(e), false);
    }
  }

  private void step(RunStep r) {
    if (replica == null || replica.generation() != r.generation()) {
      fail(r.replyTo(), r.generation(), r.step(), "step", "not in world generation "
          + r.generation(), false);
      return;
    }
    try {
      DataParallelReplica.StepReport rep = replica.step(r.firstSample(), r.microBatches(), r.lrFactor());
      String val = "";
      if (r.evaluate()) {
        val = JSON.writeValueAsString(replica.evaluate());
      }
      r.replyTo().tell(new Coordinator.StepDone(r.generation(), r.step(), self,
          rep.lossPart(), rep.masked(), rep.nonPad(), rep.stepMasked(), rep.seconds(),
          rep.waitSeconds(), val));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail(r.replyTo(), r.generation(), r.step(), "step", "interrupted", false);
    } catch (Exception e) {
      log.warn("step {} of world generation {} failed: {}", r.step() + 1, r.generation(), firstLine(e));
      replica.abandonWorld(); // after a failed collective the group is unusable
      fail(r.replyTo(), r.generation(), r.step(), "step", firstLine(e), e instanceof UserError);
    }
  }

  private void save(Save s) {
    try {
      Path manifest = replica.save(s.name(), s.step(), s.tokens(), s.samples());
      s.replyTo().tell(new Coordinator.Saved(s.generation(), s.step(), manifest.toString()));
    } catch (Exception e) {
      log.error("saving checkpoint {} failed", s.name(), e);
      fail(s.replyTo(), s.generation(), s.step(), "save", firstLine(e), e instanceof UserError);
    }
  }

  private void fail(ActorRef<Coordinator.Command> to, long generation, long step, String what,
      String error, boolean userError) {
    to.tell(new Coordinator.Failed(generation, step, what, self, error, userError));
  }

  private void close() {
    if (replica != null) {
      replica.close();
      replica = null;
      replicaSettings = "";
    }
  }

  private static String firstLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.lines().findFirst().orElse(m);
  }

  /** The omnibiote.train keys of a node's own settings, as the JSON Description carries. */
  public static String ownSettingsJson(Map<String, String> keys) {
    try {
      return JSON.writeValueAsString(keys);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
