package org.omnibiote.genbank;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.omnibiote.records.Biopython;
import org.omnibiote.records.Parsed;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SharedData;

/**
 * Every file of ../shared/data read as GenBank by us and by Biopython 1.80 (one Python process):
 * the same documents where Biopython accepts a file, a problem where it raises. Non-GenBank files
 * are included too: both sides must find no record in them.
 */
class GenBankBiopythonParityTest {
  private static final Set<String> GENBANK_EXTENSIONS =
      Set.of("gb", "gbk", "seq", "gp", "gbff", "gbwithparts");

  @Test
  void everySharedFileGivesBiopythonsDocumentsOrAProblemWhereBiopythonRaises() throws Exception {
    List<Path> files = SharedData.allFiles();
    Map<Path, Biopython.Outcome> bio = Biopython.parse("genbank", files);

    List<Path> genbank = files.stream().filter(GenBankBiopythonParityTest::looksGenBank).toList();
    assertTrue(genbank.size() >= 39, "GenBank files found in shared/data: " + genbank.size());
    long refused = 0;
    long documents = 0;
    for (Path f : genbank) {
      Biopython.Outcome o = bio.get(f);
      assertTrue(!o.ok() || !o.records().isEmpty(), f + ": Biopython found records");
      refused += o.ok() ? 0 : 1;
      documents += o.documents().size();
    }
    assertTrue(refused >= 1, "the broken files include one Biopython refuses");
    assertTrue(documents > 150, "documents compared: " + documents);

    List<Executable> checks = new ArrayList<>();
    for (Path f : files) {
      checks.add(() -> ParityCheck.check(f, bio.get(f), SeqFormat.GENBANK));
    }
    assertAll(checks);
  }

  @Test
  void the22MbpRecordOfGbpri1IsReadWhole() throws Exception {
    Parsed p =
        Parsed.of(
            SharedData.file("deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq"), SeqFormat.GENBANK);
    int longest = p.records().stream().mapToInt(r -> r.sequence().length()).max().orElse(0);
    assertTrue(longest > 2_000_000, "longest record: " + longest);
    assertEquals(18, p.records().size());
    assertTrue(p.problems().isEmpty(), p.problems().toString());
    p.records().forEach(r -> assertFalse(r.sequence().chars().anyMatch(Character::isLowerCase)));
  }

  private static boolean looksGenBank(Path f) {
    String name = f.getFileName().toString();
    int dot = name.lastIndexOf('.');
    String ext = dot < 0 ? "" : name.substring(dot + 1);
    return GENBANK_EXTENSIONS.contains(ext)
        || f.getParent().getFileName().toString().equals("genbank")
        || (f.getParent().getFileName().toString().equals("easel-formats")
            && name.startsWith("genbank"));
  }
}
