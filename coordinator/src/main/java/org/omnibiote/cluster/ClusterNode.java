package org.omnibiote.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.Signal;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.omnibiote.UserError;
import org.omnibiote.console.ConsoleServer;
import org.omnibiote.console.ConsoleSettings;
import org.omnibiote.console.RunView;
import org.omnibiote.coordinator.Coordinator;
import org.omnibiote.coordinator.RunSpec;
import org.omnibiote.runlock.RunLock;
import org.slf4j.LoggerFactory;

/**
 * Starts a node of the cluster: the ActorSystem from {@code omnibiote.cluster.system} with this
 * node's address, seed nodes and role, and on it the coordinator singleton (a worker node is
 * started by the worker module's WorkerNode, with the same settings).
 */
public final class ClusterNode {

  /** Where this node is and whom it joins; each field already resolved flag > env > config. */
  public record Settings(
      String name, String host, int port, List<String> seedNodes, String discovery) {

    /** How nodes join when no seed nodes are configured: Pekko Management's Cluster Bootstrap. */
    public static final String SEED_NODES = "seed-nodes";

    /** Whether this node finds the others through Cluster Bootstrap rather than seed nodes. */
    public boolean bootstrap() {
      return !discovery.equals(SEED_NODES);
    }

    /** Flags (null when not given) over OMNIBIOTE_HOST/PORT/SEED_NODES over the config. */
    public static Settings resolve(Config config, String host, Integer port, String seeds) {
      Config c = config.getConfig("omnibiote.cluster");
      String discovery = c.getString("discovery").trim();
      Map<String, String> env = System.getenv();
      String h = first(host, env.get("OMNIBIOTE_HOST"), c.getString("host"));
      String p =
          first(
              port == null ? null : port.toString(),
              env.get("OMNIBIOTE_PORT"),
              c.getString("port"));
      String s = first(seeds, env.get("OMNIBIOTE_SEED_NODES"), c.getString("seed-nodes"));
      int portNumber;
      try {
        portNumber = Integer.parseInt(p.trim());
      } catch (NumberFormatException e) {
        throw new UserError(
            "port: '"
                + p
                + "' is not a number (--port, OMNIBIOTE_PORT or"
                + " omnibiote.cluster.port)");
      }
      if (portNumber < 0 || portNumber > 65_535) {
        throw new UserError("port: " + portNumber + " is outside 0-65535");
      }
      String name = c.getString("name");
      if (!discovery.equals(SEED_NODES)) {
        // Cluster Bootstrap finds the contact points; given seed nodes would bypass it.
        if (seeds != null && !seeds.isBlank()) {
          throw new UserError(
              "--seed-nodes with omnibiote.cluster.discovery = "
                  + discovery
                  + ": nodes find each other through Cluster Bootstrap; give one or the other");
        }
        return new Settings(name, h, portNumber, List.of(), discovery);
      }
      List<String> seedUris = new ArrayList<>();
      for (String seed : s.split(",", -1)) {
        String hp = seed.trim();
        if (hp.isEmpty()) {
          continue;
        }
        int colon = hp.lastIndexOf(':');
        if (colon <= 0 || !hp.substring(colon + 1).matches("\\d{1,5}")) {
          throw new UserError(
              "seed node '"
                  + hp
                  + "' is not host:port (--seed-nodes,"
                  + " OMNIBIOTE_SEED_NODES or omnibiote.cluster.seed-nodes)");
        }
        seedUris.add("pekko://" + name + "@" + hp);
      }
      if (seedUris.isEmpty()) {
        throw new UserError("no seed nodes: give --seed-nodes host:port[,host:port...]");
      }
      return new Settings(name, h, portNumber, List.copyOf(seedUris), SEED_NODES);
    }

    private static String first(String... values) {
      for (String v : values) {
        if (v != null && !v.isBlank()) {
          return v;
        }
      }
      return "";
    }
  }

  private ClusterNode() {}

