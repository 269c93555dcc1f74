package org.omnibiote.ingest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.omnibiote.UserError;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.shards.Dataset;
import org.omnibiote.sources.RecordSources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the PATHS of --genbank and --uniref into input files. A file named explicitly is taken
 * whatever its name (its format sniffed from its content). A folder is searched recursively and
 * each file is recognised by its content first (a LOCUS line: GenBank; a first line starting with
 * '>': FASTA), by its name when the content says neither (.seq .gb .gbk .gbff .gp / .fasta .fa
 * .faa, plain or .gz), so {@code titin_hum.aa} is FASTA and an extension-less release excerpt is
 * GenBank. What a folder search leaves out is reported in one summary line per run, grouped by
 * reason, not one line per file.
 */
public final class Inputs {
  private static final Logger log = LoggerFactory.getLogger(Inputs.class);

  static final List<String> GENBANK_SUFFIXES = List.of(".seq", ".gb", ".gbk", ".gbff", ".gp");
  static final List<String> FASTA_SUFFIXES = List.of(".fasta", ".fa", ".faa");

  /** How many file names a summary line shows per reason. */
  private static final int NAMES_SHOWN = 3;

  /**
   * The input files found and the files a folder search left out, by reason (reason to paths, in
   * path order).
   */
  public record Scan(List<InputFile> files, SortedMap<String, List<Path>> skipped) {
    /** Files left out, all reasons. */
    public int skippedCount() {
      return skipped.values().stream().mapToInt(List::size).sum();
    }

    /**
     * One line: how many files were left out, why, and a few of their names; empty when none, e.g.
     * {@code skipped 7 files: 5 neither GenBank nor FASTA by content or name (MANIFEST.tsv,
     * PROVENANCE.md, dev.csv and 2 more); 2 FASTA in a --genbank folder, give them to --uniref (
     * titin_hum.aa, PAX8_HUMAN)}.
     */
    public String summary() {
      if (skipped.isEmpty()) {
        return "";
      }
      StringBuilder sb =
          new StringBuilder("skipped ")
              .append(skippedCount())
              .append(skippedCount() == 1 ? " file: " : " files: ");
      String sep = "";
      for (Map.Entry<String, List<Path>> e : skipped.entrySet()) {
        List<Path> paths = e.getValue();
        sb.append(sep).append(paths.size()).append(' ').append(e.getKey()).append(" (");
        for (int i = 0; i < Math.min(NAMES_SHOWN, paths.size()); i++) {
          sb.append(i > 0 ? ", " : "").append(paths.get(i).getFileName());
        }
        if (paths.size() > NAMES_SHOWN) {
          sb.append(" and ").append(paths.size() - NAMES_SHOWN).append(" more");
        }
        sb.append(')');
        sep = "; ";
      }
      return sb.toString();
    }
  }

  private Inputs() {}

  /** The input files of both datasets, in a stable order, each file once; logs what it skipped. */
  public static List<InputFile> resolve(List<Path> genbank, List<Path> uniref) {
    Scan scan = scan(genbank, uniref);
    logSkipped(scan);
    return scan.files();
  }

  /** As {@link #resolve}, returning what was skipped instead of logging it. */
  public static Scan scan(List<Path> genbank, List<Path> uniref) {
    Map<Path, InputFile> byPath = new LinkedHashMap<>();
    Map<Path, String> skipped = new TreeMap<>();
    collect(genbank, Dataset.GENBANK, byPath, skipped);
    collect(uniref, Dataset.UNIREF100, byPath, skipped);
    return new Scan(new ArrayList<>(byPath.values()), byReason(skipped, byPath));
  }

  /**
   * The GenBank and FASTA files of one folder holding both (quickstart's --data): each file goes to
   * the dataset its content (else its name) says; the rest is reported in one line and skipped.
   */
  public static List<InputFile> resolveFolder(Path folder) {
    Scan scan = scanFolder(folder);
    logSkipped(scan);
    return scan.files();
  }

  /** As {@link #resolveFolder}, returning what was skipped instead of logging it. */
  public static Scan scanFolder(Path folder) {
    Path root = folder.toAbsolutePath().normalize();
    if (!Files.isDirectory(root)) {
      throw new UserError(folder + ": no such folder");
    }
    Map<Path, InputFile> byPath = new LinkedHashMap<>();
    Map<Path, String> skipped = new TreeMap<>();
    for (Path f : walk(root)) {
      Recognised r = recognise(f);
      if (r.format() == null) {
        skipped.put(f, r.why());
      } else {
        add(
            f,
            r.format() == SeqFormat.GENBANK ? Dataset.GENBANK : Dataset.UNIREF100,
            r.format(),
            byPath);
      }
    }
    return new Scan(new ArrayList<>(byPath.values()), byReason(skipped, byPath));
  }

