package org.omnibiote.download;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Makes a {@link LocalHttpServer} answer the quickstart sample's URLs with the real files of the
 * same names under a data folder (the sample's names match the copies in {@code ../shared/data},
 * e.g. {@code NC_045512.2.gb}), for tests of quickstart without {@code --data}.
 *
 * <pre>{@code
 * try (LocalHttpServer server = LocalHttpServer.serve(tmp)) {
 *   Map<String, String> overrides = SampleMirror.serve(server, sharedData);
 *   // in-process: ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.load())
 *   // bin/omnibiote: OMNIBIOTE_JAVA_OPTS="-Dkey=value ..." for each entry
 * }
 * }</pre>
 */
public final class SampleMirror {
  private SampleMirror() {}

  /**
   * Routes every sample entry of the default configuration to its file under {@code data} and
   * returns the configuration overrides (key to value) that point the sample's base URLs at the
   * server.
   *
   * @throws IllegalStateException when a sample file has no copy under {@code data}
   */
  public static Map<String, String> serve(LocalHttpServer server, Path data) {
    Map<String, String> overrides = new LinkedHashMap<>();
    overrides.put(SampleDownloader.CONFIG_PATH + ".ncbi-base-url", server.url("ncbi/").toString());
    overrides.put(
        SampleDownloader.CONFIG_PATH + ".uniprot-base-url", server.url("uniprot/").toString());
    Config config =
        ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.defaultReference());
    for (SampleDownloader.SampleFile f : SampleDownloader.sampleFiles(config)) {
      URI u = f.url();
      server.route(
          u.getRawPath() + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery()),
          find(data, f.name()));
    }
    return overrides;
  }

  private static Path find(Path data, String name) {
    try (Stream<Path> files = Files.walk(data)) {
      List<Path> hits = files.filter(p -> p.getFileName().toString().equals(name)).toList();
      if (hits.size() != 1) {
        throw new IllegalStateException(
            "the sample file " + name + " should exist once under " + data + ", found " + hits);
      }
      return hits.get(0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
