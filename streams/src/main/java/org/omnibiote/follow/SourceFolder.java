package org.omnibiote.follow;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.omnibiote.UserError;
import org.omnibiote.download.DirectoryIndex;
import org.omnibiote.download.DownloadError;
import org.omnibiote.download.HttpDownloader;

/**
 * One watched folder: a local folder or an HTTPS base URL (its HTML index, as NCBI serves it; for
 * UniRef100 its RELEASE.metalink). Lists the files of its kind in name order and makes a listed
 * file available locally: read in place, or downloaded resumably ({@link HttpDownloader}: {@code
 * .part}, Range, size checked) and checked against the MD5 the folder publishes.
 */
public final class SourceFolder {
  private final SourceKind kind;
  private final String where;
  private final URI url;
  private final Path local;

  private SourceFolder(SourceKind kind, String where, URI url, Path local) {
    this.kind = kind;
    this.where = where;
    this.url = url;
    this.local = local;
  }

  /** {@code where} is an http(s) URL or a local folder. */
  public static SourceFolder of(SourceKind kind, String where) {
    if (where.startsWith("http://") || where.startsWith("https://")) {
      return new SourceFolder(
          kind, where, DirectoryIndex.asFolder(HttpDownloader.parseUrl(where, kind.label())), null);
    }
    Path p = Path.of(where).toAbsolutePath().normalize();
    if (!Files.isDirectory(p)) {
      throw new UserError(kind.label() + " " + where + ": no such folder");
    }
    return new SourceFolder(kind, where, null, p);
  }

  public SourceKind kind() {
    return kind;
  }

  public String where() {
    return where;
  }

  /** The files of this folder's kind, in name order. */
  public List<RemoteFile> list(HttpDownloader http) {
    if (kind == SourceKind.UNIREF100) {
      return listUniRef(http);
    }
    List<String> names = new ArrayList<>();
    if (local != null) {
      try (Stream<Path> files = Files.list(local)) {
        files.filter(Files::isRegularFile).map(f -> f.getFileName().toString()).forEach(names::add);
      } catch (IOException e) {
        throw new UserError("cannot list " + local + ": " + e.getMessage(), e);
      }
    } else {
      names.addAll(DirectoryIndex.fileNames(url, http.fetchText(url)));
    }
    return names.stream()
        .filter(kind::matches)
        .sorted(Comparator.naturalOrder())
        .map(n -> file(n, -1, null, null))
        .toList();
  }

  private List<RemoteFile> listUniRef(HttpDownloader http) {
    String xml;
    if (local != null) {
      Path m = local.resolve("RELEASE.metalink");
      if (!Files.isRegularFile(m)) {
        return List.of();
      }
      try {
        xml = Files.readString(m, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UserError("cannot read " + m + ": " + e.getMessage(), e);
      }
    } else {
      try {
        xml = http.fetchText(url.resolve("RELEASE.metalink"));
      } catch (DownloadError e) {
        if (e.getMessage().startsWith("not found")) {
          return List.of();
        }
        throw e;
      }
    }
    Metalink m = Metalink.parse(xml, where + "RELEASE.metalink");
    return m.files.stream()
        .filter(e -> kind.matches(e.name()))
        .map(e -> file(e.name(), e.size(), e.md5(), m.release))
        .toList();
  }

  private RemoteFile file(String name, long size, String md5, String release) {
    return local != null
        ? new RemoteFile(kind, name, null, local.resolve(name), size, md5, release)
        : new RemoteFile(kind, name, url.resolve(name), null, size, md5, release);
  }

  /**
   * The file on local disk: itself for a local folder, else downloaded into {@code downloads}; its
   * size and MD5 checked against what the folder published.
   */
  public static Path fetch(RemoteFile f, HttpDownloader http, Path downloads) {
    Path path = f.local() != null ? f.local() : http.fetch(f.url(), downloads, f.name()).file();
    try {
      long size = Files.size(path);
      if (f.size() >= 0 && size != f.size()) {
        throw new DownloadError(
            f.origin() + ": " + size + " bytes but the folder announces " + f.size());
      }
      if (f.md5() != null) {
        String md5 = digest(path, "MD5");
        if (!md5.equalsIgnoreCase(f.md5())) {
          if (f.local() == null) {
            Files.deleteIfExists(path);
          }
          throw new DownloadError(
              f.origin() + ": MD5 " + md5 + " but RELEASE.metalink publishes " + f.md5());
        }
      }
    } catch (IOException e) {
      throw new UserError("cannot read " + path + ": " + e.getMessage(), e);
    }
    return path;
  }

  /** Lower-case hex digest of a file. */
  public static String digest(Path file, String algorithm) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
