package org.omnibiote.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.omnibiote.UserError;
import org.omnibiote.collective.CollectiveGroup;
import org.omnibiote.collective.RendezvousStore;
import org.omnibiote.coordinator.Coordinator;
import org.omnibiote.coordinator.WorkerProtocol;
import org.omnibiote.coordinator.WorkerProtocol.Command;
import org.omnibiote.coordinator.WorkerProtocol.Describe;
import org.omnibiote.coordinator.WorkerProtocol.Description;
import org.omnibiote.coordinator.WorkerProtocol.Evicted;
import org.omnibiote.coordinator.WorkerProtocol.Finish;
import org.omnibiote.coordinator.WorkerProtocol.InitFromSeed;
import org.omnibiote.coordinator.WorkerProtocol.JoinWorld;
import org.omnibiote.coordinator.WorkerProtocol.LeaveWorld;
import org.omnibiote.coordinator.WorkerProtocol.LoadCheckpoint;
import org.omnibiote.coordinator.WorkerProtocol.RunStep;
import org.omnibiote.coordinator.WorkerProtocol.Save;
import org.omnibiote.coordinator.WorkerProtocol.Watch;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.train.ResidentMemory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One per device on a worker node: registers with the Receptionist, hosts a rendezvous store (used
 * when it is rank 0 of a world) and runs what the coordinator orders on its {@link
 * DataParallelReplica}. Every order runs on the worker's one compute thread, in arrival order
 * (libtorch modules are not thread-safe), and the compute thread replies to the coordinator itself:
 * the actor only hands orders over and never waits for compute.
 */
public final class Worker {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Why a worker node stops: the command's exit code and message. */
  public record NodeExit(int code, String message) {}

  /**
   * What a worker needs from its node's config. {@code gpuRestartAfterFailedGenerations}: on a CUDA
   * device, the failed world generations after which the worker exits for a fresh process (0:
   * never).
   */
  public record Settings(
      int prefetch,
      Duration prefetchTimeout,
      int storePort,
      Duration storeTimeout,
      int gpuRestartAfterFailedGenerations) {}

  // The workers of this JVM, for SIGTERM (leaveAll).
  private static final java.util.Set<Worker> LIVE =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * SIGTERM: every worker of this JVM asks its coordinator to take it out of the run at the next
   * step boundary (its Evicted then ends the node with exit 0, and the run goes on without it). A
   * worker no coordinator watches yet holds no part of a run: the node exits 0 now.
   */
  public static void leaveAll() {
    boolean asked = false;
    for (Worker w : LIVE) {
      ActorRef<Coordinator.Command> c = w.watcher;
      if (c != null) {
        log.info("asking the coordinator to take {} out at the next step boundary", w.me);
        c.tell(new Coordinator.Leave(w.self));
        asked = true;
      } else {
        w.exit.accept(new NodeExit(0, "SIGTERM before any run"));
      }
    }
    if (!asked && LIVE.isEmpty()) {
      System.exit(0);
    }
  }

  /** The exit code of a worker that asks its launcher for a fresh process (EX_TEMPFAIL). */
  public static final int RESTART_EXIT_CODE = 75;

  private final ActorContext<Command> ctx;
  // The compute thread uses these, never ctx (an ActorContext belongs to the actor's thread).
  private final ActorRef<Command> self;
  private final org.apache.pekko.actor.ActorSystem classicSystem;
  private final Description me;

  @SuppressWarnings("UnusedVariable") // never read: keeps the native TCPStore reachable, listening
  private final RendezvousStore store;

  private final ExecutorService compute;

