package org.omnibiote.download;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;

class GenBankReleaseTest {
  private static final List<String> LISTING =
      List.of(
          "README.genbank",
          "gbbct1.seq.gz",
          "gbvrl10.seq.gz",
          "gbphg1.seq.gz",
          "gbvrl2.seq.gz",
          "gbvrl1.seq.gz",
          "gbrel.txt",
          "gbvrl1.seq",
          "gbpln1.seq.gz",
          "gbphg2.seq.gz");

  private static List<String> names(List<String> divisions, int max) {
    return GenBankRelease.select(LISTING, divisions, max).stream()
        .map(GenBankRelease.ReleaseFile::name)
        .toList();
  }

  @Test
  void keepsAskedDivisionsInTheOrderAskedAndNumbersNumerically() {
    assertEquals(
        List.of(
            "gbvrl1.seq.gz", "gbvrl2.seq.gz", "gbvrl10.seq.gz", "gbphg1.seq.gz", "gbphg2.seq.gz"),
        names(List.of("vrl", "phg"), 0));
  }

  @Test
  void noDivisionsMeansEveryReleaseFile() {
    assertEquals(
        List.of(
            "gbbct1.seq.gz",
            "gbphg1.seq.gz",
            "gbphg2.seq.gz",
            "gbpln1.seq.gz",
            "gbvrl1.seq.gz",
            "gbvrl2.seq.gz",
            "gbvrl10.seq.gz"),
        names(List.of(), 0));
  }

  @Test
  void maxFilesCutsTheOrderedList() {
    assertEquals(
        List.of("gbphg1.seq.gz", "gbphg2.seq.gz", "gbvrl1.seq.gz"),
        names(List.of("phg", "vrl"), 3));
  }

  @Test
  void divisionsAreParsedFromCommaListsAndCaseInsensitive() {
    assertEquals(
        List.of("vrl", "phg", "bct"),
        GenBankRelease.parseDivisions(List.of("VRL,phg", " gbbct ", "vrl"), "--divisions"));
  }

  @Test
  void aDivisionThatIsNotThreeLettersIsRefusedNamingTheFlag() {
    UserError e =
        assertThrows(
            UserError.class,
            () -> GenBankRelease.parseDivisions(List.of("vrl,vi1"), "--divisions"));
    assertEquals(
        "--divisions: 'vi1' is not a GenBank division code"
            + " (three letters, e.g. vrl, phg, bct, pln)",
        e.getMessage());
  }
}
