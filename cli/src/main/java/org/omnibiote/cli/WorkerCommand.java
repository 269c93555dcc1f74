package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.cluster.ClusterNode;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.worker.Worker;
import org.omnibiote.worker.WorkerNode;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code omnibiote worker}: a cluster node of role worker, one worker actor per device. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    description = {
      "Start a worker node: joins the Pekko cluster and registers one worker per device with"
          + " the Receptionist; the coordinator sends it the run's settings and steps. Exits 0"
          + " when the run is finished.",
      "If the coordinator is lost (this node is then downed), the node joins again through the"
          + " seed nodes for up to --rejoin-for, so a restarted coordinator finds its workers.",
      "Training settings in --config (omnibiote.train) are checked against the run's: a worker"
          + " whose settings differ is refused with what differs."
    },
    footer = {
      "",
      "Example:",
      "  bin/omnibiote worker --seed-nodes 10.0.0.1:2551 --host 10.0.0.2 --port 2552 --devices cpu"
    })
final class WorkerCommand implements Callable<Integer>, NeedsLibtorch {

  @Mixin ClusterOptions cluster = new ClusterOptions();

  @Option(
      names = "--devices",
      paramLabel = "cpu|cuda:N[,cuda:M...]",
      description =
          "Devices, one worker each (env OMNIBIOTE_DEVICES;"
              + " default omnibiote.cluster.devices, cpu).")
  String devices;

  @Option(
      names = "--store-port",
      paramLabel = "PORT",
      description =
          "Port of the rendezvous store each worker of this node hosts (used when it is"
              + " rank 0 of a world), 0 for any free one (env OMNIBIOTE_STORE_PORT; default"
              + " omnibiote.distributed.store-port, 0). With several devices, give 0.")
  Integer storePort;

  @Option(
      names = "--rejoin-for",
      paramLabel = "DURATION",
      description =
          "After losing the cluster (coordinator gone), keep joining again this long,"
              + " e.g. 10m or 0s (default omnibiote.cluster.rejoin-for, 10m).")
  String rejoinFor;

  @Override
  public Integer call() throws Exception {
    ClusterNode.Settings s = cluster.settings();
    String spec =
        devices != null
            ? devices
            : System.getenv("OMNIBIOTE_DEVICES") != null
                ? System.getenv("OMNIBIOTE_DEVICES")
                : cluster.loaded.getString("omnibiote.cluster.devices");
    List<String> ds = ClusterNode.devices(spec);
    Duration rejoin =
        rejoinFor != null
            ? parseDuration(rejoinFor)
            : cluster.loaded.getDuration("omnibiote.cluster.rejoin-for");
    String own = Worker.ownSettingsJson(ownTrainSettings());
    Config node = cluster.loaded;
    if (storePort != null) {
      if (storePort < 0 || storePort > 65_535) {
        throw new UserError("--store-port " + storePort + " is outside 0-65535");
      }
      node =
          node.withValue(
              "omnibiote.distributed.store-port", ConfigValueFactory.fromAnyRef(storePort));
    }
    if (ds.size() > 1 && node.getInt("omnibiote.distributed.store-port") != 0) {
      throw new UserError(
          "--store-port "
              + node.getInt("omnibiote.distributed.store-port")
              + " with "
              + ds.size()
              + " devices: each worker hosts a store, give 0 (any free port)");
    }
    // SIGTERM: leave the world at the next step boundary, exit 0; the run goes on without it.
    org.omnibiote.cluster.GracefulStop.onSigterm(
        "worker", node.getDuration("omnibiote.distributed.stop-timeout"), Worker::leaveAll);
    long lostAt = -1;
    while (true) {
      AtomicReference<Worker.NodeExit> exit = new AtomicReference<>();
      ActorSystem<Void> system = WorkerNode.start(node, s, ds, own, exit::set);
      int code;
      try {
        code = ClusterNode.awaitTermination(system, s);
      } catch (UserError e) {
        // Could not join: fatal the first time, expected while a lost coordinator restarts.
        if (lostAt < 0 || System.nanoTime() - lostAt > rejoin.toNanos()) {
          throw e;
        }
        continue;
      }
      Worker.NodeExit e = exit.get();
      if (e != null) {
        if (e.code() == 2) {
          throw new UserError(e.message());
        }
        return e.code();
      }
      if (code == 0 || rejoin.isZero()) {
        return code;
      }
      if (lostAt < 0 || System.nanoTime() - lostAt > rejoin.toNanos()) {
        lostAt = System.nanoTime();
      }
      LoggerFactory.getLogger(WorkerCommand.class)
          .warn(
              "lost the cluster; joining again through {} (for up to {} s)",
              s.seedNodes(),
              rejoin.toSeconds());
    }
  }

  /** The omnibiote.train keys the --config profile sets, which the coordinator checks. */
  private Map<String, String> ownTrainSettings() {
    Map<String, String> own = new TreeMap<>();
    if (cluster.config.profile == null) {
      return own;
    }
    Config file = ConfigFactory.parseFile(cluster.config.profile.toFile()).resolve();
    if (file.hasPath(TrainSettings.PATH)) {
      for (Map.Entry<String, ConfigValue> e : file.getConfig(TrainSettings.PATH).entrySet()) {
        own.put(e.getKey(), String.valueOf(e.getValue().unwrapped()));
      }
    }
    return own;
  }

  private static Duration parseDuration(String text) {
    try {
      return ConfigFactory.parseString("d = " + text).getDuration("d");
    } catch (RuntimeException e) {
      throw new UserError("--rejoin-for '" + text + "' is not a duration (e.g. 10m, 30s, 0s)");
    }
  }
}
