package org.omnibiote.download;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.BufferedReader;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.UserError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The small real sample quickstart uses when it is given no data: a few GenBank records and a
 * UniProt FASTA, listed in {@code omnibiote.quickstart.sample}. Each entry names one of the
 * sample's base URLs ({@code ncbi-base-url}, {@code uniprot-base-url}) and a path under it, so
 * pointing the bases elsewhere (a mirror, or a local test server) moves the whole sample.
 */
public final class SampleDownloader {
  private static final Logger log = LoggerFactory.getLogger(SampleDownloader.class);

  /** Where the sample is described in the configuration. */
  public static final String CONFIG_PATH = "omnibiote.quickstart.sample";

  /** One file of the sample: where it comes from and the name it gets locally. */
  public record SampleFile(URI url, String name) {}

  private final HttpDownloader downloader;
  private final List<SampleFile> files;

  public SampleDownloader(HttpDownloader downloader, List<SampleFile> files) {
    this.downloader = downloader;
    this.files = List.copyOf(files);
  }

  /**
   * Fetches the sample {@code config} describes into {@code dir} with the download settings of
   * {@code config} (what quickstart calls when it has no --data); returns {@code dir}.
   */
  public static Path fetch(Config config, Path dir) {
    try (HttpDownloader http = new HttpDownloader(DownloadSettings.fromConfig(config))) {
      return new SampleDownloader(http, sampleFiles(config)).fetchInto(dir);
    }
  }

  /** The sample as {@code config} describes it, base URLs already filled in. */
  public static List<SampleFile> sampleFiles(Config config) {
    Config sample = config.getConfig(CONFIG_PATH);
    List<SampleFile> out = new ArrayList<>();
    List<? extends Config> entries = sample.getConfigList("files");
    for (int i = 0; i < entries.size(); i++) {
      Config e = entries.get(i);
      String where = CONFIG_PATH + ".files[" + i + "]";
      try {
        String baseKey = e.getString("base");
        if (!sample.hasPath(baseKey)) {
          throw new UserError(where + ": base '" + baseKey + "' is not a key of " + CONFIG_PATH);
        }
        URI base =
            DirectoryIndex.asFolder(
                HttpDownloader.parseUrl(sample.getString(baseKey), CONFIG_PATH + "." + baseKey));
        String path = e.getString("path");
        URI url = HttpDownloader.parseUrl(base + stripLeadingSlash(path), where);
        String name = e.getString("name");
        if (name.isBlank() || name.contains("/") || name.startsWith(".")) {
          throw new UserError(where + ": name must be a plain file name, got '" + name + "'");
        }
        out.add(new SampleFile(url, name));
      } catch (ConfigException ex) {
        throw new UserError(where + ": " + ex.getMessage(), ex);
      }
    }
    return out;
  }

  public List<SampleFile> files() {
    return files;
  }

  /**
   * Fetches every sample file into {@code dir} and returns {@code dir}. Files already there are
   * kept without asking the network (they only get their name once complete), so a second
   * quickstart works offline.
   */
  public Path fetchInto(Path dir) {
    int fetched = 0;
    for (SampleFile f : files) {
      if (Files.isRegularFile(dir.resolve(f.name()))) {
        continue;
      }
      DownloadResult r = downloader.fetch(f.url(), dir, f.name());
      checkContent(f, r.file());
      fetched++;
    }
    log.info("sample: {} files in {} ({} fetched now)", files.size(), dir, fetched);
    return dir;
  }

  /**
   * Web services answer a bad query with 200 and an error page or an empty body; such a file must
   * not reach the parsers as if it were data. GenBank text starts with LOCUS (after any blank
   * lines), FASTA with '>'.
   */
  private static void checkContent(SampleFile f, Path file) {
    String expected = f.name().endsWith(".fasta") || f.name().endsWith(".fa") ? ">" : "LOCUS";
    String start;
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
      String line;
      do {
        line = in.readLine();
      } while (line != null && line.isBlank());
      start = line == null ? "" : line;
    } catch (IOException e) {
      throw new UserError("cannot read " + file + ": " + e.getMessage(), e);
    }
    if (!start.startsWith(expected)) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        log.warn("cannot remove {}: {}", file, e.toString());
      }
      String shown = start.length() > 60 ? start.substring(0, 60) + "..." : start;
      throw new DownloadError(
          "the sample file "
              + f.name()
              + " from "
              + f.url()
              + " does not start with '"
              + expected
              + "' (first line: '"
              + shown
              + "'); it was removed");
    }
  }

  private static String stripLeadingSlash(String path) {
    return path.startsWith("/") ? path.substring(1) : path;
  }
}
