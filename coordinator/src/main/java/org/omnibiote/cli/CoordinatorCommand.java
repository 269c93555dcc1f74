package org.omnibiote.cli;

import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.cluster.ClusterNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code omnibiote coordinator}: a cluster node of role coordinator (runs until stopped). */
@Command(name = "coordinator", mixinStandardHelpOptions = true,
    description = "Start a coordinator node: joins the Pekko cluster and hosts the Coordinator"
        + " singleton, which logs the world of workers it sees. Runs until killed (SIGTERM"
        + " leaves the cluster gracefully).")
final class CoordinatorCommand implements Callable<Integer> {

  @Mixin ClusterOptions cluster = new ClusterOptions();

  @Override
  public Integer call() {
    ClusterNode.Settings s = cluster.settings();
    ActorSystem<Void> system = ClusterNode.coordinator(cluster.loaded, s);
    return ClusterNode.awaitTermination(system, s);
  }
}
