package org.omnibiote.follow;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.UserError;

/**
 * UniProt's {@code RELEASE.metalink} (Metalink 3.0): the release ({@code
 * <version>YYYY_NN</version>}) and per {@code <file name="...">} its {@code <size>} and {@code
 * <hash type="md5">}.
 */
final class Metalink {
  record Entry(String name, long size, String md5) {}

  private static final Pattern VERSION = Pattern.compile("<version>\\s*([^<\\s]+)\\s*</version>");
  private static final Pattern FILE =
      Pattern.compile("<file\\s+name\\s*=\\s*\"([^\"]+)\"\\s*>(.*?)</file>", Pattern.DOTALL);
  private static final Pattern SIZE = Pattern.compile("<size>\\s*(\\d+)\\s*</size>");
  private static final Pattern MD5 =
      Pattern.compile("<hash\\s+type\\s*=\\s*\"md5\"\\s*>\\s*([0-9a-fA-F]{32})\\s*</hash>");

  final String release;
  final List<Entry> files;

  private Metalink(String release, List<Entry> files) {
    this.release = release;
    this.files = files;
  }

  static Metalink parse(String xml, String where) {
    // The release is the <version> outside every <file> (a file may carry its own).
    String outside = FILE.matcher(xml).replaceAll("");
    Matcher v = VERSION.matcher(outside);
    if (!v.find()) {
      throw new UserError(where + ": no <version> (the UniRef100 release) in RELEASE.metalink");
    }
    List<Entry> files = new ArrayList<>();
    Matcher f = FILE.matcher(xml);
    while (f.find()) {
      Matcher s = SIZE.matcher(f.group(2));
      Matcher m = MD5.matcher(f.group(2));
      files.add(
          new Entry(
              f.group(1),
              s.find() ? Long.parseLong(s.group(1)) : -1,
              m.find() ? m.group(1).toLowerCase(java.util.Locale.ROOT) : null));
    }
    return new Metalink(v.group(1), files);
  }
}
