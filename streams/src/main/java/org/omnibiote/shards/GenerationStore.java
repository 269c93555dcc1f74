package org.omnibiote.shards;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.io.Folders;

/**
 * The data generations of an ingest folder: {@code DIR/generations/NNNNNN.json} (committed, each
 * written atomically: temp, fsync, rename, fsync of the folder) and {@code DIR/generations/NNNNNN/}
 * (its shards and records file, written before it). A generation folder without its JSON is an
 * unfinished one (a killed follower): invisible to readers, deleted by the next follower.
 */
public final class GenerationStore {
  private static final Pattern COMMITTED = Pattern.compile("(\\d{6})\\.json");
  private static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final ShardLayout layout;

  public GenerationStore(ShardLayout layout) {
    this.layout = layout;
  }

  public Path folder() {
    return layout.root().resolve("generations");
  }

  /** Where generation {@code g}'s shards and records go (relative paths start with it). */
  public Path dataFolder(long g) {
    return folder().resolve(name(g));
  }

  public Path file(long g) {
    return folder().resolve(name(g) + ".json");
  }

  static String name(long g) {
    return String.format(Locale.ROOT, "%06d", g);
  }

  /** The newest committed generation's number, 0 when none (a directory listing, no parsing). */
  public long latest() {
    if (!Files.isDirectory(folder())) {
      return 0;
    }
    try (Stream<Path> list = Files.list(folder())) {
      return list.map(p -> COMMITTED.matcher(p.getFileName().toString()))
          .filter(java.util.regex.Matcher::matches)
          .mapToLong(m -> Long.parseLong(m.group(1)))
          .max()
          .orElse(0);
    } catch (IOException e) {
      throw new UserError("cannot list " + folder() + ": " + e.getMessage(), e);
    }
  }

  /** The committed generations, in order (generation 0, the ingest, is not among them). */
  public List<Generation> committed() {
    List<Generation> out = new ArrayList<>();
    if (!Files.isDirectory(folder())) {
      return out;
    }
    List<Path> files;
    try (Stream<Path> list = Files.list(folder())) {
      files =
          list.filter(p -> COMMITTED.matcher(p.getFileName().toString()).matches())
              .sorted()
              .toList();
    } catch (IOException e) {
      throw new UserError("cannot list " + folder() + ": " + e.getMessage(), e);
    }
    for (Path f : files) {
      out.add(read(f));
    }
    return out;
  }

  /** The number the next generation gets: one more than the last committed (from 1). */
  public long next() {
    List<Generation> c = committed();
    return c.isEmpty() ? 1 : c.get(c.size() - 1).generation() + 1;
  }

  /** Commits {@code g}: its JSON appears, atomically, after everything it names is on disk. */
  public void commit(Generation g) throws IOException {
    Files.createDirectories(folder());
    AtomicFiles.write(file(g.generation()), JSON.writeValueAsBytes(g), layout.work());
  }

  /**
   * Deletes generation folders without a committed JSON (left by a follower killed while it wrote
   * them); returns how many.
   */
  public int removeUnfinished() throws IOException {
    if (!Files.isDirectory(folder())) {
      return 0;
    }
    int n = 0;
    try (Stream<Path> list = Files.list(folder())) {
      for (Path p : list.toList()) {
        String name = p.getFileName().toString();
        if (Files.isDirectory(p)
            && name.matches("\\d{6}")
            && !Files.exists(folder().resolve(name + ".json"))) {
          Folders.deleteTree(p);
          n++;
        }
      }
    }
    return n;
  }

  private static Generation read(Path f) {
    try {
      Generation g = JSON.readValue(f.toFile(), Generation.class);
      Matcher m = COMMITTED.matcher(f.getFileName().toString());
      if (!m.matches() || Long.parseLong(m.group(1)) != g.generation()) {
        throw new UserError(
            f + " holds generation " + g.generation() + ", not the one its name says");
      }
      return g;
    } catch (IOException e) {
      throw new UserError(f + " is not a readable data generation (" + e.getMessage() + ")", e);
    }
  }
}
