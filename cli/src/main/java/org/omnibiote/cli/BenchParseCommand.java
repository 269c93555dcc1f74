package org.omnibiote.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.omnibiote.UserError;
import org.omnibiote.bench.ReferenceTools;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.sources.RecordSources;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench parse}: single-thread GenBank parse rate of our parser against Biopython's
 * {@code SeqIO.parse(..., "genbank")} on the same flat file, repeated in memory.
 */
@Command(
    name = "parse",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark: single-thread GenBank parse rate (MB/s of flat file, documents built) of"
          + " our parser and of Biopython 1.80 (/usr/bin/python3, python3-biopython) on the"
          + " same file repeated in memory, and their ratio. Parsing only: no gzip, no disk.",
    })
public final class BenchParseCommand implements Callable<Integer> {
  private static final String PYTHON = ReferenceTools.PYTHON;
  private static final String SCRIPT =
      """
      import io, sys, time, warnings
      from Bio import SeqIO, BiopythonWarning
      warnings.simplefilter('ignore', BiopythonWarning)
      text = open(sys.argv[1], encoding='utf-8').read()
      n = len(text.encode('utf-8'))
      t = time.perf_counter(); c = time.process_time(); docs = 0; chars = 0
      for r in SeqIO.parse(io.StringIO(text), 'genbank'):
          d = '<' + r.annotations['molecule_type'] + '>' + str(r.seq).upper() + '<EOS>'
          docs += 1; chars += len(d)
      s = time.perf_counter() - t; c = time.process_time() - c
      print(n, docs, chars, s, c)""";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--input",
      paramLabel = "FILE",
      description =
          "GenBank flat file (default: the EMBOSS gbpri1.seq of ../shared/data,"
              + " 3.7 MB with a 2.2 Mbp record).")
  Path input;

  @Option(
      names = "--size-mb",
      defaultValue = "200",
      description = "Megabytes of repeated input for our parser (default: ${DEFAULT-VALUE}).")
  int sizeMb;

  @Option(
      names = "--python-size-mb",
      defaultValue = "20",
      description = "Megabytes of repeated input for Biopython (default: ${DEFAULT-VALUE}).")
  int pythonSizeMb;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "Timed rounds of our parser; the best is reported (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Override
  public Integer call() throws Exception {
    Path file = input != null ? input : defaultInput();
    if (!Files.isRegularFile(file)) {
      throw new UserError("no such file: " + file);
    }
    byte[] one = Files.readAllBytes(file);
    PrintStream out = System.out;

    byte[] ours = repeat(one, sizeMb);
    for (int i = 0; i < 2; i++) {
      parse(file, ours); // warm-up: JIT compilation
    }
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    double best = 0;
    double bestCpu = 0;
    long docs = 0;
    for (int i = 0; i < rounds; i++) {
      long t = System.nanoTime();
      long c = cpu.getCurrentThreadCpuTime();
      docs = parse(file, ours);
      best = Math.max(best, ours.length / 1e6 / ((System.nanoTime() - t) / 1e9));
      bestCpu = Math.max(bestCpu, ours.length / 1e6 / ((cpu.getCurrentThreadCpuTime() - c) / 1e9));
    }
    out.printf(
        Locale.ROOT,
        "omnibiote:  %.1f MB/s wall, %.1f MB/s of CPU time (best of %d rounds"
            + " over %.1f MB, %,d documents per round, 1 thread)%n",
        best,
        bestCpu,
        rounds,
        ours.length / 1e6,
        docs);

    double[] bio = biopython(repeat(one, pythonSizeMb), out);
    out.printf(
        Locale.ROOT, "ratio:      %.1fx wall, %.1fx CPU time%n", best / bio[0], bestCpu / bio[1]);
    return 0;
  }

  private static Path defaultInput() {
    String home = System.getProperty("omnibiote.home", ".");
    return Path.of(home)
        .toAbsolutePath()
        .resolveSibling("shared")
        .resolve("data/deb-emboss-test_6.6.0+dfsg-12/genbank/gbpri1.seq");
  }

  private static byte[] repeat(byte[] one, int mb) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(mb * 1_000_000 + one.length);
    while (buf.size() < mb * 1_000_000L) {
      buf.writeBytes(one);
    }
    return buf.toByteArray();
  }

  /** Parses {@code data} and builds every document, as the output would. */
  private static long parse(Path name, byte[] data) throws IOException {
    long docs = 0;
    long chars = 0;
    try (RecordSource src =
        RecordSources.open(
            new ByteArrayInputStream(data), name, SeqFormat.GENBANK, p -> {}, false)) {
      SeqRecord r;
      while ((r = src.next()) != null) {
        chars += r.document().length();
        docs++;
      }
    }
    return chars > 0 ? docs : 0;
  }

  /** Biopython's wall-clock and CPU-time MB/s on {@code data}. */
  private static double[] biopython(byte[] data, PrintStream out) throws Exception {
    if (!Files.isExecutable(Path.of(PYTHON))) {
      throw new UserError(
          "Biopython is needed under " + PYTHON + ": apt-get install -y python3-biopython");
    }
    Path tmp = Files.createTempFile("bench-parse", ".gb");
    try {
      Files.write(tmp, data);
      Process p =
          new ProcessBuilder(PYTHON, "-c", SCRIPT, tmp.toString())
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      String result = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
        throw new UserError("the Biopython run failed (is python3-biopython installed?)");
      }
      String[] f = result.split(" ", -1);
      double mb = Long.parseLong(f[0]) / 1e6;
      double secs = Double.parseDouble(f[3]);
      double cpuSecs = Double.parseDouble(f[4]);
      out.printf(
          Locale.ROOT,
          "biopython:  %.1f MB/s wall, %.1f MB/s of CPU time (%.1f MB, %s"
              + " documents, SeqIO.parse + str(seq).upper(), 1 thread)%n",
          mb / secs,
          mb / cpuSecs,
          mb,
          f[1]);
      return new double[] {mb / secs, mb / cpuSecs};
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
