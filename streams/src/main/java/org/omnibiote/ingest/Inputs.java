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
import java.util.stream.Stream;
import org.omnibiote.UserError;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.shards.Dataset;
import org.omnibiote.sources.RecordSources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the PATHS of --genbank and --uniref into input files. A file named explicitly is taken
 * whatever its name (its format sniffed from its content); a folder is searched recursively for the
 * dataset's file names, and every other file in it is reported as skipped.
 */
public final class Inputs {
  private static final Logger log = LoggerFactory.getLogger(Inputs.class);

  static final List<String> GENBANK_SUFFIXES = List.of(".seq", ".gb", ".gbk", ".gbff", ".gp");
  static final List<String> FASTA_SUFFIXES = List.of(".fasta", ".fa", ".faa");

  private Inputs() {}

  /** The input files of both datasets, in a stable order, each file once. */
  public static List<InputFile> resolve(List<Path> genbank, List<Path> uniref) {
    Map<Path, InputFile> byPath = new LinkedHashMap<>();
    collect(genbank, Dataset.GENBANK, byPath);
    collect(uniref, Dataset.UNIREF100, byPath);
    return new ArrayList<>(byPath.values());
  }

  /**
   * The GenBank and FASTA files of one folder holding both (quickstart's --data): each file goes to
   * the dataset its name says; files named neither way are reported and skipped.
   */
  public static List<InputFile> resolveFolder(Path folder) {
    Path root = folder.toAbsolutePath().normalize();
    if (!Files.isDirectory(root)) {
      throw new UserError(folder + ": no such folder");
    }
    Map<Path, InputFile> byPath = new LinkedHashMap<>();
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
        if (matches(f, GENBANK_SUFFIXES)) {
          add(f, Dataset.GENBANK, SeqFormat.GENBANK, byPath);
        } else if (matches(f, FASTA_SUFFIXES)) {
          add(f, Dataset.UNIREF100, SeqFormat.FASTA, byPath);
        } else {
          log.info(
              "skipping {}: neither a GenBank ({}) nor a FASTA ({}) file name",
              f,
              String.join(" ", GENBANK_SUFFIXES),
              String.join(" ", FASTA_SUFFIXES));
        }
      }
    } catch (IOException | UncheckedIOException e) {
      throw new UserError("cannot search " + folder + ": " + e.getMessage());
    }
    return new ArrayList<>(byPath.values());
  }

  private static void collect(List<Path> paths, Dataset dataset, Map<Path, InputFile> into) {
    for (Path given : paths) {
      Path path = given.toAbsolutePath().normalize();
      if (!Files.exists(path)) {
        throw new UserError(flag(dataset) + " " + given + ": no such file or folder");
      }
      if (Files.isDirectory(path)) {
        for (Path f : search(path, dataset)) {
          add(f, dataset, formatOf(dataset), into);
        }
      } else {
        add(path, dataset, sniff(path, dataset), into);
      }
    }
  }

  private static List<Path> search(Path folder, Dataset dataset) {
    List<String> suffixes = dataset == Dataset.GENBANK ? GENBANK_SUFFIXES : FASTA_SUFFIXES;
    List<Path> found = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(folder)) {
      walk.filter(Files::isRegularFile)
          .sorted()
          .forEach(
              f -> {
                if (matches(f, suffixes)) {
                  found.add(f);
                } else {
                  log.info(
                      "skipping {}: not a {} file name ({}, plain or .gz)",
                      f,
                      dataset.folder(),
                      String.join(" ", suffixes));
                }
              });
    } catch (IOException | UncheckedIOException e) {
      throw new UserError("cannot search " + folder + ": " + e.getMessage());
    }
    if (found.isEmpty()) {
      log.warn("{} holds no {} files", folder, dataset.folder());
    }
    return found;
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
