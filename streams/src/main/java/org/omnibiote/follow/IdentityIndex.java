package org.omnibiote.follow;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.omnibiote.UserError;
import org.omnibiote.shards.Generation;

/**
 * What the committed generations hold, rebuilt from them at every start (so a kill can never leave
 * it out of step with the folder): per GenBank accession its live version and where that document
 * is; per UniRef100 cluster its live release and document; the content hashes of the source files
 * already published.
 */
final class IdentityIndex {
  /** A live document: its version (GenBank) or release (UniRef100), and where it is. */
  record Live(int version, String release, long generation, String shard, long document) {}

  private final Map<String, Live> genbank = new HashMap<>();
  private final Map<String, Live> uniref = new HashMap<>();
  private final Set<String> publishedSha256 = new HashSet<>();

  static IdentityIndex of(Path root, Iterable<Generation> committed) {
    IdentityIndex ix = new IdentityIndex();
    for (Generation g : committed) {
      ix.apply(root, g);
    }
    return ix;
  }

  /** Adds a committed generation: its documents become live, what it superseded is not. */
  void apply(Path root, Generation g) {
    if (g.source() != null && g.source().sha256() != null) {
      publishedSha256.add(g.source().sha256());
    }
    if (g.supersededGenerations() != null && !g.supersededGenerations().isEmpty()) {
      Set<Long> gone = new HashSet<>(g.supersededGenerations());
      uniref.values().removeIf(l -> gone.contains(l.generation()));
      genbank.values().removeIf(l -> gone.contains(l.generation()));
    }
    if (g.superseded() != null) {
      for (Generation.Superseded s : g.superseded()) {
        Live l = genbank.get(accession(s.identity()));
        if (l != null
            && l.generation() == s.generation()
            && l.shard().equals(s.shard())
            && l.document() == s.document()) {
          genbank.remove(accession(s.identity()));
        }
      }
    }
    if (g.records() == null) {
      return;
    }
    boolean isUniRef = g.source() != null && SourceKind.UNIREF100.label().equals(g.source().kind());
    Path records = root.resolve(g.records());
    try (BufferedReader in = Files.newBufferedReader(records, StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        String[] f = line.split("\t", -1);
        if (f.length != 3) {
          continue;
        }
        long doc = Long.parseLong(f[1]);
        if (isUniRef) {
          uniref.put(f[2], new Live(0, g.source().release(), g.generation(), f[0], doc));
        } else {
          genbank.put(accession(f[2]), new Live(version(f[2]), null, g.generation(), f[0], doc));
        }
      }
    } catch (IOException | NumberFormatException e) {
      throw new UserError("cannot read " + records + ": " + e.getMessage(), e);
    }
  }

  Live genbank(String accession) {
    return genbank.get(accession);
  }

  Live uniref(String cluster) {
    return uniref.get(cluster);
  }

  /** Generations holding live UniRef100 clusters of a release other than {@code release}. */
  Set<Long> unirefGenerationsNotOf(String release) {
    Set<Long> out = new java.util.TreeSet<>();
    for (Live l : uniref.values()) {
      if (!release.equals(l.release())) {
        out.add(l.generation());
      }
    }
    return out;
  }

  boolean published(String sha256) {
    return publishedSha256.contains(sha256);
  }

  long liveGenBank() {
    return genbank.size();
  }

  long liveUniRef() {
    return uniref.size();
  }

  /** ACCESSION of ACCESSION.VERSION. */
  static String accession(String id) {
    int dot = id.lastIndexOf('.');
    return dot > 0 && isDigits(id, dot + 1) ? id.substring(0, dot) : id;
  }

  /** VERSION of ACCESSION.VERSION (0 when the id has none). */
  static int version(String id) {
    int dot = id.lastIndexOf('.');
    if (dot > 0 && isDigits(id, dot + 1)) {
      try {
        return Integer.parseInt(id.substring(dot + 1));
      } catch (NumberFormatException e) {
        return 0;
      }
    }
    return 0;
  }

  private static boolean isDigits(String s, int from) {
    if (from >= s.length()) {
      return false;
    }
    for (int i = from; i < s.length(); i++) {
      if (!Character.isDigit(s.charAt(i))) {
        return false;
      }
    }
    return true;
  }
}
