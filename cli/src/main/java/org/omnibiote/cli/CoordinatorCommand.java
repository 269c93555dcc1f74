package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.cluster.ClusterNode;
import org.omnibiote.cluster.RunCompletion;
import org.omnibiote.coordinator.RunSpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code omnibiote coordinator}: a cluster node of role coordinator that owns a training run. */
@Command(
    name = "coordinator",
    mixinStandardHelpOptions = true,
    defaultValueProvider = TrainOptions.ReferenceDefaults.class,
    description = {
      "Start a coordinator node: joins the Pekko cluster (the first coordinator is the seed) and,"
          + " while it is the oldest coordinator node, hosts the Coordinator singleton that owns"
          + " the run: it hosts the rendezvous store, forms worlds of the workers that join,"
          + " schedules every step, writes ledger.jsonl and metrics.jsonl to the run folder and"
          + " orders checkpoints. Exits when the run is finished.",
      "The run folder (the folder of --save_name) and --base_dir must be the same files on every"
          + " node (shared storage). A coordinator always continues the run of its run folder from"
          + " the latest checkpoint: restarting it resumes the run.",
      "One run per run folder: while its coordinator runs, the folder's lock RUN/run.lock names"
          + " it (host, pid, start time); another run on the folder is refused with that name, and"
          + " a lock whose owner is gone is taken over (docs/cluster.md).",
      "Nodes find each other through --seed-nodes, or with omnibiote.cluster.discovery ="
          + " kubernetes-api through Pekko Management's Cluster Bootstrap (deploy/k8s).",
      "Training flags are those of `train`."
    },
    footer = {
      "",
      "Example (two terminals or hosts):",
      "  bin/omnibiote coordinator --config conf/local-cluster.conf --base_dir runs/quickstart/shards"
          + " --n_layer 2 --n_embd 128 --n_head 4 --ctx_len 256 --batch_size 16 --mini_batch_size 4"
          + " --token_budget 2e5 --save_name runs/cluster/omnibiota",
      "  bin/omnibiote worker --config conf/local-cluster.conf --port 0"
    })
final class CoordinatorCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;
  @Mixin ClusterOptions cluster = new ClusterOptions();
  @Mixin TrainOptions trainOptions;
  @Mixin ConsoleOptions console = new ConsoleOptions();

  @Option(
      names = "--min-workers",
      paramLabel = "N",
      description =
          "Workers the first world waits for (default omnibiote.distributed.min-workers, 1).")
  Integer minWorkers;

  @Override
  public Integer call() throws Exception {
    ClusterNode.Settings s = cluster.settings();
    Config c = console.apply(TrainOptions.config(spec, cluster.loaded));
    if (minWorkers != null) {
      if (minWorkers < 1) {
        throw new org.omnibiote.UserError("--min-workers " + minWorkers + ": give at least 1");
      }
      c =
          c.withValue(
              "omnibiote.distributed.min-workers", ConfigValueFactory.fromAnyRef(minWorkers));
    }
    c = c.withValue("omnibiote.cluster.host", ConfigValueFactory.fromAnyRef(s.host()));
    // No libtorch here: a coordinator node decides and records, the workers compute.
    RunSpec run = RunSpec.prepare(c, RunSpec.Start.CONTINUE_RUN_FOLDER);
    System.out.printf(
        "model: %s; data: %s%nrun folder: %s%n",
        run.model().toJson(), run.dataDescription(), run.runDir());
    RunCompletion completion = new RunCompletion(System.out, run.runDir());
    ActorSystem<Void> system = ClusterNode.coordinator(c, s, run, completion);
    return completion.await(system, s);
  }
}
