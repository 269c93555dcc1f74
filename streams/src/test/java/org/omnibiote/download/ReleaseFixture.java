package org.omnibiote.download;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.GZIPOutputStream;

/**
 * A small GenBank "release folder" made of real files from ../shared/data, gzipped under release
 * names (gbvrl1.seq.gz ...), plus test settings that retry fast.
 */
final class ReleaseFixture {
  static final Path DATA = Path.of(System.getProperty("omnibiote.shared", "../../shared"), "data");
  static final Path EMBOSS = DATA.resolve("deb-emboss-test_6.6.0+dfsg-12/genbank");
  static final Path BIOPYTHON = DATA.resolve("deb-python-biopython-doc_1.80+dfsg-4/GenBank");

  private ReleaseFixture() {}

  /** Settings for tests: few retries, 10 ms back-off, no progress lines. */
  static DownloadSettings fastSettings(int retries) {
    return new DownloadSettings(
        retries,
        Duration.ofMillis(10),
        Duration.ofMillis(40),
        Duration.ofSeconds(5),
        Duration.ofSeconds(10),
        Duration.ofSeconds(10),
        Long.MAX_VALUE,
        Duration.ofSeconds(5));
  }

  /**
   * {@code dir/genbank/} as a release folder: vrl (2 files), phg, pln (2), bct, pri (the 3.7 MB
   * record, about 1 MB gzipped), and two files that are not release files.
   */
  static Path release(Path dir) throws IOException {
    Path rel = Files.createDirectories(dir.resolve("genbank"));
    gzip(EMBOSS.resolve("gbvrl1.seq"), rel.resolve("gbvrl1.seq.gz"));
    gzip(BIOPYTHON.resolve("gbvrl1_start.seq"), rel.resolve("gbvrl2.seq.gz"));
    gzip(BIOPYTHON.resolve("NC_001422.gbk"), rel.resolve("gbphg1.seq.gz"));
    gzip(EMBOSS.resolve("gbpln1.seq"), rel.resolve("gbpln1.seq.gz"));
    gzip(EMBOSS.resolve("gbpln2.seq"), rel.resolve("gbpln2.seq.gz"));
    gzip(EMBOSS.resolve("gbbct1.seq"), rel.resolve("gbbct1.seq.gz"));
    gzip(EMBOSS.resolve("gbpri1.seq"), rel.resolve("gbpri1.seq.gz"));
    Files.copy(DATA.resolve("PROVENANCE.md"), rel.resolve("README.genbank"));
    Files.copy(EMBOSS.resolve("gbest1.seq"), rel.resolve("gbest1.seq")); // not gzipped: not listed
    Files.createDirectories(rel.resolve("daily-nc"));
    return rel;
  }

  static void gzip(Path source, Path target) throws IOException {
    assertTrue(Files.isRegularFile(source), "missing test data " + source);
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(target))) {
      Files.copy(source, out);
    }
  }

  static byte[] bytes(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
