package org.omnibiote.checkpoint;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;

/**
 * A checkpoint's commit record ({@code X.checkpoint.json}), written last: the parts' file names,
 * byte sizes and SHA-256. A checkpoint exists only when its manifest does and the parts match it.
 *
 * @param parts by role ({@code weights}, {@code optimizer}, {@code state}), in that order
 */
public record CheckpointManifest(
    @JsonProperty("format") String format,
    @JsonProperty("version") int version,
    @JsonProperty("name") String name,
    @JsonProperty("step") long step,
    @JsonProperty("tokens") long tokens,
    @JsonProperty("parts") Map<String, Part> parts) {

  public static final String FORMAT = "omnibiote-training-checkpoint";
  public static final int VERSION = 1;

  /** One file of the checkpoint, beside the manifest. */
  public record Part(
      @JsonProperty("file") String file,
      @JsonProperty("bytes") long bytes,
      @JsonProperty("sha256") String sha256) {

    /** Describes a written file. */
    public static Part of(Path file) throws IOException {
      return new Part(
          file.getFileName().toString(), Files.size(file), CheckpointManifest.sha256(file));
    }
  }

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .configure(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES, true)
          .configure(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES, true)
          .enable(SerializationFeature.INDENT_OUTPUT);

  /** Writes the manifest atomically (temp file, fsync, rename, fsync of the folder). */
  public void write(Path path) throws IOException {
    AtomicFiles.write(path, JSON.writeValueAsBytes(this));
  }

  /** Reads and checks the manifest itself (not its parts); a UserError names the problem. */
  public static CheckpointManifest read(Path path) throws IOException {
    CheckpointManifest m;
    try {
      m = JSON.readValue(Files.readAllBytes(path), CheckpointManifest.class);
    } catch (JsonProcessingException e) {
      throw new UserError(
          "checkpoint manifest " + path + " is not valid: " + e.getOriginalMessage());
    }
    if (!FORMAT.equals(m.format()) || m.version() != VERSION) {
      throw new UserError(
          "checkpoint manifest "
              + path
              + ": format "
              + m.format()
              + " version "
              + m.version()
              + ", this program reads "
              + FORMAT
              + " version "
              + VERSION);
    }
    for (String role : Checkpoints.ROLES) {
      Part part = m.parts().get(role);
      if (part == null) {
        throw new UserError("checkpoint manifest " + path + " lists no " + role + " part");
      }
      String f = part.file();
      if (f.isEmpty() || f.startsWith(".") || f.contains("/") || f.contains("\\")) {
        throw new UserError(
            "checkpoint manifest "
                + path
                + ": part file '"
                + part.file()
                + "' is not a plain file name");
      }
    }
    return m;
  }

  /** The part's file beside the manifest at {@code path}. */
  public Path file(Path path, String role) {
    return path.resolveSibling(parts.get(role).file());
  }

  /** Whether every part is present with its recorded size (cheap; no hashing). */
  public boolean partsPresent(Path path) throws IOException {
    for (String role : Checkpoints.ROLES) {
      Path file = file(path, role);
      if (!Files.isRegularFile(file) || Files.size(file) != parts.get(role).bytes()) {
        return false;
      }
    }
    return true;
  }

  /** Every part present, of its recorded size and SHA-256, or a UserError naming the file. */
  public void verify(Path path) throws IOException {
    for (String role : Checkpoints.ROLES) {
      verify(path, role);
    }
  }

  /**
   * Part {@code role} present, of its recorded size and SHA-256, or a UserError naming the file.
   */
  public void verify(Path path, String role) throws IOException {
    {
      Part part = parts.get(role);
      Path file = file(path, role);
      if (!Files.isRegularFile(file)) {
        throw new UserError(
            "checkpoint " + path + ": its " + role + " part " + file + " is missing");
      }
      long size = Files.size(file);
      if (size != part.bytes()) {
        throw new UserError(
            "checkpoint "
                + path
                + ": "
                + file
                + " has "
                + size
                + " bytes, the manifest says "
                + part.bytes()
                + (size < part.bytes() ? " (truncated)" : ""));
      }
      String sha = sha256(file);
      if (!sha.equals(part.sha256())) {
        throw new UserError(
            "checkpoint "
                + path
                + ": "
                + file
                + " has SHA-256 "
                + sha
                + ", the manifest says "
                + part.sha256()
                + " (the file changed or is corrupt)");
      }
    }
  }

  /** The manifest of a checkpoint just written: parts in role order. */
  public static CheckpointManifest of(String name, TrainingState state, Map<String, Path> files)
      throws IOException {
    Map<String, Part> parts = new LinkedHashMap<>();
    for (String role : Checkpoints.ROLES) {
      parts.put(role, Part.of(files.get(role)));
    }
    return new CheckpointManifest(FORMAT, VERSION, name, state.step(), state.tokens(), parts);
  }

  public static String sha256(Path file) throws IOException {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buffer = new byte[1 << 20];
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
      while (in.read(buffer) >= 0) {
        // reading is hashing
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }
}
