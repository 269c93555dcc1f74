package org.omnibiote.weights;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * An OmniBioTA's weights as a .safetensors file under the original state_dict names, with the model
 * config as JSON in the metadata (key {@value #CONFIG_KEY}), so a file alone rebuilds the model.
 */
public final class ModelWeights {
  public static final String CONFIG_KEY = "config";

  /**
   * Metadata key of a fine-tuned model's file (finetune writes it): the head's settings as JSON.
   * Its {@code head.*} tensors are not the encoder's, so {@link #load} leaves them out.
   */
  public static final String FINETUNE_KEY = "finetune";

  private static final String HEAD_PREFIX = "head.";

  private ModelWeights() {}

  public static void save(OmniBioTA model, Path path) throws IOException {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put(CONFIG_KEY, model.config().toJson());
    SafeTensors.write(path, model.stateDict(), metadata);
  }

  /**
   * A new model with the file's config and weights (strict: names and shapes must match; a
   * fine-tuned model's file gives its encoder).
   */
  public static OmniBioTA load(Path path) throws IOException {
    SafeTensors.Contents contents = SafeTensors.read(path);
    String json = contents.metadata().get(CONFIG_KEY);
    if (json == null) {
      throw new UserError("safetensors file " + path + ": no model config in its metadata");
    }
    OmniBioTA model = new OmniBioTA(OmniBioTAConfig.fromJson(json));
    Map<String, Tensor> tensors = new LinkedHashMap<>(contents.tensors());
    if (contents.metadata().containsKey(FINETUNE_KEY)) {
      tensors.keySet().removeIf(name -> name.startsWith(HEAD_PREFIX));
    }
    try {
      model.loadStateDict(tensors);
    } catch (UserError e) {
      throw new UserError("safetensors file " + path + ": " + e.getMessage());
    }
    return model;
  }
}
