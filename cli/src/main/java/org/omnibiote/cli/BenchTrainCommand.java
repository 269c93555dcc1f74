package org.omnibiote.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.bench.ReferenceTools;
import org.omnibiote.bench.TrainBenchmark;
import org.omnibiote.settings.Precision;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench train}: training-step tokens/s against a Python baseline fed the same
 * weights and batches (after a check that both compute the same first-step loss), and MFU.
 */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description = {
      "Training-step throughput in one run, per config and precision: our step (readout at the"
          + " masked positions, global masked-token loss), our step with the original's choices"
          + " (readout at every position, per-micro-batch loss) and a Python baseline written"
          + " from the recipe (/usr/bin/python3, Debian's torch 1.13 with OpenBLAS), all three"
          + " from the same initial weights on the same token ids and masks (written to a"
          + " temporary folder as safetensors and .npy for the baseline); mfu / mfu_original"
          + " against the matmul peak measured in the same run.",
      "Before timing a config, ours and the baseline compute the first step's loss at dropout"
          + " 0; a relative difference above 2e-6 (fp32) or 1e-4 (bf16) ends the run with exit"
          + " code 1. Printed separately: like-for-like = orig-choices/python (the same work) and"
          + " total = ours/python (our step as it runs, doing less work).",
      "Configs (vocab 65,536): A = L2 N128 H4 T256 mini_batch 8 batch 8; B = L4 N256 H8 T512"
          + " mini_batch 4 batch 4; C = L8 N512 H8 T512 mini_batch 4 batch 32; TINY = L1 N32 H2"
          + " T64 mini_batch 2 batch 4 (a check of the command, seconds; no goal).",
      "Goals: total >= 2x python for A and B in each precision; mfu >= 50%% for C in fp32. Exit"
          + " code 0 only when every goal measured is met (3 otherwise; 1 on a loss mismatch)."
          + " Run with nothing else on the machine: other load lowers every number.",
    })
public final class BenchTrainCommand implements Callable<Integer>, NeedsLibtorch {

  @Option(
      names = "--configs",
      split = ",",
      defaultValue = "A,B,C",
      paramLabel = "A,B,C",
      description = "Configs to run (default: ${DEFAULT-VALUE}).")
  List<String> configs;

  @Option(
      names = "--precision",
      split = ",",
      defaultValue = "fp32,bf16",
      paramLabel = "fp32,bf16",
      description = "Precisions to run (default: ${DEFAULT-VALUE}).")
  List<String> precisions;

  @Option(
      names = "--steps",
      defaultValue = "3",
      description =
          "Timed optimiser steps per measurement; the median is reported (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(
      names = "--warmup",
      defaultValue = "1",
      description = "Untimed steps before them (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(
      names = "--baseline-configs",
      split = ",",
      defaultValue = "A,B",
      paramLabel = "A,B",
      description =
          "Configs that also run the Python baseline (default: ${DEFAULT-VALUE}: C's"
              + " baseline takes minutes per step here; 'none' for no baseline).")
  List<String> baselineConfigs;

  @Option(
      names = "--dropout",
      defaultValue = "0.1",
      description = "Dropout on both sides (default: ${DEFAULT-VALUE}, the original's).")
  double dropout;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description =
          "Threads for libtorch and for the Python child (OMP/OPENBLAS_NUM_THREADS);"
              + " 0 = the number of cores (default). 1 on a busy machine gives steadier ratios.")
  int threads;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "Seed of weights and data (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--peak-size",
      defaultValue = "2048",
      description =
          "Side of the square torch.mm whose best rate is the mfu's peak (default:"
              + " ${DEFAULT-VALUE}; smaller is quicker and lower, and below about 1024 too short for"
              + " the CPU-time peak).")
  int peakSize;

  @Override
  public Integer call() throws Exception {
    return exitCode(new TrainBenchmark(options(), System.out, System.err).run());
  }

  /** 0 when every goal measured is met, 3 when one is not, 1 when the loss check failed. */
  static int exitCode(TrainBenchmark.Outcome outcome) {
    return switch (outcome) {
      case GOALS_MET -> 0;
      case GOAL_NOT_MET -> 3;
      case LOSS_MISMATCH -> 1;
    };
  }

  /** The validated options; every problem is a UserError naming the flag. */
  TrainBenchmark.Options options() {
    if (steps < 1) {
      throw new UserError("--steps must be at least 1, got " + steps);
    }
    if (warmup < 0) {
      throw new UserError("--warmup must not be negative, got " + warmup);
    }
    if (dropout < 0 || dropout >= 1) {
      throw new UserError("--dropout must be in [0, 1), got " + dropout);
    }
    if (threads < 0) {
      throw new UserError("--threads must not be negative, got " + threads);
    }
    if (peakSize < 1) {
      throw new UserError("--peak-size must be at least 1, got " + peakSize);
    }
    Map<String, TrainBenchmark.Spec> known = TrainBenchmark.configs(dropout);
    List<TrainBenchmark.Spec> specs = new ArrayList<>();
    for (String name : configs) {
      TrainBenchmark.Spec spec = known.get(name.trim().toUpperCase(Locale.ROOT));
      if (spec == null) {
        throw new UserError(
            "--configs: unknown config '"
                + name
                + "' (known: "
                + String.join(",", known.keySet())
                + ")");
      }
      if (!specs.contains(spec)) {
        specs.add(spec);
      }
    }
    List<Precision> chosen = new ArrayList<>();
    for (String p : precisions) {
      Precision precision = Precision.parse(p.trim());
      if (!chosen.contains(precision)) {
        chosen.add(precision);
      }
    }
    List<String> baseline = new ArrayList<>();
    if (!(baselineConfigs.size() == 1 && baselineConfigs.get(0).equals("none"))) {
      for (String name : baselineConfigs) {
        String n = name.trim().toUpperCase(Locale.ROOT);
        if (!known.containsKey(n)) {
          throw new UserError(
              "--baseline-configs: unknown config '"
                  + name
                  + "' (known: "
                  + String.join(",", known.keySet())
                  + ", or none)");
        }
        baseline.add(n);
      }
    }
    return new TrainBenchmark.Options(
        specs,
        chosen,
        steps,
        warmup,
        baseline,
        seed,
        ReferenceTools.PYTHON,
        threads == 0 ? Runtime.getRuntime().availableProcessors() : threads,
        peakSize);
  }
}
