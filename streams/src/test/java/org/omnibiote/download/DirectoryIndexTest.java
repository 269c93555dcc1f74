package org.omnibiote.download;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirectoryIndexTest {
  private static final URI BASE = URI.create("https://ftp.ncbi.nlm.nih.gov/genbank");

  @Test
  void keepsOnlyFilesDirectlyInTheFolder() {
    String html =
        """
        <html><head><title>Index of /genbank</title></head><body><h1>Index of /genbank</h1>
        <pre>Name  <a href="?C=M;O=A">Last modified</a>
        <hr><a href="/">Parent Directory</a>
        <a href="../">Parent Directory</a>
        <a href="daily-nc/">daily-nc/</a>          2024-10-01 10:15    -
        <a href="gbbct1.seq.gz">gbbct1.seq.gz</a>  2024-10-01 10:15  123M
        <A HREF='gbvrl1.seq.gz'>gbvrl1.seq.gz</A>  2024-10-01 10:15  99M
        <a href=gbvrl2.seq.gz>gbvrl2.seq.gz</a>    2024-10-01 10:15  98M
        <a href="/genbank/gbphg1.seq.gz">gbphg1.seq.gz</a>
        <a href="https://ftp.ncbi.nlm.nih.gov/genbank/gbpln1.seq.gz">abs</a>
        <a href="https://mirror.example.org/genbank/gbpln2.seq.gz">other host</a>
        <a href="/blast/db/nt.00.tar.gz">other folder</a>
        <a href="gbvrl1.seq.gz#again">duplicate</a>
        <a href="README.genbank">README.genbank</a>
        <a href="file%20name.txt">encoded</a>
        </pre></body></html>
        """;
    assertEquals(
        List.of(
            "gbbct1.seq.gz",
            "gbvrl1.seq.gz",
            "gbvrl2.seq.gz",
            "gbphg1.seq.gz",
            "gbpln1.seq.gz",
            "README.genbank",
            "file name.txt"),
        DirectoryIndex.fileNames(BASE, html));
  }

  @Test
  void folderUrlsGetATrailingSlashSoLinksResolveInside() {
    assertEquals(
        URI.create("https://ftp.ncbi.nlm.nih.gov/genbank/gbvrl1.seq.gz"),
        DirectoryIndex.asFolder(BASE).resolve("gbvrl1.seq.gz"));
  }
}
