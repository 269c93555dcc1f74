package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.download.DatasetDownloader;
import org.omnibiote.download.DownloadResult;
import org.omnibiote.download.DownloadSettings;
import org.omnibiote.download.GenBankRelease;
import org.omnibiote.download.HttpDownloader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code omnibiote download}: the training data sets, resumable and size-checked. */
@Command(
    name = "download",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Download GenBank release files (gb*.seq.gz) and the UniRef100 FASTA into"
          + " OUTPUT/genbank/ and OUTPUT/uniref100/, the layout `ingest` reads.",
      "Downloads resume where they stopped (NAME.part), are retried with back-off, must"
          + " match the size the server announces, and appear under their final name only"
          + " when complete; files already complete are skipped. URLs, retries and timeouts"
          + " default to omnibiote.download in the configuration.",
    },
    footer = {
      "",
      "Example:%n  omnibiote download --genbank --divisions vrl,phg --max-files 4 --output data%n",
    })
public final class DownloadCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--genbank", description = "Fetch GenBank release files.")
  boolean genbank;

  @Option(names = "--uniref", description = "Fetch the UniRef100 FASTA.")
  boolean uniref;

  @Option(
      names = "--divisions",
      split = ",",
      paramLabel = "DIV",
      description = "GenBank divisions to fetch, e.g. vrl,phg (default: all). Implies --genbank.")
  List<String> divisions = new ArrayList<>();

  @Option(
      names = "--max-files",
      paramLabel = "N",
      description =
          "Fetch at most N GenBank files (in division order, then by number)."
              + " Implies --genbank.")
  Integer maxFiles;

  @Option(
      names = "--genbank-base-url",
      paramLabel = "URL",
      description =
          "Release folder whose HTML index lists the gb*.seq.gz files"
              + " (default: omnibiote.download.genbank-base-url, NCBI's GenBank release).")
  String genbankBaseUrl;

  @Option(
      names = "--uniref-url",
      paramLabel = "URL",
      description =
          "The UniRef100 FASTA, saved under its file name"
              + " (default: omnibiote.download.uniref100-url, UniProt's uniref100.fasta.gz).")
  String unirefUrl;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "DIR",
      description = "Folder to download into (genbank/ and uniref100/ are made inside).")
  Path output;

  @Override
  public Integer call() {
    if (maxFiles != null && maxFiles < 1) {
      throw new UserError("--max-files must be at least 1, got " + maxFiles);
    }
    List<String> divs = GenBankRelease.parseDivisions(divisions, "--divisions");
    boolean wantGenBank = genbank || !divs.isEmpty() || maxFiles != null;
    if (!wantGenBank && !uniref) {
      throw new UserError(
          "nothing to download: give --genbank (GenBank release files) and/or --uniref (UniRef100)");
    }
    Config config = ConfigFactory.load();
    Config dl = config.getConfig("omnibiote.download");
    URI genbankBase =
        HttpDownloader.parseUrl(
            genbankBaseUrl != null ? genbankBaseUrl : dl.getString("genbank-base-url"),
            genbankBaseUrl != null ? "--genbank-base-url" : "omnibiote.download.genbank-base-url");
    URI unirefUri =
        HttpDownloader.parseUrl(
            unirefUrl != null ? unirefUrl : dl.getString("uniref100-url"),
            unirefUrl != null ? "--uniref-url" : "omnibiote.download.uniref100-url");

    try (HttpDownloader http = new HttpDownloader(DownloadSettings.fromConfig(config))) {
      DatasetDownloader datasets = new DatasetDownloader(http);
      if (wantGenBank) {
        List<DownloadResult> gb =
            datasets.genBank(genbankBase, divs, maxFiles == null ? 0 : maxFiles, output);
        report("genbank", gb);
      }
      if (uniref) {
        DownloadResult r = datasets.uniRef100(unirefUri, output);
        report("uniref100", List.of(r));
      }
    }
    return 0;
  }

  private void report(String what, List<DownloadResult> results) {
    long skipped = results.stream().filter(DownloadResult::skipped).count();
    long bytes = results.stream().mapToLong(DownloadResult::size).sum();
    long fetched = results.stream().mapToLong(DownloadResult::transferred).sum();
    spec.commandLine()
        .getOut()
        .printf(
            Locale.ROOT,
            "%s: %d file%s, %.1f MB in %s (%d already complete; %.1f MB fetched now)%n",
            what,
            results.size(),
            results.size() == 1 ? "" : "s",
            bytes / 1e6,
            output.resolve(what),
            skipped,
            fetched / 1e6);
  }
}
