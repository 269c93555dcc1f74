package org.omnibiote.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.GenerationStore;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.ShardLayout;

/**
 * The data generations of an ingest folder as the trainer (and the coordinator deciding what to
 * adopt) reads them: generation 0 is the ingest's {@code manifest.json}, generations 1.. are what
 * {@code omnibiote follow} committed. For generations up to g, the live documents of every shard:
 * all documents less those a generation up to g superseded (one by one, or a whole older UniRef100
 * release).
 */
public final class DataGenerations {
  /** One generation: its number, where it came from, its shards and what it superseded. */
  public record Info(
      long generation,
      String source,
      List<Manifest.Shard> shards,
      List<Generation.Superseded> superseded,
      List<Long> supersededGenerations,
      String tokenizerSha256) {
    public long documents() {
      return shards.stream().mapToLong(Manifest.Shard::documents).sum();
    }

    public long tokens() {
      return shards.stream().mapToLong(Manifest.Shard::tokens).sum();
    }
  }

  private DataGenerations() {}

  /** The newest committed generation of {@code baseDir} (0 when follow committed none). */
  public static long latest(Path baseDir) {
    return new GenerationStore(new ShardLayout(baseDir)).latest();
  }

  /** Generation 0 (the ingest's shards, possibly none) and the committed ones, in order. */
  public static List<Info> list(Path baseDir) {
    ShardLayout layout = new ShardLayout(baseDir);
    List<Info> out = new ArrayList<>();
    Manifest m = new ManifestStore(layout).read().orElse(null);
    out.add(
        new Info(
            0,
            "manifest.json",
            m == null || m.shards() == null ? List.of() : m.shards(),
            List.of(),
            List.of(),
            m == null || m.tokenizer() == null ? null : m.tokenizer().sha256()));
    for (Generation g : new GenerationStore(layout).committed()) {
      out.add(
          new Info(
              g.generation(),
              g.source() == null ? "" : g.source().origin(),
              g.shards(),
              g.superseded() == null ? List.of() : g.superseded(),
              g.supersededGenerations() == null ? List.of() : g.supersededGenerations(),
              g.tokenizerSha256()));
    }
    return out;
  }

  /**
   * For every shard of generations 0..{@code upTo} (by path), the documents still live once those
   * generations are adopted (bit i: document i of the shard, in shard order).
   */
  public static Map<String, BitSet> liveDocuments(List<Info> generations, long upTo) {
    Map<String, BitSet> live = new TreeMap<>();
    Map<String, Long> generationOf = new TreeMap<>();
    Set<Long> goneGenerations = new HashSet<>();
    for (Info g : generations) {
      if (g.generation() > upTo) {
        break;
      }
      for (Manifest.Shard s : g.shards()) {
        BitSet b = new BitSet();
        b.set(0, (int) s.documents());
        live.put(s.path(), b);
        generationOf.put(s.path(), g.generation());
      }
      goneGenerations.addAll(g.supersededGenerations());
      for (Generation.Superseded s : g.superseded()) {
        BitSet b = live.get(s.shard());
        if (b != null) {
          b.clear((int) s.document());
        }
      }
    }
    generationOf.forEach(
        (path, g) -> {
          if (goneGenerations.contains(g)) {
            live.get(path).clear();
          }
        });
    return live;
  }
}