  // Sends the heartbeat to the coordinator that watches this worker (the last one to ask).
  private final java.util.concurrent.ScheduledExecutorService heartbeat =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "omnibiote-heartbeat");
            t.setDaemon(true);
            return t;
          });
  private volatile ActorRef<Coordinator.Command> watcher;
  private volatile double lastGpuMb;
  private volatile double lastGpuReservedMb;
  private long logCursor;
  private final Consumer<NodeExit> exit;
  private final Settings settings;
  // Touched only by the compute thread.
  private DataParallelReplica replica;
  // The run settings the replica was built for (as the coordinator sent them).
  private TrainSettings replicaSettings;

  private Worker(
      ActorContext<Command> ctx,
      Description me,
      RendezvousStore store,
      Consumer<NodeExit> exit,
      Settings settings) {
    this.ctx = ctx;
    this.self = ctx.getSelf();
    this.classicSystem = Adapter.toClassic(ctx.getSystem());
    this.me = me;
    this.store = store;
    this.exit = exit;
    this.settings = settings;
    this.compute =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "omnibiote-compute-" + me.device());
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * The worker for {@code device}: it hosts its rendezvous store, then registers.
   *
   * @param host the address this node is reached at (its store and Gloo bind there)
   * @param ownSettings the omnibiote.train keys this node's --config sets ("{}" when none)
   * @param exit told once when the node should stop (finished, evicted)
   */
  public static Behavior<Command> create(
      String device, String host, String ownSettings, Consumer<NodeExit> exit, Settings settings) {
    return Behaviors.setup(
        ctx -> {
          RendezvousStore store;
          try {
            store = RendezvousStore.host(host, settings.storePort(), settings.storeTimeout());
          } catch (UserError e) {
            // A busy port: this node cannot serve as anyone's rank 0. Say so and stop, rather than
            // stay up as a node without a worker.
            ctx.getLog().error("worker {} cannot start: {}", device, e.getMessage());
            exit.accept(new NodeExit(2, e.getMessage()));
            return Behaviors.stopped();
          }
          Description me =
              new Description(
                  device,
                  host,
                  ProcessHandle.current().pid(),
                  ownSettings,
                  store.hostName(),
                  store.port());
          ctx.getSystem()
              .receptionist()
              .tell(Receptionist.register(WorkerProtocol.KEY, ctx.getSelf()));
          ctx.getLog()
              .info(
                  "worker {} registered; rendezvous store on {}:{}",
                  me,
                  store.hostName(),
                  store.port());
          Worker w = new Worker(ctx, me, store, exit, settings);
          LIVE.add(w);
          return w.behavior();
        });
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(
            Describe.class,
            d -> {
              d.replyTo().tell(me);
              return Behaviors.same();
            })
        .onMessage(
            Watch.class,
            w -> {
              watchedBy(w.coordinator());
              return Behaviors.same();
            })
        .onMessage(JoinWorld.class, j -> run(() -> join(j)))
        .onMessage(RunStep.class, r -> run(() -> step(r)))
        .onMessage(Save.class, s -> run(() -> save(s)))
        .onMessage(
            LeaveWorld.class,
            l ->
                run(
                    () -> {
                      if (replica != null && replica.generation() == l.generation()) {
                        replica.leaveWorld();
                        log.info("left world generation {}", l.generation());
                      }
                    }))
        .onMessage(
            Finish.class,
            f -> {
              ctx.getLog().info("the run is finished: {}", f.summary());
              exit.accept(new NodeExit(0, f.summary()));
              return Behaviors.same();
            })
        .onMessage(
            Evicted.class,
            e -> {
              ctx.getLog().error("the coordinator evicted this worker: {}", e.reason());
              exit.accept(new NodeExit(e.userError() ? 2 : e.byOperator() ? 0 : 1, e.reason()));
              return Behaviors.same();
            })
        .onSignal(
            PostStop.class,
            s -> {
              LIVE.remove(this);
              heartbeat.shutdownNow();
              run(this::close);
              compute.shutdown();
              // Free the native side before the JVM exits: libtorch objects freed by a thread that
              // races the JVM's exit corrupt the native heap. The store stays: groups that were
              // opened through it are never freed either (see GradientReducer).
              if (!compute.awaitTermination(60, TimeUnit.SECONDS)) {
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
      if (replica == null || !j.settings().equals(replicaSettings)) {
        close();
        replica =
            new DataParallelReplica(
                j.settings().onDevice(me.device()),
                classicSystem,
                settings.prefetch(),
                settings.prefetchTimeout().toMillis() / 1000.0);
        replicaSettings = j.settings();
      }
      if (!replica.dataFingerprint().equals(j.dataFingerprint())) {
        throw new UserError(
            "worker "
                + me
                + " reads other shards than the coordinator (data"
                + " fingerprint "
                + replica.dataFingerprint()
                + " here, "
                + j.dataFingerprint()
                + " there): base_dir must be the same files on every node (shared storage)");
      }
      if (j.restore() instanceof InitFromSeed) {
        replica.initialise();
      } else if (j.restore() instanceof LoadCheckpoint c) {
        replica.restore(Path.of(c.manifest()));
      }
      long start = System.nanoTime();
      replica.joinWorld(
          new CollectiveGroup.Rendezvous(
              j.storeHost(),
              j.storePort(),
              false,
              me.host(),
              Duration.ofMillis(j.collectiveTimeoutMs())),
          j.worldKey(),
          j.generation(),
          j.rank(),
          j.size());
      log.info(
          "joined world generation {} as rank {} of {} in {} ms",
          j.generation(),
          j.rank(),
          j.size(),
          (System.nanoTime() - start) / 1_000_000);
      j.replyTo().tell(new Coordinator.Joined(j.generation(), j.rank(), self, replica.peakFlops()));
    } catch (UserError e) {
      fail(j.replyTo(), j.generation(), -1, Coordinator.Operation.JOIN, e.getMessage(), true);
    } catch (RuntimeException | java.io.IOException e) {
      log.warn("joining world generation {} failed", j.generation(), e);
      fail(j.replyTo(), j.generation(), -1, Coordinator.Operation.JOIN, firstLine(e), false);
      restartIfGpuGenerationsSpent();
    }
  }

  /**
   * Exits for a fresh process once the failed generations on a GPU reach the node's bound (each may
   * leave GPU memory behind that cannot be freed safely: see DataParallelReplica).
   */
  private void restartIfGpuGenerationsSpent() {
    int failed = DataParallelReplica.failedGpuGenerations();
    if (restartDue(failed, settings.gpuRestartAfterFailedGenerations())) {
      String why =
          failed
              + " world generations failed on this worker's GPU"
              + " (gpu-restart-after-failed-generations): exiting for a fresh process";
      log.warn(why);
      exit.accept(new NodeExit(RESTART_EXIT_CODE, why));
    }
  }

  /** Whether {@code failed} failed GPU generations call for a restart under {@code bound}. */
  static boolean restartDue(int failed, int bound) {
    return bound > 0 && failed >= bound;
  }

  /**
   * Every second, memory and the log lines since the last beat to {@code coordinator} (the console
   * shows them; a worker that dies keeps its last words there). A restarted coordinator asks again.
   */
  private void watchedBy(ActorRef<Coordinator.Command> coordinator) {
    boolean first = watcher == null;
    watcher = coordinator;
    if (!first) {
      return;
    }
    LogTail tail = LogTail.get();
    logCursor = Math.max(0, tail.cursor() - 20); // what it said before it was watched, too
    heartbeat.scheduleAtFixedRate(
        () -> {
          try {
            long now = tail.cursor();
            List<String> lines = tail.since(logCursor, 40);
            logCursor = now;
            watcher.tell(
                new Coordinator.Heartbeat(
                    self,
                    ResidentMemory.megabytes(),
                    lastGpuMb,
                    lastGpuReservedMb,
                    String.join("\n", lines)));
          } catch (RuntimeException e) {
            log.debug("heartbeat: {}", e.toString());
          }
        },
        0,
        1,
        TimeUnit.SECONDS);
  }

  private void step(RunStep r) {
    if (replica == null || replica.generation() != r.generation()) {
      fail(
          r.replyTo(),
          r.generation(),
          r.step(),
          Coordinator.Operation.STEP,
          "not in world generation " + r.generation(),
          false);
      return;
    }
    try {
      DataParallelReplica.StepReport rep =
          replica.step(
              r.firstSample(),
              r.microBatches(),
              r.stepMicroBatches(),
              r.lrFactor(),
              r.dataGenerations());
      lastGpuMb = rep.gpu().allocatedMb();
      lastGpuReservedMb = rep.gpu().reservedMb();
      String val = "";
      if (r.evaluate()) {
        val = JSON.writeValueAsString(replica.evaluate());
      }
      r.replyTo()
          .tell(
              new Coordinator.StepDone(
                  r.generation(),
                  r.step(),
                  self,
                  rep.lossPart(),
                  rep.masked(),
                  rep.nonPad(),
                  rep.stepMasked(),
                  rep.seconds(),
                  rep.waitSeconds(),
                  rep.commSeconds(),
                  rep.gradNorm(),
                  ResidentMemory.megabytes(),
                  rep.gpu().allocatedMb(),
                  rep.gpu().reservedMb(),
                  val));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail(r.replyTo(), r.generation(), r.step(), Coordinator.Operation.STEP, "interrupted", false);
    } catch (Exception e) {
      log.warn(
          "step {} of world generation {} failed: {}", r.step() + 1, r.generation(), firstLine(e));
      replica.abandonWorld(); // after a failed collective the group is unusable
      fail(
          r.replyTo(),
          r.generation(),
          r.step(),
          Coordinator.Operation.STEP,
          firstLine(e),
          e instanceof UserError);
      restartIfGpuGenerationsSpent();
    }
  }

  private void save(Save s) {
    try {
      Path manifest = replica.save(s.name(), s.step(), s.tokens(), s.samples());
      s.replyTo().tell(new Coordinator.Saved(s.generation(), s.step(), manifest.toString()));
    } catch (Exception e) {
      log.error("saving checkpoint {} failed", s.name(), e);
      fail(
          s.replyTo(),
          s.generation(),
          s.step(),
          Coordinator.Operation.SAVE,
          firstLine(e),
          e instanceof UserError);
    }
  }

  private void fail(
      ActorRef<Coordinator.Command> to,
      long generation,
      long step,
      Coordinator.Operation what,
      String error,
      boolean userError) {
    to.tell(new Coordinator.Failed(generation, step, what, self, error, userError));
  }

  private void close() {
    if (replica != null) {
      replica.close();
      replica = null;
      replicaSettings = null;
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
