package org.omnibiote.launch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.omnibiote.UserError;

/**
 * Runs one shell command on a host through the user's own {@code ssh} (their ~/.ssh/config, keys
 * and agent), never asking for a password: {@code BatchMode=yes}, so a host that would prompt fails
 * at once with ssh's message instead of hanging the launcher.
 */
public final class Ssh {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private final List<String> command;

  /**
   * {@code command}: the ssh program and its options, e.g. {@code ssh -p 2222} (words split on
   * spaces).
   */
  public Ssh(String command) {
    List<String> words = new ArrayList<>();
    for (String w : command.strip().split("\\s+", -1)) {
      if (!w.isEmpty()) {
        words.add(w);
      }
    }
    if (words.isEmpty()) {
      throw new UserError("--ssh: give the ssh command, e.g. 'ssh' or 'ssh -p 2222'");
    }
    this.command = List.copyOf(words);
  }

  /** The ssh command as given (for the launch record, so status and stop use the same). */
  public String command() {
    return String.join(" ", command);
  }

  /** What a remote command printed and how it ended (255: ssh itself failed). */
  public record Result(int exit, String out, String err) {
    /** ssh's or the command's last error line, for a message. */
    public String why() {
      String e = err.strip();
      int nl = e.lastIndexOf('\n');
      return e.isEmpty() ? "exit " + exit : e.substring(nl + 1) + " (exit " + exit + ")";
    }
  }

  /** Runs {@code script} (POSIX sh) on {@code host}; its words are quoted for the login shell. */
  public Result run(String host, String script) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(command);
    cmd.addAll(
        List.of(
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=15",
            "-n",
            host,
            "sh -c " + quote(script)));
    // Output to files: neither a full pipe nor a child that keeps a pipe open can block us.
    Path out = Files.createTempFile("omnibiote-ssh", ".out");
    Path err = Files.createTempFile("omnibiote-ssh", ".err");
    try {
      Process p;
      try {
        p =
            new ProcessBuilder(cmd)
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
      } catch (IOException e) {
        throw new UserError(
            "cannot run '"
                + command.get(0)
                + "' ("
                + e.getMessage()
                + "): install openssh-client"
                + " or give --ssh");
      }
      if (!p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new UserError(
            command() + " " + host + ": no answer within " + TIMEOUT.toSeconds() + " s");
      }
      return new Result(
          p.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /** {@code s} as one word for a POSIX shell. */
  public static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /** Every word of {@code words} quoted, space-separated. */
  public static String quote(List<String> words) {
    List<String> q = new ArrayList<>();
    for (String w : words) {
      q.add(quote(w));
    }
    return String.join(" ", q);
  }
}
