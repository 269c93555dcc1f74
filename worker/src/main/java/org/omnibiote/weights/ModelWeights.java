package org.omnibiote.weights;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * An OmniBioTA's weights as a .safetensors file under the original state_dict names, with the model
 * config as JSON in the metadata (key {@value #CONFIG_KEY}), so a file alone rebuilds the model.
 */
public final class ModelWeights {
  public static final String CONFIG_KEY = "config";

  private ModelWeights() {}

  public static void save(OmniBioTA model, Path path) throws IOException {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put(CONFIG_KEY, model.config().toJson());
    SafeTensors.write(path, model.stateDict(), metadata);
  }

  /** A new model with the file's config and weights (strict: names and shapes must match). */
  public static OmniBioTA load(Path path) throws IOException {
    SafeTensors.Contents contents = SafeTensors.read(path);
    String json = contents.metadata().get(CONFIG_KEY);
    if (json == null) {
      throw new UserError("safetensors file " + path + ": no model config in its metadata");
    }
    OmniBioTA model = new OmniBioTA(OmniBioTAConfig.fromJson(json));
    try {
      model.loadStateDict(contents.tensors());
    } catch (UserError e) {
      throw new UserError("safetensors file " + path + ": " + e.getMessage());
    }
    return model;
  }
}
