package org.omnibiote.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.cluster.ClusterNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code omnibiote worker}: a cluster node of role worker, one worker actor per device. */
@Command(name = "worker", mixinStandardHelpOptions = true,
    description = "Start a worker node: joins the Pekko cluster and registers one worker per"
        + " device with the Receptionist. Runs until killed.")
final class WorkerCommand implements Callable<Integer> {

  @Mixin ClusterOptions cluster = new ClusterOptions();

  @Option(names = "--devices", paramLabel = "cpu|cuda:N[,cuda:M...]",
      description = "Devices, one worker each (env OMNIBIOTE_DEVICES;"
          + " default omnibiote.cluster.devices, cpu).")
  String devices;

  @Override
  public Integer call() {
    ClusterNode.Settings s = cluster.settings();
    String spec = devices != null ? devices
        : System.getenv("OMNIBIOTE_DEVICES") != null ? System.getenv("OMNIBIOTE_DEVICES")
        : cluster.loaded.getString("omnibiote.cluster.devices");
    List<String> ds = ClusterNode.devices(spec);
    ActorSystem<Void> system = ClusterNode.worker(cluster.loaded, s, ds);
    return ClusterNode.awaitTermination(system, s);
  }
}
