package org.omnibiote.cli;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.download.DownloadSettings;
import org.omnibiote.download.HttpDownloader;
import org.omnibiote.follow.Follower;
import org.omnibiote.follow.SourceFolder;
import org.omnibiote.follow.SourceKind;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.shards.Generation;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code omnibiote follow}: keeps an ingest folder current with NCBI and UniProt. */
@Command(
    name = "follow",
    mixinStandardHelpOptions = true,
    description = {
      "Keep an ingest folder current: poll a GenBank release folder, GenBank's daily-nc folder"
          + " and a UniRef100 folder (https URLs or local folders), download what is new"
          + " (resumable; size, and MD5 where RELEASE.metalink publishes it, checked), parse and"
          + " tokenize it, and publish it as a new data generation of the folder"
          + " (DIR/generations/NNNNNN.json, written after its shards) that a running train adopts.",
      "Records are known by ACCESSION.VERSION (UniRef100: cluster id within its release): the"
          + " same version again adds nothing, a newer one supersedes the older, a new UniRef100"
          + " release supersedes the clusters of the last; a file whose content was published"
          + " before publishes nothing. A broken file is reported (file, line, record) and the"
          + " follower goes on. Runs below training: nice 10 and the SCHED_IDLE policy, tokenizer threads of the lowest"
          + " priority (--threads).",
      "Defaults come from omnibiote.follow in reference.conf."
    },
    footer = {
      "",
      "Examples:",
      "  bin/omnibiote follow --tokenizer ../shared/tokenizers/mixed_bpe.model --output runs/shards",
      "  bin/omnibiote follow --tokenizer M.model --output runs/shards --genbank-daily mirror/daily-nc"
          + " --uniref '' --once"
    })
public final class FollowCommand implements Callable<Integer> {

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "M.model",
      description = "SentencePiece model (the folder's own: another is refused).")
  Path tokenizer;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "DIR",
      description = "The ingest folder to publish into (created when missing).")
  Path output;

  @Option(
      names = "--genbank-release",
      paramLabel = "URL|DIR",
      description = "GenBank release folder (gbDIVn.seq.gz); '' = not followed.")
  String genbankRelease;

  @Option(
      names = "--genbank-daily",
      paramLabel = "URL|DIR",
      description = "GenBank daily-nc folder (ncMMDD.flat.gz); '' = not followed.")
  String genbankDaily;

  @Option(
      names = "--uniref",
      paramLabel = "URL|DIR",
      description = "UniRef100 folder with RELEASE.metalink; '' = not followed.")
  String uniref;

  @Option(
      names = "--interval",
      paramLabel = "DURATION",
      description = "Time between polls, e.g. 30m, 6h (default: omnibiote.follow.interval, 1h).")
  String interval;

  @Option(
      names = "--threads",
      paramLabel = "N",
      description = "Tokenizer threads (default: omnibiote.follow.threads, 1).")
  Integer threads;

  @Option(names = "--once", description = "Poll once and exit (for cron, or a test).")
  boolean once;

  @Mixin ConfigOption configOption;

  @Override
  public Integer call() throws Exception {
    Config config = configOption.load();
    Config f = config.getConfig("omnibiote.follow");
    List<SourceFolder> sources = new ArrayList<>();
    add(sources, SourceKind.GENBANK_RELEASE, pick(genbankRelease, f, "genbank-release"));
    add(sources, SourceKind.GENBANK_DAILY, pick(genbankDaily, f, "genbank-daily"));
    add(sources, SourceKind.UNIREF100, pick(uniref, f, "uniref100"));
    if (sources.isEmpty()) {
      throw new UserError("nothing to follow: give --genbank-release, --genbank-daily or --uniref");
    }
    Duration every =
        interval != null
            ? com.typesafe.config.ConfigFactory.parseString("d = " + interval).getDuration("d")
            : f.getDuration("interval");
    int n = threads != null ? threads : f.getInt("threads");
    if (n < 1) {
      throw new UserError("--threads " + n + ": give at least 1");
    }
    try (HttpDownloader http = new HttpDownloader(DownloadSettings.fromConfig(config));
        Follower follower =
            new Follower(
                output,
                SentencePieceTokenizer.load(tokenizer),
                tokenizer,
                IngestSettings.from(config),
                config,
                sources,
                http,
                n)) {
      if (once) {
        List<Generation> made = follower.pollOnce();
        System.out.println("follow: " + made.size() + " new generation(s) in " + output);
        return 0;
      }
      follower.run(every);
      return 0;
    }
  }

  private static String pick(String flag, Config f, String key) {
    return flag != null ? flag : f.getString(key);
  }

  private static void add(List<SourceFolder> into, SourceKind kind, String where) {
    if (where != null && !where.isBlank()) {
      into.add(SourceFolder.of(kind, where.trim()));
    }
  }
}
