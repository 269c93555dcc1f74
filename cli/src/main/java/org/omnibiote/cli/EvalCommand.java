package org.omnibiote.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.omnibiote.UserError;
import org.omnibiote.data.ValidationData;
import org.omnibiote.encode.WeightsPath;
import org.omnibiote.eval.MaskedLmEvaluation;
import org.omnibiote.eval.MaskedLmEvaluation.Sums;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.Precision;
import org.omnibiote.shards.Dataset;
import org.omnibiote.train.Devices;
import org.omnibiote.weights.ModelWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote eval}: the masked-LM loss and perplexity of a checkpoint on every val row of an
 * ingest output, per dataset, with training's val masks (fixed by --seed), so checkpoints are
 * compared on the same masked positions. {@code --workers N} splits the rows over N JVMs.
 */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = {
      "Masked-LM loss (mean cross-entropy per masked token, nats) and perplexity of a checkpoint"
          + " on the val shards of an ingest output folder (--base_dir), per dataset (genbank,"
          + " uniref100), over every val row (not one micro-batch).",
      "Rows are packed as train packs them (--ctx_len, --use_padding, --banned_token) and masked"
          + " as train's own val evaluation masks them: row r of a dataset by an RNG seeded by"
          + " (--seed, dataset, r). Two checkpoints evaluated with the same --seed are compared on"
          + " the same masked positions; with the run's --seed and --max_rows mini_batch_size the"
          + " loss is the val_loss of train's metrics.jsonl at that checkpoint.",
      "Prints a table and writes the numbers as JSON (--output)."
    },
    footer = {
      "",
      "Example:",
      "  bin/omnibiote eval --checkpoint runs/tiny/omnibiota --base_dir runs/shards",
      "  bin/omnibiote eval --checkpoint runs/tiny/omnibiota_1000000 --base_dir runs/shards"
          + " --workers 2 --output runs/tiny/eval-1M.json"
    })
