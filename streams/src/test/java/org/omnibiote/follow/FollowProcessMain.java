package org.omnibiote.follow;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import org.omnibiote.UserError;
import org.omnibiote.download.DownloadSettings;
import org.omnibiote.download.HttpDownloader;
import org.omnibiote.ingest.IngestSettings;
import org.omnibiote.tokenizer.SentencePieceTokenizer;

/**
 * One poll of a follower in a JVM of its own, for the test that kills one: {@code FollowProcessMain
 * MODEL OUTPUT DAILY_FOLDER}; -Domnibiote.ingest.test-delay-per-record slows it down.
 */
public final class FollowProcessMain {
  private FollowProcessMain() {}

  public static void main(String[] args) throws Exception {
    try {
      Path model = Path.of(args[0]);
      Config config = ConfigFactory.load();
      try (HttpDownloader http = new HttpDownloader(DownloadSettings.fromConfig(config));
          Follower f =
              new Follower(
                  Path.of(args[1]),
                  SentencePieceTokenizer.load(model),
                  model,
                  IngestSettings.from(config),
                  config,
                  List.of(SourceFolder.of(SourceKind.GENBANK_DAILY, args[2])),
                  http,
                  1)) {
        System.err.println("published " + f.pollOnce().size());
      }
      System.exit(0);
    } catch (UserError e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
    }
  }
}
