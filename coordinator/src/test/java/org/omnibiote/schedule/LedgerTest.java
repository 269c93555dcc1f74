package org.omnibiote.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;

class LedgerTest {
  @TempDir Path dir;

  private static Ledger.Entry entry(
      long step, long gen, String status, long first, int rows, int world) {
    List<Ledger.Part> parts = new ArrayList<>();
    for (StepSplit.Share s : StepSplit.split(first, rows, 4, world)) {
      parts.add(new Ledger.Part(s.rank(), "w" + s.rank(), s.firstSample(), s.rows()));
    }
    return new Ledger.Entry(step, gen, status, parts);
  }

  @Test
  void anAbortedStepRetriedInANewWorldIsTrainedExactlyOnce() throws IOException {
    try (Ledger ledger = Ledger.open(dir)) {
      ledger.append(entry(0, 0, Ledger.Entry.COMMITTED, 0, 16, 2));
      ledger.append(entry(1, 0, Ledger.Entry.ABORTED, 16, 16, 2)); // a worker died
      ledger.append(entry(1, 1, Ledger.Entry.COMMITTED, 16, 16, 1)); // the survivor alone
      ledger.append(entry(2, 1, Ledger.Entry.COMMITTED, 32, 16, 1));
    }
    // A crash mid-write leaves a torn last line, which is ignored.
    Files.writeString(dir.resolve(Ledger.FILE), "{\"step\":3,\"gen", StandardOpenOption.APPEND);
    List<Ledger.Entry> entries = Ledger.read(dir.resolve(Ledger.FILE));
    assertEquals(4, entries.size());
    Ledger.checkExactlyOnce(entries, 48);
  }

  @Test
  void aSampleTrainedTwiceOrSkippedIsReported() throws IOException {
    List<Ledger.Entry> twice =
        List.of(entry(0, 0, "committed", 0, 16, 2), entry(1, 0, "committed", 8, 16, 2));
    UserError e = assertThrows(UserError.class, () -> Ledger.checkExactlyOnce(twice, 24));
    assertTrue(
        e.getMessage().contains("sample 8 trained twice, in committed steps 0 and 1"),
        e.getMessage());
    List<Ledger.Entry> skipped =
        List.of(entry(0, 0, "committed", 0, 16, 2), entry(1, 0, "committed", 20, 8, 2));
    UserError s = assertThrows(UserError.class, () -> Ledger.checkExactlyOnce(skipped, 28));
    assertTrue(s.getMessage().contains("sample 16 was never trained"), s.getMessage());
  }

  @Test
  void aRestoreVoidsTheCommittedStepsFromItsStepOnAndTheyAreTrainedAgain() throws IOException {
    try (Ledger ledger = Ledger.open(dir)) {
      ledger.append(entry(0, 1, Ledger.Entry.COMMITTED, 0, 8, 2));
      ledger.append(entry(1, 1, Ledger.Entry.COMMITTED, 8, 8, 2)); // checkpoint after 2 steps
      ledger.append(entry(2, 1, Ledger.Entry.COMMITTED, 16, 8, 2)); // lost with the coordinator
      ledger.append(new Ledger.Entry(2, 1, Ledger.Entry.RESTORED, List.of()));
      ledger.append(entry(2, 2, Ledger.Entry.COMMITTED, 16, 8, 1));
      ledger.append(entry(3, 2, Ledger.Entry.COMMITTED, 24, 8, 1));
    }
    List<Ledger.Entry> entries = Ledger.read(dir.resolve(Ledger.FILE));
    Ledger.checkExactlyOnce(entries, 32);
    assertEquals(4, Ledger.stepsDone(entries));
    // Without the restore line, step 2 would be committed twice.
    List<Ledger.Entry> noRestore = new ArrayList<>(entries);
    noRestore.removeIf(e -> e.status().equals(Ledger.Entry.RESTORED));
    UserError e = assertThrows(UserError.class, () -> Ledger.checkExactlyOnce(noRestore, 32));
    assertTrue(e.getMessage().contains("step 2 committed twice"), e.getMessage());
  }

  @Test
  void reopeningALedgerCutsATornLastLineSoTheNextEntryStandsOnItsOwnLine() throws IOException {
    try (Ledger ledger = Ledger.open(dir)) {
      ledger.append(entry(0, 1, Ledger.Entry.COMMITTED, 0, 8, 2));
    }
    Files.writeString(dir.resolve(Ledger.FILE), "{\"step\":1,\"gen", StandardOpenOption.APPEND);
    try (Ledger ledger = Ledger.open(dir)) {
      ledger.append(entry(1, 1, Ledger.Entry.COMMITTED, 8, 8, 2));
    }
    List<Ledger.Entry> entries = Ledger.read(dir.resolve(Ledger.FILE));
    assertEquals(2, entries.size());
    Ledger.checkExactlyOnce(entries, 16);
  }
}