public final class EvalCommand extends PretrainedModelCommand
    implements Callable<Integer>, NeedsLibtorch {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;

  @Option(
      names = "--base_dir",
      required = true,
      paramLabel = "DIR",
      description = "Ingest output folder (manifest.json, genbank/val, uniref100/val).")
  Path baseDir;

  @Option(
      names = "--datasets",
      split = ",",
      paramLabel = "genbank,uniref100",
      description = "Datasets to evaluate (default: every one with val shards).")
  List<String> datasets = new ArrayList<>();

  @Option(
      names = "--ctx_len",
      paramLabel = "T",
      description = "Tokens per row (default: the model's ctx_len).")
  Integer ctxLen;

  @Option(
      names = "--use_padding",
      arity = "0..1",
      description = "Rows of whole documents padded, as train --use_padding (default: false).")
  boolean usePadding;

  @Option(
      names = "--banned_token",
      paramLabel = "ID",
      description = "Token id deleted from every document (default: the manifest's).")
  Integer bannedToken;

  @Option(
      names = "--seed",
      paramLabel = "S",
      defaultValue = "1337",
      description = "Seed of the masks; train's --seed (default: ${DEFAULT-VALUE}, train's).")
  long seed;

  @Option(
      names = "--batch_size",
      paramLabel = "ROWS",
      defaultValue = "8",
      description = "Rows per forward pass (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(
      names = "--max_rows",
      paramLabel = "N",
      description = "Evaluate only the first N rows of each dataset (default: all).")
  Long maxRows;

  @Option(
      names = "--precision",
      paramLabel = "fp32|bf16",
      defaultValue = "fp32",
      description = "fp32 | bf16 autocast (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(
      names = "--workers",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Split the rows over N evaluation JVMs on this host, each with its share of the"
              + " cores (0: all in this JVM; default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(
      names = "--output",
      paramLabel = "FILE.json",
      description = "JSON to write (default: the weights' name with .eval.json).")
  Path output;

  // The part of the rows a --workers child evaluates: not for users, hence hidden.
  @Option(names = "--part", hidden = true)
  Integer part;

  @Option(names = "--parts", hidden = true)
  Integer parts;

  @Override
  public Integer call() throws Exception {
    PrintStream err = System.err;
    checkArguments();
    Path weights = WeightsPath.of(checkpoint);
    Precision p = Precision.parse(precision);
    List<Dataset> wanted = new ArrayList<>();
    for (String d : datasets) {
      try {
        wanted.add(Dataset.ofFolder(d.strip()));
      } catch (IllegalArgumentException e) {
        throw new UserError("--datasets " + d + ": expected genbank or uniref100");
      }
    }
    OmniBioTA model = ModelWeights.load(weights);
    int ctx = ctxLen == null ? model.config().ctxLen() : ctxLen;
    ValidationData data = ValidationData.open(baseDir, wanted, ctx, usePadding, bannedToken, seed);
    if (data.vocabSize() != model.config().vocabSize()) {
      throw new UserError(
          "--base_dir "
              + baseDir
              + " was tokenized with a vocabulary of "
              + data.vocabSize()
              + " pieces but the model "
              + weights
              + " has "
              + model.config().vocabSize());
    }
    Map<String, Long> rows = new LinkedHashMap<>();
    for (String set : data.sets()) {
      long all = data.rowCount(set);
      rows.put(set, maxRows == null ? all : Math.min(all, maxRows));
    }
    int n = parts == null ? Math.max(workers, 1) : parts;
    int me = part == null ? 0 : part;
    long start = System.nanoTime();
    Map<String, Sums> sums;
    if (workers > 0 && part == null) {
      sums = spread(rows); // each child loads the model itself
    } else {
      sums = evaluate(model, data, rows, me, n, p, err);
    }
    double secs = (System.nanoTime() - start) / 1e9;
    if (part != null) {
      AtomicFiles.write(output, JSON.writeValueAsBytes(partJson(sums)));
      return 0;
    }
    Path out = output != null ? output : defaultOutput(weights);
    ObjectNode json = resultJson(weights, ctx, p, sums, secs);
    AtomicFiles.write(out, JSON.writeValueAsBytes(json));
    System.out.print(table(sums));
    err.printf(Locale.ROOT, "eval: wrote %s (%.1f s)%n", out, secs);
    return 0;
  }

  /** This process's share (part {@code me} of {@code n}) of every dataset's rows. */
  private Map<String, Sums> evaluate(
      OmniBioTA model,
      ValidationData data,
      Map<String, Long> rows,
      int me,
      int n,
      Precision p,
      PrintStream err) {
    MaskedLmEvaluation evaluation =
        new MaskedLmEvaluation(model, Devices.parse(devices), p, batchSize);
    long total = 0;
    for (long r : rows.values()) {
      total += share(r, me, n)[1];
    }
    long all = total;
    long[] done = {0};
    long start = System.nanoTime();
    long[] next = {start + PROGRESS_EVERY_NANOS};
    String who = parts == null ? "eval" : "eval part " + (me + 1) + "/" + n;
    Map<String, Sums> out = new LinkedHashMap<>();
    for (Map.Entry<String, Long> e : rows.entrySet()) {
      long[] range = share(e.getValue(), me, n);
      long before = done[0];
      out.put(
          e.getKey(),
          evaluation.evaluate(
              data,
              e.getKey(),
              range[0],
              range[1],
              d -> {
                done[0] = before + d;
                long now = System.nanoTime();
                if (now > next[0] && done[0] < all) {
                  err.println(progress(who, e.getKey(), done[0], all, now - start));
                  next[0] = now + PROGRESS_EVERY_NANOS;
                }
              }));
    }
    return out;
  }

  /** Rows [from, from+count) of {@code rows} that part {@code me} of {@code n} evaluates. */
  static long[] share(long rows, int me, int n) {
    long from = rows * me / n;
    long to = rows * (me + 1) / n;
    return new long[] {from, to - from};
  }

  /** Starts N child JVMs on their parts, waits for them, adds their sums. */
  private Map<String, Sums> spread(Map<String, Long> rows)
      throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("omnibiote-eval");
    List<Process> children = new ArrayList<>();
    List<Path> outs = new ArrayList<>();
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / workers);
    try {
      for (int i = 0; i < workers; i++) {
        Path partOut = dir.resolve("part-" + i + ".json");
        outs.add(partOut);
        List<String> cmd = childCommand(i, partOut);
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        children.add(pb.start());
      }
      Map<String, Sums> total = new LinkedHashMap<>();
      for (int i = 0; i < workers; i++) {
        Process c = children.get(i);
        int code = c.waitFor();
        if (code != 0) {
          throw new UserError(
              "eval worker " + (i + 1) + " of " + workers + " failed (exit " + code + ")");
        }
        JsonNode j = JSON.readTree(outs.get(i).toFile());
        for (Map.Entry<String, JsonNode> e : iterable(j)) {
          JsonNode s = e.getValue();
          Sums part =
              new Sums(
                  s.get("rows").asLong(),
                  s.get("tokens").asLong(),
                  s.get("masked").asLong(),
                  s.get("loss_sum").asDouble());
          total.merge(e.getKey(), part, Sums::plus);
        }
      }
      for (String set : rows.keySet()) {
        total.putIfAbsent(set, Sums.ZERO);
      }
      return total;
    } finally {
      for (Process c : children) {
        if (c.isAlive()) {
          c.destroy();
          c.waitFor(10, TimeUnit.SECONDS);
        }
      }
      for (Path o : outs) {
        Files.deleteIfExists(o);
      }
      Files.deleteIfExists(dir);
    }
  }

  private List<String> childCommand(int i, Path partOut) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new ArrayList<>(
            List.of(
                java,
                "-Xss4m",
                "-cp",
                System.getProperty("java.class.path"),
                "org.omnibiote.cli.Main",
                "eval",
                "--checkpoint",
                checkpoint.toString(),
                "--base_dir",
                baseDir.toString(),
                "--seed",
                Long.toString(seed),
                "--batch_size",
                Integer.toString(batchSize),
                "--devices",
                devices,
                "--precision",
                precision,
                "--use_padding",
                Boolean.toString(usePadding),
                "--part",
                Integer.toString(i),
                "--parts",
                Integer.toString(workers),
                "--output",
                partOut.toString()));
    if (!datasets.isEmpty()) {
      cmd.addAll(List.of("--datasets", String.join(",", datasets)));
    }
    if (ctxLen != null) {
      cmd.addAll(List.of("--ctx_len", ctxLen.toString()));
    }
    if (bannedToken != null) {
      cmd.addAll(List.of("--banned_token", bannedToken.toString()));
    }
    if (maxRows != null) {
      cmd.addAll(List.of("--max_rows", maxRows.toString()));
    }
    return cmd;
  }

  private static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode j) {
    return j.properties();
  }

  private void checkArguments() {
    if (batchSize < 1) {
      throw new UserError("--batch_size must be at least 1, got " + batchSize);
    }
    if (maxRows != null && maxRows < 1) {
      throw new UserError("--max_rows must be at least 1, got " + maxRows);
    }
    if (workers < 0) {
      throw new UserError("--workers " + workers + ": give 0 (this JVM) or a positive number");
    }
    if ((part == null) != (parts == null)
        || (part != null && (parts < 1 || part < 0 || part >= parts || output == null))) {
      throw new UserError("--part and --parts go together, with --output (internal options)");
    }
    if (output != null && Files.isDirectory(output)) {
      throw new UserError("--output " + output + " is a folder; name the .json file to write");
    }
  }

  private static Path defaultOutput(Path weights) {
    String name = weights.getFileName().toString();
    String stem = name.endsWith(".safetensors") ? name.substring(0, name.length() - 12) : name;
    return weights.resolveSibling(stem + ".eval.json");
  }

  private static ObjectNode partJson(Map<String, Sums> sums) {
    ObjectNode j = JSON.createObjectNode();
    sums.forEach(
        (set, s) -> {
          ObjectNode o = j.putObject(set);
          o.put("rows", s.rows());
          o.put("tokens", s.tokens());
          o.put("masked", s.masked());
          o.put("loss_sum", s.lossSum());
        });
    return j;
  }

  private ObjectNode resultJson(
      Path weights, int ctx, Precision p, Map<String, Sums> sums, double secs) {
    ObjectNode j = JSON.createObjectNode();
    j.put("checkpoint", weights.toString());
    j.put("base_dir", baseDir.toString());
    ObjectNode s = j.putObject("settings");
    s.put("seed", seed);
    s.put("ctx_len", ctx);
    s.put("use_padding", usePadding);
    if (bannedToken != null) {
      s.put("banned_token", bannedToken);
    }
    s.put("batch_size", batchSize);
    if (maxRows != null) {
      s.put("max_rows", maxRows);
    }
    s.put("precision", p.flag());
    s.put("devices", devices);
    s.put("workers", workers);
    ObjectNode d = j.putObject("datasets");
    sums.forEach(
        (set, v) -> {
          ObjectNode o = d.putObject(set);
          o.put("rows", v.rows());
          o.put("tokens", v.tokens());
          o.put("masked_tokens", v.masked());
          o.put("loss", v.loss());
          o.put("perplexity", v.perplexity());
        });
    j.put("seconds", secs);
    return j;
  }

  static String table(Map<String, Sums> sums) {
    StringBuilder t = new StringBuilder();
    t.append(
        String.format(
            Locale.ROOT,
            "%-10s %10s %14s %14s %10s %12s%n",
            "dataset",
            "rows",
            "tokens",
            "masked",
            "loss",
            "perplexity"));
    sums.forEach(
        (set, s) ->
            t.append(
                String.format(
                    Locale.ROOT,
                    "%-10s %,10d %,14d %,14d %10.4f %12.2f%n",
                    set,
                    s.rows(),
                    s.tokens(),
                    s.masked(),
                    s.loss(),
                    s.perplexity())));
    return t.toString();
  }

  static String progress(String who, String set, long done, long total, long nanos) {
    double secs = Math.max(1e-3, nanos / 1e9);
    long left = done == 0 ? 0 : (long) ((total - done) / (done / secs));
    return String.format(
        Locale.ROOT,
        "%s: %s, %,d/%,d rows (%,.1f rows/s), ETA %d:%02d:%02d",
        who,
        set,
        done,
        total,
        done / secs,
        left / 3600,
        left / 60 % 60,
        left % 60);
  }
}
