package org.omnibiote.worker;

import com.typesafe.config.Config;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Leave;
import org.omnibiote.cluster.ClusterNode;

/**
 * A worker node: one {@link Worker} per device on an ActorSystem of role {@code worker}. When a
 * worker says the node should stop (the run finished, or the coordinator evicted it), {@code exit}
 * is told and the node leaves the cluster, which terminates its ActorSystem.
 */
public final class WorkerNode {
  private WorkerNode() {}

  /** The worker settings of a node's config ({@code omnibiote.distributed}). */
  public static Worker.Settings settings(Config config) {
    Config d = config.getConfig("omnibiote.distributed");
    return new Worker.Settings(
        d.getInt("prefetch"),
        d.getDuration("prefetch-timeout"),
        d.getInt("store-port"),
        d.getDuration("collective-timeout"),
        d.getInt("gpu-restart-after-failed-generations"));
  }

  public static ActorSystem<Void> start(
      Config config,
      ClusterNode.Settings s,
      List<String> devices,
      String ownSettings,
      Consumer<Worker.NodeExit> exit) {
    AtomicReference<ActorSystem<Void>> self = new AtomicReference<>();
    Consumer<Worker.NodeExit> leave =
        e -> {
          exit.accept(e);
          Cluster cluster = Cluster.get(self.get());
          cluster.manager().tell(Leave.create(cluster.selfMember().address()));
        };
    Worker.Settings ws = settings(config);
    Behavior<Void> root =
        Behaviors.setup(
            ctx -> {
              for (String device : devices) {
                ctx.spawn(
                    Worker.create(device, s.host(), ownSettings, leave, ws),
                    "worker-" + device.replace(':', '-'));
              }
              return Behaviors.empty();
            });
    ActorSystem<Void> system =
        ActorSystem.create(root, s.name(), ClusterNode.systemConfig(config, s, "worker"));
    self.set(system);
    // After self is set: a worker that cannot start leaves through it.
    return ClusterNode.started(system, s);
  }
}
