package org.omnibiote.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.zip.GZIPOutputStream;
import org.omnibiote.UserError;
import org.omnibiote.bench.ReferenceTools;
import org.omnibiote.io.Folders;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench ingest}: end-to-end ingest rate of the original pipeline (gunzip,
 * Biopython's GenBank parser, documents, spm_encode, numpy) against {@code omnibiote ingest}, both
 * as fresh processes on the same .seq.gz input in the same run.
 */
@Command(
    name = "ingest",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark: MB/s of GenBank flat file (.seq.gz in, token shards out) for the original"
          + " pipeline and for 'omnibiote ingest', each a fresh process (interpreter / JVM start"
          + " included), and their ratio.",
      "Input: every GenBank file of --data that Biopython parses cleanly (no error, no"
          + " warning), concatenated, repeated to --size-mb and gzipped.",
      "The original is reproduced by a short Python script run with /usr/bin/python3"
          + " (Debian's python3-biopython, python3-numpy) and spm_encode (sentencepiece)."
    })
public final class BenchIngestCommand implements Callable<Integer> {
  private static final String PYTHON = ReferenceTools.PYTHON;

  @Mixin GenBankBenchInput inputs;

  @Option(
      names = "--size-mb",
      defaultValue = "20",
      description = "Flat-file megabytes of input to build (default: ${DEFAULT-VALUE}).")
  double sizeMb;

  @Option(
      names = "--output",
      paramLabel = "DIR",
      description = "Keep the input and both outputs here (default: a temporary folder, deleted).")
  Path output;

  private static final String CHECK_SCRIPT =
      """
      import sys, warnings
      from Bio import BiopythonWarning, SeqIO
      warnings.simplefilter('error', BiopythonWarning)
      for f in sys.argv[1:]:
          try:
              n = 0
              with open(f) as h:
                  for r in SeqIO.parse(h, 'genbank'):
                      str(r.seq); r.annotations['molecule_type']; n += 1
              if n:
                  print(f)
          except Exception as e:
              print('not clean: %s: %s: %s' % (f, type(e).__name__, e), file=sys.stderr)
      """;

  /** The original preprocessing: gunzip, Biopython, documents, spm_encode, numpy. */
  private static final String ORIGINAL_SCRIPT =
      """
      import gzip, subprocess, sys
      import numpy as np
      from Bio import SeqIO
      src, model, work, banned = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
      docs = work + '/docs.txt'
      n = 0
      with gzip.open(src, 'rt') as h, open(docs, 'w') as out:
          for r in SeqIO.parse(h, 'genbank'):
              out.write('<' + r.annotations['molecule_type'] + '>' + str(r.seq) + '<EOS>\\n')
              n += 1
      with open(docs) as i, open(work + '/ids.txt', 'w') as o:
          subprocess.run(['spm_encode', '--model', model, '--output_format=id'], stdin=i, stdout=o, check=True)
      with open(work + '/ids.txt') as f:
          ids = np.array([int(t) for line in f for t in line.split() if int(t) != banned], dtype=np.uint16)
      np.save(work + '/tokens.npy', ids)
      print(n, ids.shape[0])
      """;

  @Override
  public Integer call() throws Exception {
    Path home = GenBankBenchInput.home();
    Path model = inputs.model();
    requireTools();
    Path work = output != null ? output : Files.createTempDirectory("bench-ingest");
    Files.createDirectories(work);
    try {
      List<Path> clean = cleanGenBankFiles(work);
      Path input = work.resolve("input.seq.gz");
      long flatBytes = buildInput(clean, input);
      System.out.printf(
          Locale.ROOT,
          "input: %d GenBank files Biopython parses cleanly, repeated to %.1f MB of flat file"
              + " (%.1f MB gzipped)%n",
          clean.size(),
          flatBytes / 1e6,
          Files.size(input) / 1e6);

      Path originalWork = Files.createDirectories(work.resolve("original"));
      Path script = work.resolve("original.py");
      Files.writeString(script, ORIGINAL_SCRIPT);
      // Build the distribution now, so the timed run measures ingest, not mvn.
      run(
          List.of(home.resolve("bin/omnibiote").toString(), "--version"),
          work.resolve("build.log"));

      // The original's loader deletes the banned '\u2581' id (65533 in mixed_bpe).
      int banned = SentencePieceTokenizer.load(model).pieceToId("\u2581");
      Timed original =
          timed(
              List.of(
                  PYTHON,
                  script.toString(),
                  input.toString(),
                  model.toString(),
                  originalWork.toString(),
                  Integer.toString(banned)),
              work.resolve("original.log"));
      String printed = original.stdout().trim();
      String[] counts = printed.substring(printed.lastIndexOf('\n') + 1).split(" ", -1);

      Path ours = work.resolve("omnibiote");
      Folders.deleteTree(ours);
      Timed omnibiote =
          timed(
              List.of(
                  home.resolve("bin/omnibiote").toString(),
                  "ingest",
                  "--tokenizer",
                  model.toString(),
                  "--genbank",
                  input.toString(),
                  "--output",
                  ours.toString()),
              work.resolve("omnibiote.log"));
      // Count what ingest made from the input; a val shard copied from train (tiny inputs) is
      // not part of that.
      long ourDocs = 0;
      long ourTokens = 0;
      for (JsonNode shard :
          new ObjectMapper().readTree(ours.resolve("manifest.json").toFile()).get("shards")) {
        if (shard.path("copiedFrom").isMissingNode() || shard.path("copiedFrom").isNull()) {
          ourDocs += shard.get("documents").asLong();
          ourTokens += shard.get("tokens").asLong();
        }
      }

      double mb = flatBytes / 1e6;
      System.out.printf(
          Locale.ROOT,
          "original (Biopython + spm_encode + numpy): %7.2f s  %7.2f MB/s"
              + "   CPU %7.2f s  %7.2f MB per CPU-s  (%s documents, %s tokens)%n",
          original.wallSecs(),
          mb / original.wallSecs(),
          original.cpuSecs(),
          mb / original.cpuSecs(),
          counts[0],
          counts[1]);
      System.out.printf(
          Locale.ROOT,
          "omnibiote ingest (JVM start included):     %7.2f s  %7.2f MB/s"
              + "   CPU %7.2f s  %7.2f MB per CPU-s  (%d documents, %d tokens)%n",
          omnibiote.wallSecs(),
          mb / omnibiote.wallSecs(),
          omnibiote.cpuSecs(),
          mb / omnibiote.cpuSecs(),
          ourDocs,
          ourTokens);
      System.out.printf(
          Locale.ROOT,
          "ratio: %.2fx wall clock (%.2fx in CPU time; on a busy machine the wall ratio is noisy)%n",
          original.wallSecs() / omnibiote.wallSecs(),
          original.cpuSecs() / omnibiote.cpuSecs());
      if (ourDocs != Long.parseLong(counts[0]) || ourTokens != Long.parseLong(counts[1])) {
        System.out.println("MISMATCH: the two pipelines made different documents or tokens");
        return 1;
      }
      return 0;
    } finally {
      if (output == null) {
        Folders.deleteTree(work);
      }
    }
  }

