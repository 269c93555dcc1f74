package org.omnibiote.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options every command that runs a trained model shares ({@code encode}, {@code eval}, {@code
 * finetune}): which weights, and where they run. Declared once here so their names, defaults and
 * help read the same in each.
 */
abstract class PretrainedModelCommand {
  @Option(
      names = "--checkpoint",
      required = true,
      paramLabel = "C",
      description =
          "Model weights: a .safetensors file, or a run's checkpoint R/X"
              + " (also R/X.safetensors or R/X.checkpoint.json).")
  Path checkpoint;

  @Option(
      names = "--devices",
      paramLabel = "cpu|cuda:N",
      defaultValue = "cpu",
      description = "Where the model runs (default: ${DEFAULT-VALUE}).")
  String devices;
}
