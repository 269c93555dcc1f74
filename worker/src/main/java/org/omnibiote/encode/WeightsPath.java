package org.omnibiote.encode;

import java.nio.file.Files;
import java.nio.file.Path;
import org.omnibiote.UserError;

/**
 * The weights file a --checkpoint names: a weights {@code .safetensors} itself, or a training
 * checkpoint of a run folder given as its prefix {@code R/X}, its weights {@code R/X.safetensors}
 * or its manifest {@code R/X.checkpoint.json}; the weights of checkpoint {@code R/X} are always
 * {@code R/X.safetensors} (the optimiser state, {@code R/X.optimizer.safetensors}, is not a model).
 */
public final class WeightsPath {
  private static final String WEIGHTS = ".safetensors";
  private static final String OPTIMIZER = ".optimizer.safetensors";
  private static final String MANIFEST = ".checkpoint.json";
  private static final String STATE = ".state.json";

  private WeightsPath() {}

  public static Path of(Path checkpoint) {
    String name = checkpoint.getFileName() == null ? "" : checkpoint.getFileName().toString();
    Path weights;
    if (name.endsWith(OPTIMIZER)) {
      throw new UserError(
          "--checkpoint "
              + checkpoint
              + " is optimiser state; give the checkpoint"
              + " prefix or its "
              + withSuffix(checkpoint, name, OPTIMIZER)
              + " weights");
    } else if (name.endsWith(WEIGHTS)) {
      weights = checkpoint;
    } else if (name.endsWith(MANIFEST)) {
      weights = withSuffix(checkpoint, name, MANIFEST);
    } else if (name.endsWith(STATE)) {
      weights = withSuffix(checkpoint, name, STATE);
    } else {
      weights = checkpoint.resolveSibling(name + WEIGHTS);
    }
    if (!Files.isRegularFile(weights)) {
      throw new UserError(
          "--checkpoint "
              + checkpoint
              + ": no weights file "
              + weights
              + (weights.equals(checkpoint) ? "" : " (the checkpoint's .safetensors)"));
    }
    return weights;
  }

  private static Path withSuffix(Path checkpoint, String name, String suffix) {
    return checkpoint.resolveSibling(name.substring(0, name.length() - suffix.length()) + WEIGHTS);
  }
}
