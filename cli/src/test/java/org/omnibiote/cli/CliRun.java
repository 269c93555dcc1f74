package org.omnibiote.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** One run of the command line in this JVM, with what it printed on stdout and stderr. */
record CliRun(int exitCode, String out, String err) {

  /** Runs {@link Main#execute} with System.out and System.err captured (as UTF-8). */
  static CliRun run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.execute(args);
      return new CliRun(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /** The ../shared folder (real data and tokenizers), as surefire's omnibiote.shared names it. */
  static Path shared() {
    return Path.of(System.getProperty("omnibiote.shared")).toAbsolutePath().normalize();
  }
}
