package org.omnibiote.ingest;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.UserError;
import org.omnibiote.tokenizer.SentencePieceTokenizer;

/**
 * An ingest in a JVM of its own, for the test that kills one: {@code IngestProcessMain MODEL OUTPUT
 * GENBANK_PATH... --uniref UNIREF_PATH...}; settings come from -Domnibiote.ingest.* like the real
 * command's.
 */
public final class IngestProcessMain {
  private IngestProcessMain() {}

  public static void main(String[] args) {
    try {
      Path model = Path.of(args[0]);
      Path output = Path.of(args[1]);
      List<Path> genbank = new ArrayList<>();
      List<Path> uniref = new ArrayList<>();
      List<Path> into = genbank;
      for (int i = 2; i < args.length; i++) {
        if (args[i].equals("--uniref")) {
          into = uniref;
        } else {
          into.add(Path.of(args[i]));
        }
      }
      Config config = ConfigFactory.load();
      new Ingest(
              SentencePieceTokenizer.load(model),
              model,
              IngestSettings.from(config),
              output,
              false,
              config)
          .run(Inputs.resolve(genbank, uniref), System.err);
      System.exit(0);
    } catch (UserError e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
    }
  }
}
