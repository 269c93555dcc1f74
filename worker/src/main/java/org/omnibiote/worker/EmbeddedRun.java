package org.omnibiote.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Locale;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.cluster.ClusterNode;
import org.omnibiote.cluster.RunCompletion;
import org.omnibiote.coordinator.RunSpec;
import org.omnibiote.metrics.Flops;
import org.omnibiote.model.TorchNatives;
import org.omnibiote.schedule.RunPlan;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.train.Devices;

/**
 * {@code train} without {@code --workers}: the whole run in this JVM as a one-node cluster on
 * 127.0.0.1, the same {@code Coordinator} and {@link Worker} actors that a distributed run spreads
 * over processes, so there is one run path. The worker is a world of one rank and opens no c10d
 * group.
 */
public final class EmbeddedRun {
  private EmbeddedRun() {}

  /**
   * Runs the training of {@code config} (omnibiote.train, omnibiote.distributed, omnibiote.cluster)
   * to its end and returns where it left things. A refused setting, checkpoint or worker is a
   * {@link UserError}; a run that fails otherwise an {@link IllegalStateException}.
   */
  public static RunCompletion.Result run(Config config, PrintStream out)
      throws IOException, InterruptedException {
    TorchNatives.load(); // before any libtorch class: see TorchNatives
    String device = config.getString(TrainSettings.PATH + ".devices").trim();
    if (device.contains(",")) {
      throw new UserError(
          "--devices "
              + device
              + ": one device in one process; several"
              + " devices are several workers (train --workers N, or the worker command)");
    }
    Devices.parse(device); // a device this host lacks is refused before anything starts
    String host = "127.0.0.1";
    int port = freePort(host);
    Config c =
        config
            .withValue("omnibiote.cluster.host", ConfigValueFactory.fromAnyRef(host))
            // A one-node cluster: its own seed, whatever a profile says about discovery.
            .withValue("omnibiote.cluster.discovery", ConfigValueFactory.fromAnyRef("seed-nodes"))
            .withValue("omnibiote.distributed.min-workers", ConfigValueFactory.fromAnyRef(1))
            // One worker, in this JVM: no other to wait for.
            .withValue("omnibiote.distributed.settle", ConfigValueFactory.fromAnyRef("100ms"))
            .withValue("omnibiote.distributed.store-port", ConfigValueFactory.fromAnyRef(0));
    RunSpec spec = RunSpec.prepare(c, RunSpec.Start.NEW_OR_RESUMED);
    describe(spec, out);
    ClusterNode.Settings s = ClusterNode.Settings.resolve(c, host, port, host + ":" + port);
    RunCompletion completion = new RunCompletion(out, spec.runDir());
    Worker.Settings ws = WorkerNode.settings(c);
    ActorSystem<Void> system =
        ClusterNode.coordinator(
            c,
            s,
            spec,
            completion,
            ctx ->
                ctx.spawn(
                    Worker.create(
                        device,
                        host,
                        "{}",
                        exit -> {
                          if (exit.code() != 0) {
                            completion.failed(exit.message(), exit.code() == 2);
                          }
                        },
                        ws),
                    "worker-" + device.replace(':', '-')));
    int code = completion.await(system, s);
    if (code != 0) {
      throw new IllegalStateException("the run failed (see the log above)");
    }
    return completion.result();
  }

  /** What the run is: the model, the data, the plan, the run folder, where it resumes. */
  private static void describe(RunSpec spec, PrintStream out) {
    TrainSettings s = spec.settings();
    OmniBioTAConfig m = spec.model();
    RunPlan plan = spec.plan();
    long params = (long) Flops.parametersWithoutWte(m) + (long) m.vocabSize() * m.nEmbd();
    int rows = s.batchSize();
    out.printf(
        Locale.ROOT, "model: %s, %,d parameters (%s)%n", m.toJson(), params, s.precision().flag());
    out.printf(Locale.ROOT, "data: %s%n", spec.dataDescription());
    out.printf(
        Locale.ROOT,
        "plan: %,d steps of %d rows x %d tokens = %,d tokens per step (%d micro-batches of %d)%s;"
            + " peak lr %.4g, linear decay to 0%n",
        plan.totalSteps(),
        rows,
        s.ctxLen(),
        plan.tokens(rows),
        rows / s.miniBatchSize(),
        s.miniBatchSize(),
        s.batchRamp()
            ? ", ramped up over the first " + Math.round(s.warmupPeriod() * 100) + "%"
            : "",
        plan.peakLr());
    out.printf(
        Locale.ROOT,
        "run folder: %s (val every %.3g tokens, checkpoint every %.3g tokens)%n",
        spec.runDir(),
        s.testFreq(),
        s.saveFreq());
    RunSpec.ResumePoint at = spec.resumePoint();
    if (at.manifest() != null) {
      out.printf(
          Locale.ROOT,
          "resuming from %s: step %,d, %,d tokens, %,d samples%n",
          at.manifest(),
          at.counters().step(),
          at.counters().tokens(),
          at.counters().samples());
    }
  }

  private static int freePort(String host) throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(host))) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UserError("no free port on " + host + " for the embedded run: " + e.getMessage());
    }
  }
}
