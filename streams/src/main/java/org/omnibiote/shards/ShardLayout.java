package org.omnibiote.shards;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where things live under an ingest output folder. The shard folders are exactly what the original
 * trainer loads ({@code genbank/{train,val}}, {@code uniref100/{train,val}}) and hold nothing but
 * finished shards; everything in progress lives under {@code .work/}.
 */
public final class ShardLayout {
  public static final String MANIFEST = "manifest.json";

  private final Path root;

  public ShardLayout(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  public Path root() {
    return root;
  }

  public Path manifest() {
    return root.resolve(MANIFEST);
  }

  /** Private working space: temporary shards and manifests before their rename. */
  public Path work() {
    return root.resolve(".work");
  }

  public Path tempShards() {
    return work().resolve("tmp");
  }

  public Path folder(Dataset dataset, Split split) {
    return root.resolve(dataset.folder()).resolve(split.folder());
  }

  /** A shard path relative to the root, with '/' separators, as the manifest stores it. */
  public String relative(Path shard) {
    return root.relativize(shard.toAbsolutePath().normalize()).toString().replace('\\', '/');
  }

  /**
   * Where ingest keeps a source's record-id file ({@code DIR/records/DATASET/BASE.tsv}): beside the
   * shard folders, not in them, which hold nothing but shards.
   */
  public Path recordIds(Dataset dataset, String baseName) {
    return root.resolve("records").resolve(dataset.folder()).resolve(baseName + ".tsv");
  }

  /** Every record-id file under {@code DIR/records/}. */
  public List<Path> recordIdFiles() throws IOException {
    List<Path> all = new ArrayList<>();
    Path folder = root.resolve("records");
    if (Files.isDirectory(folder)) {
      try (Stream<Path> files = Files.walk(folder)) {
        files
            .filter(p -> p.getFileName().toString().endsWith(".tsv") && Files.isRegularFile(p))
            .sorted()
            .forEach(all::add);
      }
    }
    return all;
  }

  /** Every {@code .npy} file currently in the four shard folders. */
  public List<Path> shardFiles() throws IOException {
    List<Path> all = new ArrayList<>();
    for (Dataset d : Dataset.values()) {
      for (Split s : Split.values()) {
        Path folder = folder(d, s);
        if (Files.isDirectory(folder)) {
          try (Stream<Path> files = Files.list(folder)) {
            files
                .filter(p -> p.getFileName().toString().endsWith(".npy"))
                .sorted()
                .forEach(all::add);
          }
        }
      }
    }
    return all;
  }
}