  private static void requireTools() throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(
                PYTHON,
                "-c",
                "import Bio, numpy; import shutil, sys;"
                    + " sys.exit(0 if shutil.which('spm_encode') else 3)")
            .redirectErrorStream(true)
            .start();
    p.getInputStream().readAllBytes();
    if (p.waitFor() != 0) {
      throw new UserError(
          "the benchmark needs Debian's python3-biopython, python3-numpy and"
              + " sentencepiece: apt-get install -y python3-biopython python3-numpy sentencepiece");
    }
  }

  /**
   * GenBank files of the data folder (by MANIFEST.tsv kind, else by name) Biopython parses cleanly.
   */
  private List<Path> cleanGenBankFiles(Path work) throws Exception {
    List<Path> candidates = inputs.genBankFiles();
    Path check = work.resolve("check.py");
    Files.writeString(check, CHECK_SCRIPT);
    List<String> cmd = new ArrayList<>(List.of(PYTHON, check.toString()));
    candidates.forEach(c -> cmd.add(c.toString()));
    String out = run(cmd, work.resolve("check.log"));
    List<Path> clean = out.lines().filter(l -> !l.isBlank()).map(Path::of).toList();
    if (clean.isEmpty()) {
      throw new UserError(
          "no GenBank file in " + inputs.dataDir() + " parses cleanly with Biopython");
    }
    return clean;
  }

  private long buildInput(List<Path> files, Path gz) throws IOException {
    long target = (long) (sizeMb * 1e6);
    long written = 0;
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz), 1 << 16)) {
      while (written < target) {
        for (Path f : files) {
          byte[] b = Files.readAllBytes(f);
          out.write(b);
          written += b.length;
          if (b.length > 0 && b[b.length - 1] != '\n') {
            out.write('\n');
            written++;
          }
        }
      }
    }
    return written;
  }

  /** A finished command: its stdout, wall-clock seconds and CPU seconds (user + sys). */
  record Timed(String stdout, double wallSecs, double cpuSecs) {}

  /**
   * Runs a command under bash and reads its CPU time (it and every process it waited for,
   * spm_encode included) from bash's {@code times}, printed last on stderr.
   */
  static Timed timed(List<String> cmd, Path log) throws IOException, InterruptedException {
    List<String> wrapped =
        new ArrayList<>(List.of("bash", "-c", "\"$@\"; rc=$?; times >&2; exit $rc", "bash"));
    wrapped.addAll(cmd);
    long t0 = System.nanoTime();
    String out = run(wrapped, log);
    double wall = (System.nanoTime() - t0) / 1e9;
    List<String> lines = Files.readAllLines(log);
    String children = lines.get(lines.size() - 1).trim();
    double cpu = ReferenceTools.timesToNanos(children) / 1e9;
    return new Timed(out, wall, cpu);
  }

  /** Runs a command (stderr to its log), returns stdout; a failure shows the log's tail. */
  static String run(List<String> cmd, Path log) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
    byte[] out = p.getInputStream().readAllBytes();
    int rc = p.waitFor();
    if (rc != 0) {
      List<String> lines = Files.readAllLines(log);
      List<String> shown = cmd.get(0).equals("bash") ? cmd.subList(4, cmd.size()) : cmd;
      throw new UserError(
          String.join(" ", shown.subList(0, Math.min(3, shown.size())))
              + " failed ("
              + rc
              + "): "
              + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size())));
    }
    return new String(out, StandardCharsets.UTF_8);
  }
}
