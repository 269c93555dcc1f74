package org.omnibiote.download;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training data sets as the original trainer reads them: GenBank release files into {@code
 * OUT/genbank/}, the UniRef100 FASTA into {@code OUT/uniref100/}.
 */
public final class DatasetDownloader {
  private static final Logger log = LoggerFactory.getLogger(DatasetDownloader.class);

  private final HttpDownloader downloader;

  public DatasetDownloader(HttpDownloader downloader) {
    this.downloader = downloader;
  }

  /**
   * The release files the folder at {@code base} lists, filtered as {@link GenBankRelease#select}.
   */
  public List<GenBankRelease.ReleaseFile> listGenBank(
      URI base, List<String> divisions, int maxFiles) {
    URI folder = DirectoryIndex.asFolder(base);
    List<String> names = DirectoryIndex.fileNames(folder, downloader.fetchText(folder));
    List<GenBankRelease.ReleaseFile> all = GenBankRelease.select(names, divisions, 0);
    for (String d : divisions) {
      if (all.stream().noneMatch(f -> f.division().equals(d))) {
        log.warn("no gb{}*.seq.gz files listed at {}", d, folder);
      }
    }
    if (all.isEmpty()) {
      String which =
          divisions.isEmpty()
              ? "gb*.seq.gz"
              : divisions.stream()
                  .map(d -> "gb" + d + "*.seq.gz")
                  .collect(Collectors.joining(", "));
      throw new DownloadError(
          "no GenBank release files ("
              + which
              + ") are listed at "
              + folder
              + " ("
              + names.size()
              + " other links there)");
    }
    return GenBankRelease.select(names, divisions, maxFiles);
  }

  /** Lists and fetches GenBank release files into {@code out/genbank/}. */
  public List<DownloadResult> genBank(URI base, List<String> divisions, int maxFiles, Path out) {
    List<GenBankRelease.ReleaseFile> files = listGenBank(base, divisions, maxFiles);
    log.info("GenBank: {} release file(s) to fetch from {}", files.size(), base);
    Path dir = out.resolve("genbank");
    List<DownloadResult> results = new ArrayList<>();
    for (GenBankRelease.ReleaseFile f : files) {
      results.add(downloader.fetch(GenBankRelease.urlOf(base, f), dir, f.name()));
    }
    return results;
  }

  /** Fetches the UniRef100 FASTA into {@code out/uniref100/}, named as the URL's last segment. */
  public DownloadResult uniRef100(URI url, Path out) {
    return downloader.fetch(url, out.resolve("uniref100"), lastSegment(url));
  }

  static String lastSegment(URI url) {
    String path = url.getPath() == null ? "" : url.getPath();
    String name = path.substring(path.lastIndexOf('/') + 1);
    if (name.isEmpty()) {
      throw new DownloadError("the URL " + url + " names a folder, not a file");
    }
    return name;
  }
}
