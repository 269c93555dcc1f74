package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.sources.RecordSources;

/**
 * The input of {@code bench follow}: real records repeated to a size, each copy a record of its own
 * (else the follower rightly skips the repeats that ingest keeps, and the two are not comparable).
 */
class BenchFollowInputTest {
  static final Path SHARED = Path.of(System.getProperty("omnibiote.shared")).toAbsolutePath();
  static final Path ORCHIDS =
      SHARED.resolve("data/deb-python-biopython-doc_1.80+dfsg-4/GenBank/ls_orchid.gbk");
  static final Path SARS = SHARED.resolve("data/gh-jsan4christ-Sars-Cov2-Refs/NC_045512.2.gb");

  static List<SeqRecord> read(Path file) throws Exception {
    List<SeqRecord> out = new ArrayList<>();
    try (RecordSource src = RecordSources.open(file, SeqFormat.GENBANK, p -> {}, true)) {
      for (SeqRecord r; (r = src.next()) != null; ) {
        out.add(r);
      }
    }
    return out;
  }

  @Test
  void repeatedRecordsGetAccessionsOfTheirOwnAndKeepTheirSequences(@TempDir Path dir)
      throws Exception {
    List<SeqRecord> original = new ArrayList<>(read(ORCHIDS));
    original.addAll(read(SARS));
    var records = new BenchFollowCommand.UniqueRecords(List.of(ORCHIDS, SARS));
    Path file = dir.resolve("nc0101.flat.gz");
    long onePass = java.nio.file.Files.size(ORCHIDS) + java.nio.file.Files.size(SARS);
    records.write(file, 2 * onePass + 20_000); // the longer accessions add about 2 kB a pass
    List<SeqRecord> made = read(file);
    assertTrue(made.size() > 2 * original.size(), "a third pass begun: " + made.size());
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < made.size(); i++) {
      SeqRecord m = made.get(i);
      SeqRecord o = original.get(i % original.size());
      assertTrue(ids.add(m.id()), "a record of its own: " + m.id());
      assertEquals(o.sequence(), m.sequence(), m.id());
      assertEquals(o.moleculeType(), m.moleculeType(), m.id());
      String acc = o.id().substring(0, o.id().lastIndexOf('.'));
      String ver = o.id().substring(o.id().lastIndexOf('.'));
      assertTrue(m.id().startsWith(acc + "_") && m.id().endsWith(ver), o.id() + " -> " + m.id());
    }
  }
}
