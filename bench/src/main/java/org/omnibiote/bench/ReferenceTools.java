package org.omnibiote.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.UserError;

/**
 * The reference tools parity tests and benchmarks compare against: Debian's spm_encode and
 * Biopython (importable only under /usr/bin/python3). A missing tool is an error that says what to
 * install, never a silent skip.
 */
public final class ReferenceTools {
  public static final String PYTHON = "/usr/bin/python3";
  public static final String SPM_ENCODE = "spm_encode";

  private ReferenceTools() {}

  /**
   * Writes the original preprocessing's documents for every GenBank and FASTA file under {@code
   * dataDir} (as Biopython reads them) to {@code out}, one per line.
   */
  public static void biopythonDocuments(Path dataDir, Path out) throws IOException {
    runBiopython(
        "biopython_documents.py",
        List.of(dataDir.toString(), out.toString()),
        "Biopython could not write the documents of " + dataDir);
  }

  /**
   * What biopython_parse.py did: documents written, records skipped because their sequence is
   * undefined, documents written with an empty sequence, and its time from opening the input to
   * closing the output (imports not included).
   */
  public record BiopythonParse(long documents, long undefined, long empty, Timing timing) {}

  /**
   * Biopython's side of {@code bench parse}: parses the GenBank file {@code genbank} and writes the
   * original's documents to {@code out}, one a line, timing itself.
   */
  public static BiopythonParse biopythonParse(Path genbank, Path out) throws IOException {
    String report =
        runBiopython(
            "biopython_parse.py",
            List.of(genbank.toString(), out.toString()),
            "Biopython could not parse " + genbank);
    String[] f = report.strip().split(" ", -1);
    if (f.length != 5) {
      throw new IllegalStateException("biopython_parse.py printed '" + report.strip() + "'");
    }
    return new BiopythonParse(
        Long.parseLong(f[0]),
        Long.parseLong(f[1]),
        Long.parseLong(f[2]),
        new Timing(
            (long) (Double.parseDouble(f[3]) * 1e9), (long) (Double.parseDouble(f[4]) * 1e9)));
  }

  /** Runs a script of this package with Biopython's Python; returns what it printed. */
  private static String runBiopython(String script, List<String> args, String failure)
      throws IOException {
    Path file = Files.createTempFile("omnibiote-" + script.replace(".py", "-"), ".py");
    Path printed = Files.createTempFile("omnibiote-tool", ".out");
    try {
      try (InputStream s = ReferenceTools.class.getResourceAsStream(script)) {
        if (s == null) {
          throw new IllegalStateException(script + " is missing from the bench jar");
        }
        Files.copy(s, file, StandardCopyOption.REPLACE_EXISTING);
      }
      List<String> command = new ArrayList<>(List.of(PYTHON, file.toString()));
      command.addAll(args);
      Result r = run(command, null, printed);
      if (r.exitCode != 0) {
        throw new UserError(
            failure
                + " (exit "
                + r.exitCode
                + "): "
                + r.stderr.strip()
                + "\n  (install Debian's python3-biopython: apt-get install -y python3-biopython)");
      }
      return Files.readString(printed, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(file);
      Files.deleteIfExists(printed);
    }
  }

  /** Wall-clock and CPU (user + system) time of a finished run, in nanoseconds. */
  public record Timing(long wallNanos, long cpuNanos) {}

  /** Runs spm_encode over {@code input}, output to {@code output}; returns the wall time (ns). */
  public static long spmEncode(Path model, String format, Path input, Path output)
      throws IOException {
    return spmEncodeTimed(model, format, input, output).wallNanos();
  }

  /**
   * Runs spm_encode under bash, whose {@code times} builtin reports the child's user and system CPU
   * time, so that a rate can also be given per CPU-second on a busy machine.
   */
  public static Timing spmEncodeTimed(Path model, String format, Path input, Path output)
      throws IOException {
    Path times = Files.createTempFile("omnibiote-spm", ".times");
    try {
      String script = "\"$1\" --model=\"$2\" --output_format=\"$3\" || exit $?; times >\"$4\"";
      long t0 = System.nanoTime();
      Result r =
          run(
              List.of(
                  "bash",
                  "-c",
                  script,
                  "bash",
                  SPM_ENCODE,
                  model.toString(),
                  format,
                  times.toString()),
              input,
              output);
      long elapsed = System.nanoTime() - t0;
      if (r.exitCode == 127) {
        throw new UserError(
            "cannot run spm_encode; install Debian's sentencepiece (apt-get install -y sentencepiece)");
      }
      if (r.exitCode != 0) {
        throw new UserError("spm_encode failed (exit " + r.exitCode + "): " + r.stderr.strip());
      }
      List<String> lines = Files.readAllLines(times);
      return new Timing(elapsed, lines.size() < 2 ? -1 : timesToNanos(lines.get(1)));
    } finally {
      Files.deleteIfExists(times);
    }
  }

  /** A line of bash's {@code times}, "0m1.234s 0m0.056s" (user, system), to nanoseconds. */
  public static long timesToNanos(String line) {
    long total = 0;
    for (String part : line.trim().split("\\s+", -1)) {
      int m = part.indexOf('m');
      double minutes = Double.parseDouble(part.substring(0, m));
      double seconds = Double.parseDouble(part.substring(m + 1, part.length() - 1));
      total += (long) ((minutes * 60 + seconds) * 1e9);
    }
    return total;
  }

  private record Result(int exitCode, String stderr) {}

  private static Result run(List<String> command, Path stdin, Path stdout) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command);
    Path err = Files.createTempFile("omnibiote-tool", ".err");
    pb.redirectError(err.toFile());
    pb.redirectInput(
        stdin == null
            ? ProcessBuilder.Redirect.PIPE
            : ProcessBuilder.Redirect.from(stdin.toFile()));
    pb.redirectOutput(
        stdout == null
            ? ProcessBuilder.Redirect.DISCARD
            : ProcessBuilder.Redirect.to(stdout.toFile()));
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      Files.deleteIfExists(err);
      throw new UserError(
          "cannot run "
              + command.get(0)
              + " ("
              + e.getMessage()
              + "); install Debian's "
              + (command.get(0).equals(SPM_ENCODE)
                  ? "sentencepiece"
                  : "python3 and python3-biopython")
              + " (apt-get install -y sentencepiece python3-biopython)",
          e);
    }
    if (stdin == null) {
      p.getOutputStream().close();
    }
    try {
      int code = p.waitFor();
      return new Result(code, Files.readString(err, StandardCharsets.UTF_8));
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + command.get(0), e);
    } finally {
      Files.deleteIfExists(err);
    }
  }
}
