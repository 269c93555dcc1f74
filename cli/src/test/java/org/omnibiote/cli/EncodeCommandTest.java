package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.omnibiote.cli.CliRun.run;
import static org.omnibiote.cli.CliRun.shared;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.Pooling;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.sources.RecordSources;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.weights.ModelWeights;

/**
 * {@code omnibiote encode} on real sequences (GenBank records written as FASTA, one of them
 * transcribed to RNA letters, and UniRef50 proteins) with a tiny random model: every row of the
 * .npy equals {@link OmniBioTA#encode} of that sequence alone (so sorting, batching and padding
 * change nothing), ids input gives the same vectors, numpy reads the file, and bad input is one
 * error line with nothing written.
 */
class EncodeCommandTest {
  private static final Path TOKENIZER = shared().resolve("tokenizers/mixed_bpe.model");
  private static final String PYTHON = "/usr/bin/python3";
  private static final int N = 16;
  private static final int CTX = 512;

  @TempDir static Path dir;
  private static OmniBioTA model;
  private static SentencePieceTokenizer spm;
  private static Path weights;
  private static Path fasta;

  /** What the test expects encode to feed the model, per FASTA record, in file order. */
  private static final List<String> ids = new ArrayList<>();

  private static final List<long[]> tokens = new ArrayList<>();
  private static final List<String> sequences = new ArrayList<>();

