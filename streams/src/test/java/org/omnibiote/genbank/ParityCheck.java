package org.omnibiote.genbank;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.omnibiote.records.Biopython;
import org.omnibiote.records.Parsed;
import org.omnibiote.records.SeqFormat;

/** Compares our parse of one file with Biopython's outcome on it. */
final class ParityCheck {
  private ParityCheck() {}

  static void check(Path file, Biopython.Outcome bio, SeqFormat format) throws Exception {
    Parsed ours = Parsed.of(file, format);
    List<String> theirs = bio.documents();
    if (bio.ok()) {
      assertEquals(theirs.size(), ours.records().size(), file + ": number of documents");
      for (int i = 0; i < theirs.size(); i++) {
        assertEquals(theirs.get(i), ours.documents().get(i), file + ": document " + i);
      }
      assertEquals(bio.documentIds(), ours.ids(), file + ": record ids");
      assertEquals(
          bio.count("skip"),
          ours.counts().skippedNoSequence(),
          file + ": records without sequence");
      assertEquals(
          bio.count("problem"), ours.problems().size(), file + ": problems " + ours.problems());
    } else {
      assertFalse(
          ours.problems().isEmpty(),
          file + ": Biopython raised (" + bio.error() + ") but we reported no problem");
      assertTrue(ours.records().size() >= theirs.size(), file + ": documents before the error");
      assertEquals(
          theirs,
          ours.documents().subList(0, theirs.size()),
          file + ": documents Biopython made before it raised");
      ours.problems().forEach(p -> assertEquals(file, p.file(), "problem names the file"));
    }
  }
}
