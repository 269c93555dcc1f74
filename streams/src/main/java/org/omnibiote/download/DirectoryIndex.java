package org.omnibiote.download;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The file names an HTML directory index (Apache/nginx autoindex, as NCBI's FTP-over-HTTPS serves)
 * links to directly inside its folder: {@code href}s to other folders, parents, sort links ({@code
 * ?C=M;O=A}) and other hosts are left out.
 */
public final class DirectoryIndex {
  private static final Pattern HREF =
      Pattern.compile(
          "href\\s*=\\s*(?:\"([^\"]*)\"|'([^']*)'|([^\\s>]+))", Pattern.CASE_INSENSITIVE);

  private DirectoryIndex() {}

  /** Ensures a folder URL ends in '/', so relative links resolve inside it. */
  public static URI asFolder(URI base) {
    String s = base.toString();
    return s.endsWith("/") ? base : URI.create(s + "/");
  }

  /** File names linked from {@code html}, the index page of {@code folder}, in page order. */
  public static List<String> fileNames(URI folder, String html) {
    URI base = asFolder(folder);
    Set<String> names = new LinkedHashSet<>();
    Matcher m = HREF.matcher(html);
    while (m.find()) {
      String href = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
      String name = nameInFolder(base, href.trim().replace("&amp;", "&"));
      if (name != null) {
        names.add(name);
      }
    }
    return new ArrayList<>(names);
  }

  private static String nameInFolder(URI base, String href) {
    if (stripQuery(href).isEmpty()) {
      return null; // sort links (?C=M;O=A) and anchors
    }
    URI target;
    try {
      target = base.resolve(new URI(stripQuery(href)));
    } catch (URISyntaxException | IllegalArgumentException e) {
      return null; // not a link we could fetch anyway
    }
    if (!sameOrigin(base, target) || target.getRawPath() == null) {
      return null;
    }
    String path = target.getRawPath();
    String folder =
        base.getRawPath() == null || base.getRawPath().isEmpty() ? "/" : base.getRawPath();
    if (!path.startsWith(folder)) {
      return null;
    }
    String rest = path.substring(folder.length());
    if (rest.isEmpty() || rest.contains("/")) {
      return null; // the folder itself, a sub-folder, or deeper
    }
    return URLDecoder.decode(rest, StandardCharsets.UTF_8);
  }

  private static String stripQuery(String href) {
    int cut = href.length();
    for (char c : new char[] {'?', '#'}) {
      int i = href.indexOf(c);
      if (i >= 0) {
        cut = Math.min(cut, i);
      }
    }
    return href.substring(0, cut);
  }

  private static boolean sameOrigin(URI base, URI target) {
    return target.getScheme() == null
        || (target.getScheme().equalsIgnoreCase(base.getScheme())
            && target.getHost() != null
            && target.getHost().equalsIgnoreCase(base.getHost())
            && target.getPort() == base.getPort());
  }
}
