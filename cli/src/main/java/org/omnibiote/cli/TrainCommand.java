package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.omnibiote.runlock.RunLock;
import org.omnibiote.settings.TrainSettings;
import org.omnibiote.worker.EmbeddedRun;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote train}: the original train_encoder.py's flags (same snake_case names and
 * defaults), a HOCON run profile under them, and the embedded default: the whole run in this JVM
 * with one local worker.
 */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    defaultValueProvider = TrainOptions.ReferenceDefaults.class,
    description = {
      "Train OmniBioTA on an ingest output folder (--base_dir) in this JVM: masked-LM, µP AdamW,"
          + " lr * sqrt(batch_size)/32 decayed linearly to 0 over token_budget / (batch_size *"
          + " ctx_len) steps, gradient accumulation over mini_batch_size rows.",
      "Writes checkpoints ({save_name}_{tokens} every save_freq tokens and the final"
          + " {save_name}: .safetensors weights with the original parameter names plus the"
          + " training state) and metrics.jsonl to the folder of --save_name.",
      "Settings come from the defaults (shown), then --config FILE (keys under"
          + " omnibiote.train), then the flags given.",
      "One run per run folder: the run locks it (RUN/run.lock: host, pid, start time) before"
          + " writing anything; a second run on it is refused naming the first, and the lock of a"
          + " run that is gone (killed) is taken over."
    },
    footer = {
      "",
      "Example (on the shards quickstart made):",
      "  bin/omnibiote train --base_dir runs/quickstart/shards --n_layer 2 --n_embd 128"
          + " --n_head 4 --ctx_len 256 --batch_size 8 --mini_batch_size 8 --token_budget 2e6"
          + " --test_freq 2e5 --save_freq 1e6"
    })
public final class TrainCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOption configOption;
  @Mixin ConsoleOptions console = new ConsoleOptions();
  @Mixin TrainOptions trainOptions;

  @Option(
      names = "--workers",
      paramLabel = "N",
      description =
          "Train with N local worker JVMs on this host (a real multi-process run: a"
              + " coordinator in this JVM, Gloo all-reduce between the workers; a worker that dies is"
              + " restarted and the run goes on). 0: the whole run in this JVM (default: 0).")
  int workers;

  @Override
  public Integer call() throws Exception {
    if (workers < 0) {
      throw new org.omnibiote.UserError(
          "--workers " + workers + ": give 0 (this JVM) or a positive number");
    }
    Config c = config();
    // The default save_name holds the date and time: fix it once, so that the folder locked is
    // the folder the run writes.
    Path saveName = TrainSettings.from(c).saveName().toAbsolutePath().normalize();
    c =
        c.withValue(
            TrainSettings.PATH + ".save_name", ConfigValueFactory.fromAnyRef(saveName.toString()));
    // One run per run folder, taken before anything is written (or libtorch loaded).
    try (RunLock lock =
        RunLock.acquire(
            saveName.getParent(),
            workers > 0 ? "train --workers " + workers : "train",
            RunLock.Timing.from(c))) {
      if (workers > 0) {
        return new org.omnibiote.launch.LocalCluster(c, workers, System.out, System.err).run();
      }
      // The same coordinator and worker actors as --workers N, in this JVM (a one-node cluster).
      EmbeddedRun.run(c, System.out);
      return 0;
    }
  }

  /** The settings of this command line (for tests of the flags). */
  TrainSettings settings() {
    return TrainSettings.from(config());
  }

  /** Reference defaults, under the profile of --config, under the flags given. */
  Config config() {
    return console.apply(TrainOptions.config(spec, configOption.load()));
  }
}