  private static void logSkipped(Scan scan) {
    if (!scan.skipped().isEmpty()) {
      log.info("{}", scan.summary());
    }
  }

  /** What a file is: its format by content, else by name; null with the reason when neither. */
  record Recognised(SeqFormat format, String why) {}

  static Recognised recognise(Path file) {
    Optional<SeqFormat> byContent;
    try {
      byContent = RecordSources.sniffContent(file);
    } catch (UserError e) {
      return new Recognised(null, "unreadable (" + e.getMessage() + ")");
    }
    if (byContent.isPresent()) {
      return new Recognised(byContent.get(), null);
    }
    if (matches(file, GENBANK_SUFFIXES)) {
      return new Recognised(SeqFormat.GENBANK, null);
    }
    if (matches(file, FASTA_SUFFIXES)) {
      return new Recognised(SeqFormat.FASTA, null);
    }
    return new Recognised(null, "neither GenBank nor FASTA by content or name");
  }

  /** Skip reasons to paths, leaving out files another PATH took. */
  private static SortedMap<String, List<Path>> byReason(
      Map<Path, String> skipped, Map<Path, InputFile> taken) {
    SortedMap<String, List<Path>> out = new TreeMap<>();
    skipped.forEach(
        (p, why) -> {
          if (!taken.containsKey(p)) {
            out.computeIfAbsent(why, k -> new ArrayList<>()).add(p);
          }
        });
    return out;
  }

  private static List<Path> walk(Path folder) {
    try (Stream<Path> walk = Files.walk(folder)) {
      return walk.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException | UncheckedIOException e) {
      throw new UserError("cannot search " + folder + ": " + e.getMessage());
    }
  }

  private static void collect(
      List<Path> paths, Dataset dataset, Map<Path, InputFile> into, Map<Path, String> skipped) {
    for (Path given : paths) {
      Path path = given.toAbsolutePath().normalize();
      if (!Files.exists(path)) {
        throw new UserError(flag(dataset) + " " + given + ": no such file or folder");
      }
      if (Files.isDirectory(path)) {
        int found = 0;
        for (Path f : walk(path)) {
          Recognised r = recognise(f);
          if (r.format() == formatOf(dataset)) {
            add(f, dataset, r.format(), into);
            found++;
          } else if (r.format() != null) {
            skipped.putIfAbsent(
                f,
                r.format() == SeqFormat.GENBANK
                    ? "GenBank in a --uniref folder, give them to --genbank"
                    : "FASTA in a --genbank folder, give them to --uniref");
          } else {
            skipped.putIfAbsent(f, r.why());
          }
        }
        if (found == 0) {
          log.warn("{} holds no {} files", path, dataset.folder());
        }
      } else {
        add(path, dataset, sniff(path, dataset), into);
      }
    }
  }

  static boolean matches(Path file, List<String> suffixes) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".gz")) {
      name = name.substring(0, name.length() - 3);
    }
    for (String s : suffixes) {
      if (name.endsWith(s)) {
        return true;
      }
    }
    return false;
  }

  private static SeqFormat sniff(Path file, Dataset dataset) {
    SeqFormat format;
    try {
      format = RecordSources.sniff(file);
    } catch (UserError e) {
      throw new UserError(flag(dataset) + " " + e.getMessage(), e);
    }
    if (format != formatOf(dataset)) {
      log.warn(
          "{} is {} but was given to {}; ingesting it into {}",
          file,
          format,
          flag(dataset),
          dataset.folder());
    }
    return format;
  }

  private static void add(Path file, Dataset dataset, SeqFormat format, Map<Path, InputFile> into) {
    InputFile previous = into.get(file);
    if (previous != null) {
      if (previous.dataset() != dataset) {
        throw new UserError(file + " is given to both --genbank and --uniref");
      }
      return;
    }
    try {
      into.put(
          file,
          new InputFile(
              file, dataset, format, Files.size(file), Files.getLastModifiedTime(file).toMillis()));
    } catch (IOException e) {
      throw new UserError("cannot read " + file + ": " + e.getMessage());
    }
  }

  static SeqFormat formatOf(Dataset dataset) {
    return dataset == Dataset.GENBANK ? SeqFormat.GENBANK : SeqFormat.FASTA;
  }

  static String flag(Dataset dataset) {
    return dataset == Dataset.GENBANK ? "--genbank" : "--uniref";
  }
}
