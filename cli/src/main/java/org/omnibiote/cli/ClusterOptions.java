package org.omnibiote.cli;

import com.typesafe.config.Config;
import org.omnibiote.cluster.ClusterNode;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Where a cluster node listens and whom it joins (flags over OMNIBIOTE_* over config). */
final class ClusterOptions {

  @Mixin ConfigOption config = new ConfigOption();

  @Option(
      names = "--host",
      paramLabel = "HOST",
      description =
          "Address this node binds and advertises (env OMNIBIOTE_HOST;"
              + " default omnibiote.cluster.host, 127.0.0.1).")
  String host;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      description =
          "Artery TCP port, 0 for any free one (env OMNIBIOTE_PORT;"
              + " default omnibiote.cluster.port, 2551).")
  Integer port;

  @Option(
      names = "--seed-nodes",
      paramLabel = "HOST:PORT[,...]",
      description =
          "Seed nodes to join, normally the coordinator(s) (env OMNIBIOTE_SEED_NODES;"
              + " default omnibiote.cluster.seed-nodes, 127.0.0.1:2551). Not with"
              + " omnibiote.cluster.discovery = kubernetes-api (Cluster Bootstrap finds the"
              + " nodes; docs/cluster.md).")
  String seedNodes;

  Config loaded;

  ClusterNode.Settings settings() {
    loaded = config.load();
    return ClusterNode.Settings.resolve(loaded, host, port, seedNodes);
  }
}
