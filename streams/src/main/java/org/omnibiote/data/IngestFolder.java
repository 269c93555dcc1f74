package org.omnibiote.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.Split;

/**
 * An ingest output folder as the trainer sees it: the manifest, checked, and the shards it lists,
 * each opened (mapped and checked against the manifest) on request. Every problem is a {@link
 * UserError} naming the folder, file or setting.
 */
final class IngestFolder {
  private final ShardLayout layout;
  private final Manifest manifest;
  private final NpyDtype dtype;

  private IngestFolder(ShardLayout layout, Manifest manifest, NpyDtype dtype) {
    this.layout = layout;
    this.manifest = manifest;
    this.dtype = dtype;
  }

  static IngestFolder open(Path baseDir) {
    if (baseDir == null) {
      throw new UserError("--base_dir is required: an ingest output folder");
    }
    if (!Files.exists(baseDir)) {
      throw new UserError("--base_dir " + baseDir + " does not exist");
    }
    if (!Files.isDirectory(baseDir)) {
      throw new UserError("--base_dir " + baseDir + " is not a folder");
    }
    ShardLayout layout = new ShardLayout(baseDir);
    if (!Files.isRegularFile(layout.manifest())) {
      throw new UserError(
          "--base_dir "
              + baseDir
              + " has no "
              + ShardLayout.MANIFEST
              + ": not an ingest output: run bin/omnibiote ingest --tokenizer M.model"
              + " --genbank FILES --uniref FILES --output "
              + baseDir);
    }
    Manifest manifest = new ManifestStore(layout).read().orElseThrow();
    Manifest.TokenizerInfo info = manifest.tokenizer();
    if (info == null || manifest.shards() == null || info.vocabSize() < 1) {
      throw new UserError(
          layout.manifest()
              + " lacks its tokenizer or shard list:"
              + " not a complete ingest manifest");
    }
    return new IngestFolder(layout, manifest, dtype(info.dtype(), layout.manifest()));
  }

  Path root() {
    return layout.root();
  }

  Manifest.TokenizerInfo tokenizer() {
    return manifest.tokenizer();
  }

  /**
   * The ids to delete from documents: {@code bannedToken} if given, else the manifest's bannedIds;
   * each inside the vocabulary and not EOS.
   */
  List<Integer> bannedIds(Integer bannedToken) {
    Manifest.TokenizerInfo info = manifest.tokenizer();
    List<Integer> ids =
        bannedToken != null
            ? List.of(bannedToken)
            : info.bannedIds() == null ? List.of() : info.bannedIds();
    for (int id : ids) {
      String what =
          bannedToken != null ? "--banned_token " + id : layout.manifest() + " bannedIds " + id;
      if (id < 0 || id >= info.vocabSize()) {
        throw new UserError(what + " is outside the vocabulary [0, " + info.vocabSize() + ")");
      }
      if (id == info.eosId()) {
        throw new UserError(what + " is the EOS id, which ends every document");
      }
    }
    return List.copyOf(new TreeSet<>(ids));
  }

  /**
   * The manifest's entries for {@code dataset}/{@code split} in manifest order; none is refused,
   * naming the train_type that needs them.
   */
  List<Manifest.Shard> listed(Dataset dataset, Split split, TrainType needing) {
    List<Manifest.Shard> listed =
        manifest.shards().stream()
            .filter(s -> dataset.folder().equals(s.dataset()) && split.folder().equals(s.split()))
            .toList();
    if (listed.isEmpty()) {
      throw new UserError(
          "--base_dir "
              + layout.root()
              + " has no "
              + dataset.folder()
              + " "
              + split.folder()
              + " shards, which --train_type "
              + needing.flag()
              + " needs: ingest "
              + (dataset == Dataset.GENBANK
                  ? "GenBank files (--genbank)"
                  : "UniRef100 FASTA (--uniref)")
              + " into it, or choose another --train_type");
    }
    return listed;
  }

  /** Whether the manifest lists any {@code dataset}/{@code split} shard. */
  boolean has(Dataset dataset, Split split) {
    return manifest.shards().stream()
        .anyMatch(s -> dataset.folder().equals(s.dataset()) && split.folder().equals(s.split()));
  }

  /** Maps each listed shard, checking it against its manifest entry. */
  List<ShardFile> open(List<Manifest.Shard> listed) {
    List<ShardFile> files = new ArrayList<>();
    for (Manifest.Shard s : listed) {
      Path p = layout.root().resolve(s.path()).normalize();
      if (!p.startsWith(layout.root())) {
        throw new UserError(layout.manifest() + " lists shard " + s.path() + " outside its folder");
      }
      files.add(ShardFile.open(p, dtype, s.tokens()));
    }
    return files;
  }

  /**
   * What {@code s} must hash to, and how a damaged copy is remade: an ingest re-run redoes a source
   * one of whose shards is missing, so the repair is to delete the shard and re-run the ingest of
   * its sources into the folder.
   */
  ShardVerifier.Expected expected(Manifest.Shard s) {
    Path p = layout.root().resolve(s.path()).normalize();
    String flag = Dataset.GENBANK.folder().equals(s.dataset()) ? "--genbank" : "--uniref";
    List<String> sources = s.sources() == null ? List.of() : s.sources();
    String repair =
        sources.isEmpty()
            ? "delete it and re-run the ingest that made " + layout.root()
            : "run: rm "
                + p
                + " && bin/omnibiote ingest --tokenizer "
                + manifest.tokenizer().file()
                + " "
                + flag
                + " "
                + String.join(" ", sources)
                + " --output "
                + layout.root()
                + " (the ingest remakes the shards of a source with one missing)";
    return expected(s, repair);
  }

  /** What {@code s} must hash to, with {@code repair} as the way to remake a damaged copy. */
  ShardVerifier.Expected expected(Manifest.Shard s, String repair) {
    return new ShardVerifier.Expected(
        s.sha256(), layout.root().resolve(s.path()).normalize().toString(), repair);
  }

  private static NpyDtype dtype(String name, Path manifest) {
    for (NpyDtype d : NpyDtype.values()) {
      if (d.name().equalsIgnoreCase(name)) {
        return d;
      }
    }
    throw new UserError(manifest + ": unknown token dtype " + name + " (expected uint16 or int32)");
  }
}
