package org.omnibiote.follow;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.Generation;
import org.omnibiote.shards.Manifest;

/**
 * What the folder's generations hold, rebuilt from them at every start (so a kill can never leave
 * it out of step with the folder): generation 0 from the record-id files ingest wrote beside its
 * shards, the committed generations from their records files. Per GenBank accession its live
 * version and where that document is; per UniRef100 cluster its live release and document; the
 * content hashes of the source files already published.
 */
final class IdentityIndex {
  /** A live document: its version (GenBank) or release (UniRef100), and where it is. */
  record Live(int version, String release, long generation, String shard, long document) {
    boolean isAt(Generation.Superseded s) {
      return generation == s.generation() && shard.equals(s.shard()) && document == s.document();
    }
  }

  private final Map<String, Live> genbank = new HashMap<>();
  private final Map<String, Live> uniref = new HashMap<>();
  private final Set<String> publishedSha256 = new HashSet<>();
  private final List<String> unknownSources = new ArrayList<>();

  static IdentityIndex of(Path root, Iterable<Generation> committed) {
    return of(root, null, committed);
  }

  /**
   * The index of generation 0 (the records {@code ingest} wrote, from each source's record-id file,
   * see {@link Manifest.Source#recordIds}) and of the committed generations after it. Sources of an
   * ingest older than record-id files are not known by record (see {@link #unknownSources}).
   */
  static IdentityIndex of(Path root, Manifest generation0, Iterable<Generation> committed) {
    IdentityIndex ix = new IdentityIndex();
    if (generation0 != null && generation0.sources() != null) {
      for (Manifest.Source s : generation0.sources()) {
        ix.applyIngested(root, s);
      }
    }
    for (Generation g : committed) {
      ix.apply(root, g);
    }
    return ix;
  }

  /** Generation 0's sources without a record-id file (their records cannot be superseded). */
  List<String> unknownSources() {
    return unknownSources;
  }

  /**
   * Adds the records ingest wrote from one source, reading its record-id file once and checking it
   * against the SHA-256 the manifest holds on the way.
   */
  private void applyIngested(Path root, Manifest.Source s) {
    if (s.recordIds() == null) {
      unknownSources.add(s.path());
      return;
    }
    boolean isUniRef = Dataset.UNIREF100.folder().equals(s.dataset());
    Path file = root.resolve(s.recordIds());
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    long lineNo = 0;
    try (BufferedReader in =
        new BufferedReader(
            new InputStreamReader(
                new DigestInputStream(Files.newInputStream(file), sha), StandardCharsets.UTF_8),
            1 << 16)) {
      String line;
      while ((line = in.readLine()) != null) {
        lineNo++;
        int a = line.indexOf('\t');
        int b = line.indexOf('\t', a + 1);
        if (a < 0 || b < 0) {
          throw new NumberFormatException("not shard TAB document TAB identity");
        }
        String shard = line.substring(0, a);
        long doc = Long.parseLong(line.substring(a + 1, b));
        String id = line.substring(b + 1);
        if (isUniRef) {
          uniref.put(id, new Live(0, null, 0, shard, doc));
        } else {
          genbank.put(accession(id), new Live(version(id), null, 0, shard, doc));
        }
      }
    } catch (IOException e) {
      throw new UserError(
          "cannot read "
              + file
              + " ("
              + e.getMessage()
              + "); delete it and run the same ingest again to rewrite it",
          e);
    } catch (NumberFormatException e) {
      throw new UserError(
          file + ":" + lineNo + ": " + e.getMessage() + "; delete it and run the same ingest again",
          e);
    }
    String got = HexFormat.of().formatHex(sha.digest());
    if (s.recordIdsSha256() != null && !s.recordIdsSha256().equals(got)) {
      throw new UserError(
          file
              + " does not match its SHA-256 in manifest.json (damaged on disk?); delete it and"
              + " run the same ingest again to rewrite it");
    }
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
        if (l != null && l.isAt(s)) {
          genbank.remove(accession(s.identity()));
        }
        Live u = uniref.get(s.identity());
        if (u != null && u.isAt(s)) {
          uniref.remove(s.identity());
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

  /**
   * Generations (after 0) holding live UniRef100 clusters of a release other than {@code release}.
   * Generation 0 is never superseded as a whole: it holds GenBank too, and its clusters' release is
   * unknown; its clusters that a followed release holds again are superseded one by one.
   */
  Set<Long> unirefGenerationsNotOf(String release) {
    Set<Long> out = new java.util.TreeSet<>();
    for (Live l : uniref.values()) {
      if (l.generation() > 0 && !release.equals(l.release())) {
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
