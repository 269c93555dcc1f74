package org.omnibiote.download;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;

class SampleDownloaderTest {
  @TempDir Path tmp;

  @Test
  void theDefaultSampleIsRealGenBankAndUniProtFiles() {
    List<SampleDownloader.SampleFile> files =
        SampleDownloader.sampleFiles(ConfigFactory.defaultReference());
    assertEquals(4, files.size());
    assertEquals(
        "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi?db=nuccore&id=NC_045512.2"
            + "&rettype=gbwithparts&retmode=text",
        files.get(0).url().toString());
    assertEquals("NC_045512.2.gb", files.get(0).name());
    assertEquals(
        "https://rest.uniprot.org/uniprotkb/stream?query=proteome:UP000000625&format=fasta",
        files.get(3).url().toString());
    assertEquals(
        List.of("NC_045512.2.gb", "NC_005816.gb", "NC_001422.gbk", "UP000000625_83333.fasta"),
        files.stream().map(SampleDownloader.SampleFile::name).toList());
  }

  @Test
  void fetchesTheSampleFromTheConfiguredBasesAndKeepsItForTheNextRun() throws IOException {
    Path dir = tmp.resolve("sample");
    List<SampleDownloader.SampleFile> files;
    try (LocalHttpServer server =
        LocalHttpServer.serve(Files.createDirectories(tmp.resolve("www")))) {
      Map<String, String> overrides = SampleMirror.serve(server, ReleaseFixture.DATA);
      Config config =
          ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.defaultReference());
      files = SampleDownloader.sampleFiles(config);
      assertTrue(
          files.stream().allMatch(f -> f.url().toString().startsWith(server.url().toString())));

      assertEquals(dir, SampleDownloader.fetch(config, dir));
      assertTrue(
          server
              .requests()
              .contains(
                  "GET /ncbi/efetch.fcgi?db=nuccore&id=NC_045512.2&rettype=gbwithparts&retmode=text"),
          server.requests().toString());
    }
    for (SampleDownloader.SampleFile f : files) {
      try (Stream<Path> found = Files.walk(ReleaseFixture.DATA)) {
        Path original =
            found
                .filter(p -> p.getFileName().toString().equals(f.name()))
                .findFirst()
                .orElseThrow();
        assertArrayEquals(
            ReleaseFixture.bytes(original), ReleaseFixture.bytes(dir.resolve(f.name())));
      }
    }
    // The server is gone: a second run uses the files it has without the network.
    try (HttpDownloader http = new HttpDownloader(ReleaseFixture.fastSettings(0))) {
      assertEquals(dir, new SampleDownloader(http, files).fetchInto(dir));
    }
  }

  @Test
  void anEntryNamingAnUnknownBaseIsRefusedNamingTheEntry() {
    Config config =
        ConfigFactory.parseString(
            "omnibiote.quickstart.sample { ncbi-base-url = \"https://example.org/\"\n"
                + " files = [ { base = ncbi-base-url, path = a, name = a.gb },"
                + " { base = ensembl-base-url, path = b, name = b.gb } ] }");
    UserError e = assertThrows(UserError.class, () -> SampleDownloader.sampleFiles(config));
    assertEquals(
        "omnibiote.quickstart.sample.files[1]: base 'ensembl-base-url' is not a key of"
            + " omnibiote.quickstart.sample",
        e.getMessage());
  }

  @Test
  void anErrorPageInsteadOfGenBankTextIsRefusedAndRemoved() throws IOException {
    Path dir = tmp.resolve("sample");
    try (LocalHttpServer server =
            LocalHttpServer.serve(Files.createDirectories(tmp.resolve("www")));
        HttpDownloader http = new HttpDownloader(ReleaseFixture.fastSettings(0))) {
      server.route("/ncbi/efetch.fcgi?id=bad", ReleaseFixture.DATA.resolve("PROVENANCE.md"));
      SampleDownloader.SampleFile bad =
          new SampleDownloader.SampleFile(server.url("ncbi/efetch.fcgi?id=bad"), "bad.gb");
      DownloadError e =
          assertThrows(
              DownloadError.class, () -> new SampleDownloader(http, List.of(bad)).fetchInto(dir));
      assertEquals(
          "the sample file bad.gb from "
              + bad.url()
              + " does not start with 'LOCUS'"
              + " (first line: '# Real sequence files for tests'); it was removed",
          e.getMessage());
    }
    assertTrue(Files.notExists(dir.resolve("bad.gb")));
  }
}
