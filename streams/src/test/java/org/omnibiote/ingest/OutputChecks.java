package org.omnibiote.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyReader;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * Checks an ingest output folder with the independent .npy reader: the layout the trainer reads,
 * and every shard against its manifest entry (tokens, documents, documents per tag, SHA-256), every
 * document ending in EOS, no banned id.
 */
final class OutputChecks {
  static final int EOS = 3;

  private OutputChecks() {}

  static Manifest manifest(Path dir) throws IOException {
    return ManifestStore.fromJson(Files.readAllBytes(dir.resolve("manifest.json")));
  }

  /** Relative paths of every file under the four shard folders. */
  static Set<String> filesInShardFolders(Path dir) throws IOException {
    Set<String> files = new TreeSet<>();
    for (String ds : new String[] {"genbank", "uniref100"}) {
      for (String split : new String[] {"train", "val"}) {
        Path folder = dir.resolve(ds).resolve(split);
        if (Files.isDirectory(folder)) {
          try (Stream<Path> s = Files.list(folder)) {
            s.forEach(p -> files.add(dir.relativize(p).toString()));
          }
        }
      }
    }
    return files;
  }

  /**
   * Verifies every shard; a document's tag is read back by decoding its first ids with {@code
   * tokenizer} (a tag that is not one piece spans several ids).
   */
  static void verify(Path dir, Tokenizer tokenizer) throws IOException {
    Manifest m = manifest(dir);
    Set<String> knownTags = new TreeSet<>();
    m.shards().forEach(s -> knownTags.addAll(s.tags().keySet()));
    int banned = m.tokenizer().bannedIds().get(0);
    Set<String> top;
    try (Stream<Path> s = Files.list(dir)) {
      top = s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
    assertTrue(
        Set.of("manifest.json", ".work", "genbank", "uniref100", "records").containsAll(top),
        "" + top);
    verifyRecordIds(dir, m);
    Set<String> listed =
        m.shards().stream()
            .map(Manifest.Shard::path)
            .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(
        listed, filesInShardFolders(dir), "shard folders hold exactly the manifest's shards");
    long docs = 0;
    long tokens = 0;
    for (Manifest.Shard shard : m.shards()) {
      Path file = dir.resolve(shard.path());
      assertTrue(shard.path().matches("(genbank|uniref100)/(train|val)/[^/]+\\.npy"), shard.path());
      assertEquals(
          shard.dataset() + "/" + shard.split(),
          shard.path().substring(0, shard.path().lastIndexOf('/')));
      NpyReader.Array a = NpyReader.read(file);
      assertEquals("<u2", a.descr());
      int[] v = a.values();
      assertEquals(shard.tokens(), v.length, shard.path());
      assertEquals(shard.sha256(), sha256(file), shard.path());
      assertTrue(v.length > 0 && v[v.length - 1] == EOS, shard.path() + " ends with EOS");
      Map<String, Long> tags = new TreeMap<>();
      int start = 0;
      long n = 0;
      for (int i = 0; i < v.length; i++) {
        assertTrue(v[i] != banned, shard.path() + " holds the banned id at " + i);
        if (v[i] == EOS) {
          tags.merge(tagOf(v, start, i, tokenizer, knownTags, banned, shard.path()), 1L, Long::sum);
          start = i + 1;
          n++;
        }
      }
      assertEquals(shard.documents(), n, shard.path());
      assertEquals(shard.tags(), tags, shard.path());
      docs += n;
      tokens += v.length;
    }
    assertEquals(m.totals().documents(), docs);
    assertEquals(m.totals().tokens(), tokens);
    assertEquals(m.shards().size(), m.totals().shards());
  }

  /**
   * The tag a document starts with: the manifest's tag whose ids (as the tokenizer encodes the tag
   * alone, banned id removed) begin the document, the longest match winning. The last id of a tag
   * that is not one piece may merge with the sequence, so it is not compared.
   */
  private static String tagOf(
      int[] v,
      int start,
      int end,
      Tokenizer tokenizer,
      Set<String> tags,
      int banned,
      String where) {
    String found = null;
    int foundLength = 0;
    for (String t : tags) {
      int[] ids = Arrays.stream(tokenizer.encode(t)).filter(id -> id != banned).toArray();
      int compare = ids.length == 1 ? 1 : ids.length - 1;
      boolean match = start + compare <= end;
      for (int k = 0; match && k < compare; k++) {
        match = v[start + k] == ids[k];
      }
      if (match && compare > foundLength) {
        found = t;
        foundLength = compare;
      }
    }
    assertTrue(
        found != null,
        where
            + ": document at "
            + start
            + " starts with no known tag: "
            + tokenizer.decode(Arrays.copyOfRange(v, start, Math.min(end, start + 8))));
    return found;
  }

  static String sha256(Path file) throws IOException {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Every source names its record-id file, which matches its SHA-256 and has one line per document
   * of the source's shards (shard TAB document TAB identity), each shard's documents 0..n-1 once;
   * DIR/records holds exactly those files.
   */
  static void verifyRecordIds(Path dir, Manifest m) throws IOException {
    Map<String, Manifest.Shard> byPath = new HashMap<>();
    m.shards().forEach(s -> byPath.put(s.path(), s));
    Set<String> named = new TreeSet<>();
    for (Manifest.Source src : m.sources()) {
      assertTrue(src.recordIds() != null, src.path() + " names its record-id file");
      named.add(src.recordIds());
      Path file = dir.resolve(src.recordIds());
      assertEquals(src.recordIdsSha256(), sha256(file), src.recordIds());
      Map<String, Set<Long>> seen = new TreeMap<>();
      for (String line : Files.readAllLines(file)) {
        String[] f = line.split("\t", -1);
        assertEquals(3, f.length, line);
        assertTrue(src.shards().contains(f[0]), line);
        assertTrue(seen.computeIfAbsent(f[0], k -> new TreeSet<>()).add(Long.parseLong(f[1])));
      }
      for (String shard : src.shards()) {
        long n = byPath.get(shard).documents();
        assertEquals(n, seen.getOrDefault(shard, Set.of()).size(), shard);
        assertTrue(seen.getOrDefault(shard, Set.of()).stream().allMatch(d -> d >= 0 && d < n));
      }
    }
    Set<String> present = new TreeSet<>();
    if (Files.isDirectory(dir.resolve("records"))) {
      try (Stream<Path> w = Files.walk(dir.resolve("records"))) {
        w.filter(Files::isRegularFile)
            .forEach(p -> present.add(dir.relativize(p).toString().replace('\\', '/')));
      }
    }
    assertEquals(named, present, "DIR/records holds exactly the sources' record-id files");
  }

  /** Relative path -> SHA-256 of every shard, plus the manifest's bytes' hash. */
  static Map<String, String> contentOf(Path dir) throws IOException {
    Map<String, String> content = new HashMap<>();
    for (String f : filesInShardFolders(dir)) {
      content.put(f, sha256(dir.resolve(f)));
    }
    content.put("manifest.json", sha256(dir.resolve("manifest.json")));
    if (Files.isDirectory(dir.resolve("records"))) {
      try (Stream<Path> w = Files.walk(dir.resolve("records"))) {
        for (Path p : w.filter(Files::isRegularFile).toList()) {
          content.put(dir.relativize(p).toString(), sha256(p));
        }
      }
    }
    return content;
  }
}