  @BeforeAll
  static void modelAndInput() throws IOException {
    torch.manual_seed(17);
    // The real tokenizer has 65,536 pieces; width and depth stay tiny. Dropout > 0 in the
    // config: encode must run in eval mode.
    model = new OmniBioTA(new OmniBioTAConfig(65_536, N, 1, 2, CTX, 0.1));
    model.eval();
    weights = dir.resolve("run/omnibiota_1000.safetensors");
    Files.createDirectories(weights.getParent());
    ModelWeights.save(model, weights);
    spm = SentencePieceTokenizer.load(TOKENIZER);

    Path data = shared().resolve("data");
    List<SeqRecord> records = new ArrayList<>();
    records.addAll(
        read(
            data.resolve("deb-python-biopython-doc_1.80+dfsg-4/GenBank/iro.gb"),
            SeqFormat.GENBANK,
            1));
    records.addAll(
        read(
            data.resolve("deb-emboss-test_6.6.0+dfsg-12/genbank/gbvrl1.seq"),
            SeqFormat.GENBANK,
            1));
    records.addAll(
        read(
            data.resolve("deb-hmmer-examples_3.3.2+dfsg-1/easel-formats/genbank"),
            SeqFormat.GENBANK,
            2));
    records.addAll(
        read(data.resolve("gh-facebookresearch-esm/some_proteins.fasta"), SeqFormat.FASTA, 7));
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < records.size(); i++) {
      SeqRecord r = records.get(i);
      boolean protein = r.moleculeType().equals("protein");
      String sequence = r.sequence();
      String tag = protein ? "<protein>" : "<DNA>";
      if (i == 1) {
        // A transcript in RNA letters (T -> U): encode must pick <RNA> for it.
        sequence = sequence.replace('T', 'U');
        tag = "<RNA>";
      }
      // Lower case and wrapped lines in the file: encode upper-cases as the original parser.
      text.append('>').append(r.id()).append(" from ").append(r.file().getFileName()).append('\n');
      String written = i == 2 ? sequence.toLowerCase(Locale.ROOT) : sequence;
      for (int at = 0; at < written.length(); at += 60) {
        text.append(written, at, Math.min(written.length(), at + 60)).append('\n');
      }
      ids.add(r.id());
      sequences.add(sequence);
      tokens.add(expectedIds(tag + sequence + "<EOS>"));
    }
    fasta = Files.writeString(dir.resolve("mixed.fasta"), text);
  }

  private static List<SeqRecord> read(Path file, SeqFormat format, int count) throws IOException {
    List<SeqRecord> out = new ArrayList<>();
    try (RecordSource source = RecordSources.open(file, format, p -> {}, true)) {
      SeqRecord r;
      while (out.size() < count && (r = source.next()) != null) {
        out.add(r);
      }
    }
    assertEquals(count, out.size(), file.toString());
    return out;
  }

  /** The tokenizer's ids without the dummy-prefix piece, computed here independently. */
  private static long[] expectedIds(String document) {
    int banned = spm.pieceToId("\u2581");
    return Arrays.stream(spm.encode(document)).filter(id -> id != banned).asLongStream().toArray();
  }

  @Test
  void everyRowEqualsTheSequenceEncodedAloneForEveryMethod() throws IOException {
    for (Pooling method : Pooling.values()) {
      String name = method.name().toLowerCase(Locale.ROOT);
      Path out = dir.resolve("rows-" + name + ".npy");
      CliRun r =
          encode(
              "--input",
              fasta.toString(),
              "--tokenizer",
              TOKENIZER.toString(),
              "--method",
              name,
              "--batch-size",
              "3",
              "--output",
              out.toString());
      assertEquals(0, r.exitCode(), r.err());
      assertTrue(r.err().contains("encode: wrote " + out), r.err());
      Npy npy = Npy.read(out);
      List<String[]> tsv = tsv(out);
      int maxLen = tokens.stream().mapToInt(t -> Math.min(t.length, CTX)).max().orElseThrow();
      long[] shape =
          method == Pooling.ALL ? new long[] {ids.size(), maxLen, N} : new long[] {ids.size(), N};
      assertArrayEquals(shape, npy.shape(), name);
      int row = (int) (npy.values().length / ids.size());
      for (int i = 0; i < ids.size(); i++) {
        long[] alone = Arrays.copyOf(tokens.get(i), Math.min(tokens.get(i).length, CTX));
        assertEquals(ids.get(i), tsv.get(i)[0]);
        assertEquals(alone.length, Integer.parseInt(tsv.get(i)[1]), ids.get(i));
        float[] expected = encodeAlone(alone, method);
        float[] actual = Arrays.copyOfRange(npy.values(), i * row, (i + 1) * row);
        assertClose(expected, Arrays.copyOf(actual, expected.length), name + " " + ids.get(i));
        for (int j = expected.length; j < actual.length; j++) {
          assertEquals(0f, actual[j], "zero beyond the length: " + ids.get(i));
        }
      }
    }
    assertNoTempFiles();
  }

  @Test
  void onCudaEveryMethodGivesTheCpuVectorsWhereCudaIsUsable() throws IOException {
    if (!torch.cuda_is_available()) { // a CPU host, or the CPU natives: refused in one line
      CliRun r =
          encode(
              "--input",
              fasta.toString(),
              "--tokenizer",
              TOKENIZER.toString(),
              "--method",
              "mean",
              "--devices",
              "cuda:0",
              "--output",
              dir.resolve("no-cuda.npy").toString());
      assertEquals(2, r.exitCode(), r.err());
      assertTrue(
          r.err().startsWith("error: --devices cuda:0: this host has no usable CUDA"), r.err());
      assertFalse(Files.exists(dir.resolve("no-cuda.npy")));
      return;
    }
    // A GPU host: cuda:0 is accepted and agrees with the CPU (float32 on both; what differs is
    // the kernels' summation order, about 1e-6 relative, hence 1e-4).
    for (Pooling method : Pooling.values()) {
      String name = method.name().toLowerCase(Locale.ROOT);
      Path cpu = dir.resolve("dev-cpu-" + name + ".npy");
      Path gpu = dir.resolve("dev-cuda-" + name + ".npy");
      for (String[] run : new String[][] {{"cpu", cpu.toString()}, {"cuda:0", gpu.toString()}}) {
        CliRun r =
            encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                name,
                "--batch-size",
                "3",
                "--devices",
                run[0],
                "--output",
                run[1]);
        assertEquals(0, r.exitCode(), run[0] + ": " + r.err());
      }
      float[] expected = Npy.read(cpu).values();
      float[] actual = Npy.read(gpu).values();
      assertEquals(expected.length, actual.length, name);
      for (int i = 0; i < expected.length; i++) {
        double tolerance = 1e-4 * Math.max(1, Math.abs(expected[i]));
        if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
          fail(
              name
                  + ": element "
                  + i
                  + " is "
                  + actual[i]
                  + " on cuda:0, "
                  + expected[i]
                  + " on cpu");
        }
      }
    }
  }

  @Test
  void idsInputGivesTheSameVectorsAsFastaInput() throws IOException {
    Path idsFile = dir.resolve("same.ids.txt");
    Files.write(
        idsFile,
        tokens.stream()
            .map(t -> Arrays.stream(t).mapToObj(Long::toString).collect(Collectors.joining(" ")))
            .toList());
    Path fromFasta = dir.resolve("same-fasta.npy");
    Path fromIds = dir.resolve("same-ids.npy");
    assertEquals(
        0,
        encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                "mean",
                "--output",
                fromFasta.toString())
            .exitCode());
    CliRun r =
        encode(
            "--input",
            idsFile.toString(),
            "--input-format",
            "ids",
            "--method",
            "mean",
            "--checkpoint",
            weights.toString(),
            "--output",
            fromIds.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertArrayEquals(Npy.read(fromFasta).values(), Npy.read(fromIds).values());
    List<String[]> rows = tsv(fromIds);
    assertEquals("line1", rows.get(0)[0]);
    assertEquals("line" + tokens.size(), rows.get(tokens.size() - 1)[0]);
  }

  @Test
  void documentsWithinOneIdsLineDoNotSeeEachOther() throws IOException {
    // The original's evals put a protein and a DNA in one row: <protein>...<EOS><DNA>...<EOS>.
    long[] protein = tokens.get(ids.size() - 1);
    long[] dna = tokens.get(0);
    String pair = joined(protein) + " " + joined(Arrays.copyOf(dna, Math.min(dna.length, 100)));
    Path idsFile = Files.write(dir.resolve("pair.txt"), List.of(pair, joined(protein)));
    Path out = dir.resolve("pair.npy");
    CliRun r =
        encode(
            "--input",
            idsFile.toString(),
            "--input-format",
            "ids",
            "--method",
            "first",
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.err());
    float[] v = Npy.read(out).values();
    assertClose(
        Arrays.copyOfRange(v, N, 2 * N),
        Arrays.copyOf(v, N),
        "the protein's tag in the pair sees only the protein");
    assertClose(encodeAlone(protein, Pooling.FIRST), Arrays.copyOf(v, N), "as the protein alone");
  }

  private static String joined(long[] t) {
    return Arrays.stream(t).mapToObj(Long::toString).collect(Collectors.joining(" "));
  }

  @Test
  void numpyLoadsBothShapes() throws Exception {
    Path pooled = dir.resolve("numpy-max.npy");
    Path all = dir.resolve("numpy-all.npy");
    assertEquals(
        0,
        encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                "max",
                "--output",
                pooled.toString())
            .exitCode());
    assertEquals(
        0,
        encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                "all",
                "--max-length",
                "40",
                "--output",
                all.toString())
            .exitCode());
    assertEquals("(" + ids.size() + ", " + N + ") float32", numpyShape(pooled));
    assertEquals("(" + ids.size() + ", 40, " + N + ") float32", numpyShape(all));
  }

  @Test
  void longSequencesAreTruncatedAndCounted() throws IOException {
    int limit = 24;
    Path out = dir.resolve("truncated.npy");
    CliRun r =
        encode(
            "--input",
            fasta.toString(),
            "--tokenizer",
            TOKENIZER.toString(),
            "--method",
            "last",
            "--max-length",
            Integer.toString(limit),
            "--output",
            out.toString());
    assertEquals(0, r.exitCode(), r.err());
    long longer = tokens.stream().filter(t -> t.length > limit).count();
    assertTrue(longer > 0);
    assertTrue(
        r.err().contains(longer + " of " + ids.size() + " sequences are longer than " + limit),
        r.err());
    Npy npy = Npy.read(out);
    for (int i = 0; i < ids.size(); i++) {
      long[] kept = Arrays.copyOf(tokens.get(i), Math.min(limit, tokens.get(i).length));
      assertEquals(kept.length, Integer.parseInt(tsv(out).get(i)[1]));
      assertClose(
          encodeAlone(kept, Pooling.LAST),
          Arrays.copyOfRange(npy.values(), i * N, (i + 1) * N),
          "truncated " + ids.get(i));
    }
  }

  @Test
  void tagFlagOverridesTheAlphabetChoice() throws IOException {
    Path chosen = dir.resolve("tag-chosen.npy");
    Path forced = dir.resolve("tag-forced.npy");
    assertEquals(
        0,
        encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                "first",
                "--output",
                chosen.toString())
            .exitCode());
    assertEquals(
        0,
        encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                "first",
                "--tag",
                "protein",
                "--output",
                forced.toString())
            .exitCode());
    float[] a = Npy.read(chosen).values();
    float[] b = Npy.read(forced).values();
    // Record 0 is DNA: the first position is now <protein>; the last record is a protein.
    assertNotEquals(Arrays.toString(Arrays.copyOf(a, N)), Arrays.toString(Arrays.copyOf(b, N)));
    int last = ids.size() - 1;
    assertArrayEquals(
        Arrays.copyOfRange(a, last * N, (last + 1) * N),
        Arrays.copyOfRange(b, last * N, (last + 1) * N));
    long[] asProtein = expectedIds("<protein>" + sequences.get(0) + "<EOS>");
    assertClose(
        encodeAlone(Arrays.copyOf(asProtein, Math.min(CTX, asProtein.length)), Pooling.FIRST),
        Arrays.copyOf(b, N),
        "record 0 tagged <protein>");
  }

  @Test
  void aCheckpointPrefixOrManifestNamesItsWeights() throws IOException {
    Path prefix = weights.resolveSibling("omnibiota_1000");
    Path direct = dir.resolve("prefix-direct.npy");
    assertEquals(
        0,
        encode(
                "--input",
                fasta.toString(),
                "--tokenizer",
                TOKENIZER.toString(),
                "--method",
                "mean",
                "--output",
                direct.toString())
            .exitCode());
    for (Path c : List.of(prefix, weights.resolveSibling("omnibiota_1000.checkpoint.json"))) {
      Path out = dir.resolve("prefix-" + c.getFileName() + ".npy");
      CliRun r =
          run(
              "encode",
              "--checkpoint",
              c.toString(),
              "--input",
              fasta.toString(),
              "--tokenizer",
              TOKENIZER.toString(),
              "--method",
              "mean",
              "--output",
              out.toString());
      assertEquals(0, r.exitCode(), r.err());
      assertArrayEquals(Npy.read(direct).values(), Npy.read(out).values());
    }
  }

  @Test
  void badInputIsOneErrorLineAndWritesNothing() throws IOException {
    Path bad = Files.createDirectories(dir.resolve("bad"));
    Path out = bad.resolve("out.npy");
    String fa = fasta.toString();
    String tok = TOKENIZER.toString();
    String w = weights.toString();
    Path corrupt = bad.resolve("corrupt.safetensors");
    byte[] whole = Files.readAllBytes(weights);
    Files.write(corrupt, Arrays.copyOf(whole, whole.length / 2));
    Path empty = Files.writeString(bad.resolve("empty.fasta"), "");
    Path noSequence = Files.writeString(bad.resolve("nosequence.fasta"), ">a\nACGT\n>b\n>c\nMKV\n");
    Path outOfVocab = Files.writeString(bad.resolve("oov.txt"), "4 20 3\n4 70000 3\n");
    Path notIds = Files.writeString(bad.resolve("words.txt"), "4 20 3\nACGT\n");
    OmniBioTA small = new OmniBioTA(new OmniBioTAConfig(101, N, 1, 2, 16, 0.0));
    Path smallWeights = bad.resolve("small.safetensors");
    ModelWeights.save(small, smallWeights);
    String absentCuda = torch.cuda_is_available() ? "cuda:" + torch.cuda_device_count() : "cuda:0";
    String[][] cases = {
      {
        "missing.safetensors: no weights file",
        "--checkpoint",
        bad.resolve("missing.safetensors").toString(),
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
      {
        "no weights file",
        "--checkpoint",
        bad.resolve("run/omnibiota").toString(),
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
      {
        "truncated?",
        "--checkpoint",
        corrupt.toString(),
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
      {
        "empty file",
        "--checkpoint",
        w,
        "--input",
        empty.toString(),
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
      {
        "unknown pooling method 'median'",
        "--checkpoint",
        w,
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "median"
      },
      {
        "a record without sequence follows record a",
        "--checkpoint",
        w,
        "--input",
        noSequence.toString(),
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
      {
        "--tokenizer is required for FASTA input",
        "--checkpoint",
        w,
        "--input",
        fa,
        "--method",
        "mean"
      },
      {
        "oov.txt:2: token id 70000 is outside the model's vocabulary",
        "--checkpoint",
        w,
        "--input",
        outOfVocab.toString(),
        "--input-format",
        "ids",
        "--method",
        "mean"
      },
      {
        "words.txt:2: 'ACGT' is not a token id",
        "--checkpoint",
        w,
        "--input",
        notIds.toString(),
        "--input-format",
        "ids",
        "--method",
        "mean"
      },
      {
        "has 65536 pieces but the model",
        "--checkpoint",
        smallWeights.toString(),
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
      {
        "tag <nucleotides> is not a piece",
        "--checkpoint",
        w,
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean",
        "--tag",
        "nucleotides"
      },
      {
        // A CPU host (or the CPU natives) has no CUDA; a GPU host has no device past its last.
        torch.cuda_is_available()
            ? "--devices " + absentCuda + ": this host has " + torch.cuda_device_count() + " CUDA"
            : "--devices cuda:0: this host has no usable CUDA",
        "--checkpoint",
        w,
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean",
        "--devices",
        absentCuda
      },
      {
        "--batch-size must be at least 1",
        "--checkpoint",
        w,
        "--input",
        fa,
        "--tokenizer",
        tok,
        "--method",
        "mean",
        "--batch-size",
        "0"
      },
      {
        "--input " + bad.resolve("absent.fa") + ": no such file",
        "--checkpoint",
        w,
        "--input",
        bad.resolve("absent.fa").toString(),
        "--tokenizer",
        tok,
        "--method",
        "mean"
      },
    };
    for (String[] c : cases) {
      String[] args = new String[c.length + 2];
      args[0] = "encode";
      System.arraycopy(c, 1, args, 1, c.length - 1);
      args[c.length] = "--output";
      args[c.length + 1] = out.toString();
      CliRun r = run(args);
      assertEquals(2, r.exitCode(), c[0] + ": " + r.err());
      List<String> lines = r.err().lines().toList();
      assertEquals(1, lines.size(), c[0] + ": " + r.err());
      assertTrue(
          lines.get(0).startsWith("error: ") && lines.get(0).contains(c[0]), c[0] + ": " + r.err());
      assertFalse(Files.exists(out), c[0] + ": nothing written");
      assertFalse(Files.exists(bad.resolve("out.ids.tsv")), c[0] + ": no ids file");
    }
    assertNoTempFiles();
  }

  // ---- helpers ----------------------------------------------------------------------------

  private static CliRun encode(String... args) {
    List<String> all = new ArrayList<>(List.of("encode"));
    all.addAll(List.of(args));
    if (!all.contains("--checkpoint")) {
      all.add("--checkpoint");
      all.add(weights.toString());
    }
    return run(all.toArray(String[]::new));
  }

  /** OmniBioTA.encode of one unpadded row, block-diagonal mask on (as encode runs it). */
  private static float[] encodeAlone(long[] ids, Pooling method) {
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Tensor t = model.encode(Tensor.create(ids, 1, ids.length), method, true).contiguous();
      float[] v = new float[(int) t.numel()];
      t.data_ptr_float().capacity(v.length).get(v);
      return v;
    }
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      double tolerance = 1e-5 * Math.max(1, Math.abs(expected[i]));
      if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
        fail(what + ": element " + i + " is " + actual[i] + ", alone " + expected[i]);
      }
    }
  }

  private static List<String[]> tsv(Path npy) throws IOException {
    String name = npy.getFileName().toString();
    List<String> lines = Files.readAllLines(npy.resolveSibling(name.replace(".npy", ".ids.tsv")));
    assertEquals("id\tlength", lines.get(0));
    return lines.subList(1, lines.size()).stream().map(l -> l.split("\t")).toList();
  }

  private static void assertNoTempFiles() throws IOException {
    try (var files = Files.walk(dir)) {
      List<Path> temps = files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList();
      assertTrue(temps.isEmpty(), "temporary files left: " + temps);
    }
  }

  /** numpy's own view of the file: "(shape) dtype". Fails (not skips) without numpy. */
  private static String numpyShape(Path npy) throws Exception {
    if (!Files.isExecutable(Path.of(PYTHON))) {
      fail(PYTHON + " not found: apt-get install -y python3 python3-numpy");
    }
    Process p =
        new ProcessBuilder(
                PYTHON,
                "-c",
                "import sys, numpy; a = numpy.load(sys.argv[1]); print(a.shape, a.dtype)",
                npy.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      fail(
          "numpy.load failed (is python3-numpy installed? apt-get install -y python3-numpy):\n"
              + out);
    }
    return out;
  }

  /** A C-order little-endian float32 .npy, read here independently of the writer. */
  record Npy(long[] shape, float[] values) {
    private static final Pattern SHAPE = Pattern.compile("'shape': \\(([0-9, ]*)\\)");

    static Npy read(Path path) throws IOException {
      ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
      buf.position(8);
      byte[] header = new byte[Short.toUnsignedInt(buf.getShort())];
      buf.get(header);
      String dict = new String(header, StandardCharsets.US_ASCII);
      assertTrue(dict.contains("'descr': '<f4'") && dict.contains("'fortran_order': False"), dict);
      Matcher m = SHAPE.matcher(dict);
      assertTrue(m.find(), dict);
      long[] shape =
          Arrays.stream(m.group(1).split(","))
              .map(String::trim)
              .filter(s -> !s.isEmpty())
              .mapToLong(Long::parseLong)
              .toArray();
      float[] values = new float[buf.remaining() / 4];
      buf.asFloatBuffer().get(values);
      assertEquals(Arrays.stream(shape).reduce(1, (a, b) -> a * b), values.length, "data size");
      return new Npy(shape, values);
    }
  }
}