  /** The ActorSystem config of a node with the given role. */
  public static Config systemConfig(Config config, Settings s, String role) {
    Config own = ConfigFactory.empty();
    if (s.bootstrap()) {
      // Pekko Management HTTP on this node's address: Cluster Bootstrap's contact point (the
      // others probe it) and the /alive and /ready probes.
      own =
          own.withValue("pekko.discovery.method", ConfigValueFactory.fromAnyRef(s.discovery()))
              .withValue("pekko.management.http.hostname", ConfigValueFactory.fromAnyRef(s.host()))
              .withValue(
                  "pekko.management.http.port",
                  ConfigValueFactory.fromAnyRef(
                      config.getInt("omnibiote.cluster.management-port")));
    }
    return own.withValue(
            "pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(s.host()))
        .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(s.port()))
        .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(s.seedNodes()))
        .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(List.of(role)))
        // -Dpekko.... (OMNIBIOTE_JAVA_OPTS) over the cluster defaults, like every other key.
        .withFallback(ConfigFactory.systemProperties())
        .withFallback(config.getConfig("omnibiote.cluster.system"))
        .withFallback(config)
        .resolve();
  }

  /**
   * A coordinator node: hosts the {@link Coordinator} singleton of the run {@code spec} while it is
   * the oldest coordinator node.
   */
  public static ActorSystem<Void> coordinator(
      Config config, Settings s, RunSpec spec, Coordinator.RunListener listener) {
    return coordinator(config, s, spec, listener, ctx -> {});
  }

  /**
   * As above, and {@code alsoOnThisNode} spawns more actors beside it (the embedded run's worker: a
   * one-node cluster that runs the same coordinator and worker as a distributed run).
   */
  public static ActorSystem<Void> coordinator(
      Config config,
      Settings s,
      RunSpec spec,
      Coordinator.RunListener listener,
      Consumer<ActorContext<Void>> alsoOnThisNode) {
    ConsoleSettings console = ConsoleSettings.from(config);
    RunView view = RunView.of(spec);
    java.util.function.Function<ActorSystem<?>, SingletonActor<Coordinator.Command>> singleton =
        system ->
            SingletonActor.of(lockedCoordinator(config, spec, listener, view), "coordinator")
                .withSettings(ClusterSingletonSettings.create(system).withRole("coordinator"));
    Behavior<Void> root =
        Behaviors.setup(
            ctx -> {
              ClusterSingleton.get(ctx.getSystem()).init(singleton.apply(ctx.getSystem()));
              alsoOnThisNode.accept(ctx);
              return Behaviors.empty();
            });
    ActorSystem<Void> system =
        started(ActorSystem.create(root, s.name(), systemConfig(config, s, "coordinator")), s);
    try {
      // init again returns the proxy of the singleton the guardian started.
      ActorRef<Coordinator.Command> proxy =
          ClusterSingleton.get(system).init(singleton.apply(system));
      ConsoleServer.start(system, console, view, proxy, spec.runDir(), System.out);
      GracefulStop.onSigterm(
          "coordinator",
          config.getDuration("omnibiote.distributed.stop-timeout"),
          () -> {
            if (otherCoordinatorUp(system)) {
              // A standby coordinator node is up: this one leaves the cluster and the singleton
              // (the run) moves there, as a rolling restart expects; the run goes on.
              LoggerFactory.getLogger(ClusterNode.class)
                  .info("SIGTERM: another coordinator node is up; leaving it the run");
              new Thread(() -> System.exit(0), "omnibiote-leave").start();
            } else {
              proxy.tell(
                  new Coordinator.Admin("stop", null, null, null, "SIGTERM", system.ignoreRef()));
            }
          });
    } catch (RuntimeException e) {
      system.terminate();
      throw e;
    }
    return system;
  }

  /** Whether a coordinator node other than this one is Up in the cluster (a standby). */
  private static boolean otherCoordinatorUp(ActorSystem<?> system) {
    org.apache.pekko.cluster.typed.Cluster cluster =
        org.apache.pekko.cluster.typed.Cluster.get(system);
    for (org.apache.pekko.cluster.Member m : cluster.state().getMembers()) {
      if (m.hasRole("coordinator")
          && m.status() == org.apache.pekko.cluster.MemberStatus.up()
          && !m.address().equals(cluster.selfMember().address())) {
        return true;
      }
    }
    return false;
  }

  /**
   * With Cluster Bootstrap ({@link Settings#bootstrap}): starts Pekko Management's HTTP endpoint
   * and the bootstrap, which finds the other nodes through Pekko Discovery (on Kubernetes, the API
   * server's pod list), probes their management endpoints and joins or forms the cluster. With seed
   * nodes: nothing (the ActorSystem joins them itself).
   */
  public static <T> ActorSystem<T> started(ActorSystem<T> system, Settings s) {
    if (s.bootstrap()) {
      org.apache.pekko.actor.ActorSystem classic = system.classicSystem();
      PekkoManagement.get(classic).start();
      ClusterBootstrap.get(classic).start();
      LoggerFactory.getLogger(ClusterNode.class)
          .info(
              "finding the cluster through Cluster Bootstrap ({} discovery); management on {}:{}",
              s.discovery(),
              s.host(),
              system.settings().config().getInt("pekko.management.http.port"));
    }
    return system;
  }

  /**
   * The coordinator singleton, holding the run folder's {@link RunLock} while it runs: taken when
   * the singleton starts on this node (so a standby coordinator node, whose singleton never
   * started, does not hold it, and takes it at hand-over), released when it stops. A folder locked
   * by another live run fails the run as a user error naming that run's owner. (train takes the
   * lock before it starts anything; the singleton of its own JVM finds it held.)
   */
  private static Behavior<Coordinator.Command> lockedCoordinator(
      Config config, RunSpec spec, Coordinator.RunListener listener, RunView view) {
    return Behaviors.setup(
        ctx -> {
          RunLock lock;
          try {
            // May block up to omnibiote.run-lock.stale-after when another host's lock is
            // watched; nothing else runs on this node before the coordinator anyway.
            lock = RunLock.acquire(spec.runDir(), "coordinator", RunLock.Timing.from(config));
          } catch (UserError e) {
            listener.failed(e.getMessage(), true);
            return Behaviors.stopped();
          }
          return Behaviors.intercept(
              () ->
                  new BehaviorInterceptor<Coordinator.Command, Coordinator.Command>(
                      Coordinator.Command.class) {
                    @Override
                    public Behavior<Coordinator.Command> aroundReceive(
                        TypedActorContext<Coordinator.Command> c,
                        Coordinator.Command msg,
                        ReceiveTarget<Coordinator.Command> target) {
                      return target.apply(c, msg);
                    }

                    @Override
                    public Behavior<Coordinator.Command> aroundSignal(
                        TypedActorContext<Coordinator.Command> c,
                        Signal signal,
                        SignalTarget<Coordinator.Command> target) {
                      if (signal instanceof PostStop) {
                        lock.close();
                      }
                      return target.apply(c, signal);
                    }
                  },
              Coordinator.create(spec, listener, view));
        });
  }

  /**
   * Blocks until the node's ActorSystem terminates and says why: 0 after SIGTERM or a graceful
   * leave, a {@link UserError} when it never joined (wrong seed nodes), 1 when the cluster downed
   * it (it was unreachable; a launcher may restart it).
   */
  public static int awaitTermination(ActorSystem<Void> system, Settings s) {
    system.getWhenTerminated().toCompletableFuture().join();
    var reason = CoordinatedShutdown.get(system).getShutdownReason();
    if (reason.isEmpty()
        || reason.get() == CoordinatedShutdown.jvmExitReason()
        || reason.get() == CoordinatedShutdown.clusterLeavingReason()
        || reason.get() == CoordinatedShutdown.actorSystemTerminateReason()) {
      return 0;
    }
    if (reason.get() == CoordinatedShutdown.clusterJoinUnsuccessfulReason()) {
      throw new UserError(
          "could not join the cluster through seed nodes "
              + s.seedNodes()
              + " within "
              + system
                  .settings()
                  .config()
                  .getDuration("pekko.cluster.shutdown-after-unsuccessful-join-seed-nodes")
                  .toSeconds()
              + " s: is a coordinator running there (--seed-nodes, OMNIBIOTE_SEED_NODES)?");
    }
    if (reason.get() == CoordinatedShutdown.incompatibleConfigurationDetectedReason()) {
      throw new UserError(
          "the cluster refused this node: its configuration is incompatible"
              + " with the seed nodes' (see the log above)");
    }
    LoggerFactory.getLogger(ClusterNode.class)
        .error("this node was removed from the cluster ({}); exiting", reason.get());
    return 1;
  }

  /** Parses {@code cpu} or {@code cuda:0,cuda:1,...}; anything else is a user error. */
  @SuppressWarnings("StringSplitter") // as before, a trailing comma in --devices is ignored
  public static List<String> devices(String spec) {
    List<String> out = new ArrayList<>();
    for (String d : spec.split(",")) {
      String device = d.trim();
      if (!device.equals("cpu") && !device.matches("cuda:\\d+")) {
        throw new UserError("--devices: '" + device + "' is not cpu or cuda:N");
      }
      if (out.contains(device)) {
        throw new UserError("--devices: " + device + " is listed twice");
      }
      out.add(device);
    }
    if (out.isEmpty()) {
      throw new UserError("--devices: no device given");
    }
    return out;
  }
}
