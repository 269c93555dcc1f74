package org.omnibiote.shards;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Optional;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;

/** Reads and atomically writes an output folder's manifest.json. */
public final class ManifestStore {
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final ShardLayout layout;

  public ManifestStore(ShardLayout layout) {
    this.layout = layout;
  }

  public Optional<Manifest> read() {
    if (!Files.exists(layout.manifest())) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readValue(layout.manifest().toFile(), Manifest.class));
    } catch (IOException e) {
      throw new UserError(
          layout.manifest()
              + " is not a readable ingest manifest ("
              + e.getMessage()
              + "); remove the folder or choose another --output");
    }
  }

  public void write(Manifest manifest) throws IOException {
    AtomicFiles.write(layout.manifest(), toJson(manifest), layout.work());
  }

  public static byte[] toJson(Manifest manifest) {
    try {
      return JSON.writeValueAsBytes(manifest);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("manifest not serialisable", e);
    }
  }

  public static Manifest fromJson(byte[] json) throws IOException {
    return JSON.readValue(json, Manifest.class);
  }
}
