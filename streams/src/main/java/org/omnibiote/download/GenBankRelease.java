package org.omnibiote.download;

import java.net.URI;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.UserError;

/**
 * Chooses GenBank release files ({@code gbDIVn.seq.gz}, e.g. {@code gbvrl12.seq.gz}) from a release
 * folder's listing: only the asked divisions, in the order asked and by file number within a
 * division (gbvrl2 before gbvrl10), at most {@code maxFiles} in all.
 */
public final class GenBankRelease {
  private static final Pattern RELEASE_FILE = Pattern.compile("gb([a-z]{3})(\\d+)\\.seq\\.gz");
  private static final Pattern DIVISION = Pattern.compile("[a-z]{3}");

  private GenBankRelease() {}

  /** One release file. */
  public record ReleaseFile(String division, int number, String name) {}

  /**
   * Lowercases and checks division codes as a user types them ({@code VRL}, {@code phg}); a code
   * that is not three letters is refused, naming the flag.
   */
  public static List<String> parseDivisions(List<String> raw, String flag) {
    List<String> out = new ArrayList<>();
    for (String r : raw) {
      for (String part : r.split(",", -1)) {
        String d = part.trim().toLowerCase(Locale.ROOT);
        if (d.isEmpty()) {
          continue;
        }
        if (d.startsWith("gb") && d.length() == 5) {
          d = d.substring(2); // "gbvrl" means the same as "vrl"
        }
        if (!DIVISION.matcher(d).matches()) {
          throw new UserError(
              flag
                  + ": '"
                  + part.trim()
                  + "' is not a GenBank division code"
                  + " (three letters, e.g. vrl, phg, bct, pln)");
        }
        if (!out.contains(d)) {
          out.add(d);
        }
      }
    }
    return out;
  }

  /**
   * The release files among {@code names} (a folder listing) of the given divisions (all when
   * empty), ordered as described above and cut to {@code maxFiles} (no limit when <= 0).
   */
  public static List<ReleaseFile> select(List<String> names, List<String> divisions, int maxFiles) {
    Map<String, ReleaseFile> byName = new LinkedHashMap<>();
    for (String name : names) {
      Matcher m = RELEASE_FILE.matcher(name);
      if (m.matches() && (divisions.isEmpty() || divisions.contains(m.group(1)))) {
        byName.put(name, new ReleaseFile(m.group(1), Integer.parseInt(m.group(2)), name));
      }
    }
    Comparator<ReleaseFile> order =
        divisions.isEmpty()
            ? Comparator.comparing(ReleaseFile::division)
            : Comparator.comparingInt(f -> divisions.indexOf(f.division()));
    List<ReleaseFile> files = new ArrayList<>(byName.values());
    files.sort(order.thenComparingInt(ReleaseFile::number));
    return maxFiles > 0 && files.size() > maxFiles ? files.subList(0, maxFiles) : files;
  }

  /** The URL of a release file inside the release folder {@code base}. */
  public static URI urlOf(URI base, ReleaseFile file) {
    return DirectoryIndex.asFolder(base).resolve(file.name());
  }
}
