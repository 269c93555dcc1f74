package org.omnibiote.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.encode.SequenceTag;
import org.omnibiote.encode.WeightsPath;
import org.omnibiote.finetune.Example;
import org.omnibiote.finetune.FineTuner;
import org.omnibiote.finetune.FinetuneFiles;
import org.omnibiote.finetune.GroupedFolds;
import org.omnibiote.finetune.GueTask;
import org.omnibiote.finetune.OneCycle;
import org.omnibiote.finetune.ProNabTask;
import org.omnibiote.finetune.ResidueTask;
import org.omnibiote.finetune.TaskKind;
import org.omnibiote.ingest.DocumentTokenizer;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.Pooling;
import org.omnibiote.settings.Precision;
import org.omnibiote.tokenizer.SentencePieceTokenizer;
import org.omnibiote.train.Devices;
import org.omnibiote.weights.ModelWeights;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote finetune}: a checkpoint fine-tuned with a linear head on a GUE-layout task
 * (train/dev/test CSV), a per-residue task (ProteinGLUE: train/dev/test CSV with a label per
 * residue, a per-token head) or on ProNAB binding measurements (k-fold cross-validation grouped by
 * protein), the original's recipe by default and every choice a flag.
 */
@Command(
    name = "finetune",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Fine-tune a trained OmniBioTA on a downstream task and report how well it does, as the"
          + " original's evals/gue.py, proteinGLUE.py and pronab.py do, without their leaks.",
      "A folder --task is a GUE-layout task: train.csv, dev.csv and test.csv, each 'sequence,label'"
          + " (classification when every label is 0, 1, 2, ..., else regression). Each sequence is"
          + " read as <tag>SEQUENCE<EOS>, the tag chosen as encode chooses it (or --tag). The run"
          + " keeps the weights of its best dev evaluation and scores them on test.",
      "A folder whose CSVs are 'sequence,labels' is a per-residue task (ProteinGLUE's SS3, SS8,"
          + " BUR, ASA, PPI, EPI, HPR): one label per residue, separated by spaces, '.' for a"
          + " residue without one. Each token's hidden state goes through the head; a token"
          + " covering several residues is trained on their most frequent class or mean value (as"
          + " the original's proteinGLUE.py). Metrics over tokens (the original's) and over"
          + " residues (each residue predicted as its token).",
      "A .json --task is the ProNAB file of the original repository (pronab_no_mutations.json):"
          + " each measurement is read as <protein>PROTEIN<EOS><DNA|RNA>NUCLEIC ACID<EOS> and its"
          + " dG (or log10 Kd, --target Kd) predicted. It is scored by K-fold (--folds K)"
          + " cross-validation grouped by protein: no protein is in two folds, so every score is"
          + " for proteins the model never saw. Reported per fold and pooled over the folds.",
      "The recipe (defaults): first-token pooling; a linear head times 1024/N; AdamW with three"
          + " learning rates (embeddings, rest of the encoder, head) under a OneCycle schedule;"
          + " cross-entropy for classes, squared error on standardised values. --freeze trains"
          + " the head alone on frozen encodings (a linear probe).",
      "Writes to --output: model.safetensors (fold-K.safetensors in cross-validation; the encoder"
          + " under its original names plus head.weight and head.bias), predictions.csv and"
          + " metrics.json (the metrics with every setting)."
    },
    footer = {
      "",
      "Examples:",
      "  bin/omnibiote finetune --checkpoint runs/tiny/omnibiota"
          + " --tokenizer ../shared/tokenizers/mixed_bpe.model"
          + " --task ../shared/data/gh-MAGICS-LAB-DNABERT_2/sample_data --steps 200"
          + " --output runs/ft-sample",
      "  bin/omnibiote finetune --checkpoint runs/tiny/omnibiota"
          + " --tokenizer ../shared/tokenizers/mixed_bpe.model"
          + " --task ../shared/data/omnibiote-datasets/pronab_no_mutations.json --folds 10"
          + " --output runs/ft-pronab",
      "  bin/omnibiote finetune --checkpoint runs/tiny/omnibiota"
          + " --tokenizer ../shared/tokenizers/mixed_bpe.model --task proteinglue/SS3"
          + " --output runs/ft-ss3    (a folder of 'sequence,labels' CSVs; see docs/evaluation.md)"
    })
public final class FinetuneCommand extends PretrainedModelCommand
    implements Callable<Integer>, NeedsLibtorch {
  private static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;

  @Option(
      names = "--task",
      required = true,
      paramLabel = "DIR|FILE.json",
      description =
          "A GUE-layout task folder ('sequence,label'), a per-residue task folder"
              + " ('sequence,labels'), or the ProNAB .json file.")
  Path task;

  @Option(
      names = "--tokenizer",
      required = true,
      paramLabel = "M.model",
      description = "The SentencePiece model the checkpoint was trained with.")
  Path tokenizer;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "DIR",
      description = "Folder for the weights, predictions.csv and metrics.json.")
  Path output;

  @Option(
      names = "--task-type",
      paramLabel = "classification|regression",
      description = "GUE and per-residue tasks: what the labels are (default: from the labels).")
  String taskType;

  @Option(
      names = "--tag",
      paramLabel = "<DNA>|<protein>|...",
      description =
          "GUE tasks: tag every sequence with this piece instead of choosing by alphabet;"
              + " per-residue tasks: the tag (default <protein>, as the original).")
  String tag;

  @Option(
      names = "--target",
      paramLabel = "dG|Kd",
      defaultValue = "dG",
      description = "ProNAB: the value predicted, dG or log10(Kd) (default: ${DEFAULT-VALUE}).")
  String target;

  @Option(
      names = "--folds",
      paramLabel = "K",
      defaultValue = "10",
      description =
          "ProNAB: cross-validation folds, grouped by protein (default: ${DEFAULT-VALUE}).")
  int folds;

  @Option(
      names = "--freeze",
      description = "Train the head alone on frozen encodings (a linear probe).")
  boolean freeze;

  @Option(
      names = "--random-init",
      description =
          "A control: the checkpoint's shape with freshly initialised weights (seeded by --seed).")
  boolean randomInit;

  @Option(
      names = "--steps",
      paramLabel = "N",
      description =
          "Optimiser steps (default: GUE 30000, as gue.py; ProNAB and per-residue tasks --epochs"
              + " over the training examples).")
  Long steps;

  @Option(
      names = "--epochs",
      paramLabel = "E",
      description =
          "Steps as passes over the training examples: E * examples / batch size (default:"
              + " ProNAB 32, as pronab.py; per-residue 64, as proteinGLUE.py, which used 16 for"
              + " PPI and EPI).")
  Double epochs;

  @Option(
      names = "--batch-size",
      paramLabel = "B",
      description = "Examples per optimiser step (default: GUE 32, ProNAB 256, per-residue 32).")
  Integer batchSize;

  @Option(
      names = "--micro-batch",
      paramLabel = "M",
      defaultValue = "8",
      description =
          "Examples per forward pass; a step accumulates B/M of them (default: ${DEFAULT-VALUE}).")
  int microBatch;

  @Option(
      names = "--lr",
      paramLabel = "LR",
      description =
          "Peak lr of the encoder's body (default: GUE 1.5625e-4, ProNAB 1e-4, per-residue"
              + " 2e-4).")
  Double lr;

  @Option(
      names = "--embed-lr",
      paramLabel = "LR",
      description =
          "Peak lr of the token embeddings (default: GUE 1.5625e-4, ProNAB 1e-3, per-residue"
              + " 1e-2).")
  Double embedLr;

  @Option(
      names = "--head-lr",
      paramLabel = "LR",
      defaultValue = "1e-2",
      description = "Peak lr of the head (default: ${DEFAULT-VALUE}).")
  double headLr;

  @Option(
      names = "--weight-decay",
      defaultValue = "0.01",
      description = "AdamW's decoupled weight decay (default: ${DEFAULT-VALUE}).")
  double weightDecay;

  @Option(
      names = "--beta1",
      defaultValue = "0.9",
      description =
          "AdamW beta1 when the schedule is not onecycle, which cycles it (default: ${DEFAULT-VALUE}).")
  double beta1;

  @Option(
      names = "--beta2",
      defaultValue = "0.999",
      description = "AdamW beta2 (default: ${DEFAULT-VALUE}).")
  double beta2;

  @Option(
      names = "--epsilon",
      defaultValue = "1e-8",
      description = "AdamW epsilon (default: ${DEFAULT-VALUE}).")
  double epsilon;

  @Option(
      names = "--schedule",
      paramLabel = "onecycle|linear|constant",
      defaultValue = "onecycle",
      description = "Learning-rate schedule (default: ${DEFAULT-VALUE}).")
  String schedule;

  @Option(
      names = "--pct-start",
      defaultValue = "0.05",
      description = "OneCycle: fraction of the steps spent warming up (default: ${DEFAULT-VALUE}).")
  double pctStart;

  @Option(
      names = "--pooling",
      paramLabel = "first|mean|max|last",
      defaultValue = "first",
      description =
          "What the head reads: the first token (the tag), or a pooling over all"
              + " (default: ${DEFAULT-VALUE}; per-residue tasks read every token).")
  String pooling;

  @Option(
      names = "--head-init",
      paramLabel = "default|zero",
      description = "The head's initial weights (default: GUE default, as gue.py; ProNAB zero).")
  String headInit;

  @Option(
      names = "--head-scale",
      paramLabel = "S",
      description =
          "Multiplier of the head's output (default: 1024/N as gue.py and pronab.py; 1 for"
              + " per-residue tasks, as proteinGLUE.py).")
  Double headScale;

  @Option(
      names = "--evals",
      paramLabel = "N",
      defaultValue = "100",
      description = "Dev evaluations over the run (default: ${DEFAULT-VALUE}).")
  int evals;

  @Option(
      names = "--select",
      paramLabel = "best|last",
      description =
          "Weights kept: the best dev evaluation's or the last (default: GUE best; ProNAB last,"
              + " as pronab.py; best there takes the next fold out of training as dev).")
  String select;

  @Option(
      names = "--select-metric",
      paramLabel = "NAME",
      description =
          "Dev metric for best: mcc, f1_weighted, accuracy, auroc; pearson, spearman, mse, mae"
              + " (default: mcc, pearson; per-residue accuracy, pearson: the original used"
              + " auroc for PPI and EPI).")
  String selectMetric;

  @Option(
      names = "--max-length",
      paramLabel = "T",
      description = "Tokens per input, longer ones cut (default: the model's ctx_len).")
  Integer maxLength;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "Seed of the head, dropout, batches and folds (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--precision",
      paramLabel = "fp32|bf16",
      defaultValue = "fp32",
      description = "fp32 | bf16 autocast (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(
      names = "--no-save-weights",
      description = "Do not write the fine-tuned weights (they are the size of the model).")
  boolean noSaveWeights;

  private final PrintStream err = System.err;
  private int width;

  @Override
  public Integer call() throws IOException {
    checkArguments();
    boolean pronab = Files.isRegularFile(task) && task.toString().endsWith(".json");
    if (!pronab && !Files.isDirectory(task)) {
      throw new UserError("--task " + task + ": neither a GUE task folder nor a ProNAB .json file");
    }
    Device device = Devices.parse(devices);
    Precision p = Precision.parse(precision);
    Pooling pool = Pooling.parse(pooling);
    if (pool == Pooling.ALL) {
      throw new UserError(
          "--pooling all gives a matrix per input; a head needs first, mean, max or last");
    }
    Path weights = WeightsPath.of(checkpoint);
    SentencePieceTokenizer spm = SentencePieceTokenizer.load(tokenizer);
    OmniBioTA probe = ModelWeights.load(weights);
    if (spm.vocabSize() != probe.config().vocabSize()) {
      throw new UserError(
          "--tokenizer "
              + tokenizer
              + " has "
              + spm.vocabSize()
              + " pieces but the model "
              + weights
              + " has a vocabulary of "
              + probe.config().vocabSize());
    }
    int limit = maxLength == null ? probe.config().ctxLen() : maxLength;
    width = probe.config().nEmbd();
    DocumentTokenizer tokens = new DocumentTokenizer(spm);
    Files.createDirectories(output);
    if (pronab) {
      return runProNab(weights, tokens, limit, device, p, pool);
    }
    return ResidueTask.isLayout(task)
        ? runResidue(weights, tokens, limit, device, p)
        : runGue(weights, tokens, limit, device, p, pool);
  }

  private int runResidue(
      Path weights, DocumentTokenizer tokens, int limit, Device device, Precision p)
      throws IOException {
    ResidueTask.Splits splits =
        ResidueTask.read(
            task,
            tokens,
            tag == null ? SequenceTag.PROTEIN : SequenceTag.normalise(tag),
            limit,
            taskType == null ? null : TaskKind.parse(taskType));
    TaskKind kind = splits.kind();
    int classes = splits.classes();
    int b = batchSize == null ? 32 : batchSize;
    long n = stepsFor(splits.train().size(), b, -1, 64);
    FineTuner.Settings s =
        settings(
            kind,
            classes,
            Pooling.ALL,
            n,
            b,
            lr == null ? 2e-4 : lr,
            embedLr == null ? 1e-2 : embedLr,
            FineTuner.HeadInit.DEFAULT,
            FineTuner.Selection.BEST,
            p,
            width,
            true);
    ObjectNode json = metricsJson("residue", kind, classes, s, weights);
    ObjectNode data = json.putObject("examples");
    List<List<Example>> sets = List.of(splits.train(), splits.dev(), splits.test());
    List<String> names = List.of("train", "dev", "test");
    for (int i = 0; i < 3; i++) {
      data.set(names.get(i), ResidueCounts.of(sets.get(i)).json());
    }
    ResidueCounts train = ResidueCounts.of(splits.train());
    err.printf(
        Locale.ROOT,
        "finetune: per-residue task %s, %s%s: %,d train, %,d dev, %,d test sequences; train %,d"
            + " residues (%,d labelled) in %,d tokens (%.2f residues per token), %,d cut by"
            + " --max-length %d; %,d steps of %d%n",
        task,
        kind.flag(),
        kind == TaskKind.CLASSIFICATION ? " (" + classes + " classes)" : "",
        splits.train().size(),
        splits.dev().size(),
        splits.test().size(),
        train.residues(),
        train.labelled(),
        train.tokens(),
        (double) (train.residues() - train.cut()) / Math.max(1, train.tokens()),
        train.cut(),
        limit,
        n,
        b);
    FineTuner tuner = new FineTuner(encoder(weights), device, s);
    Progress progress = new Progress("finetune", n);
    FineTuner.Outcome outcome = tuner.train(splits.train(), splits.dev(), progress);
    FineTuner.TokenPredictions dev = tuner.predictTokens(splits.dev());
    FineTuner.TokenPredictions test = tuner.predictTokens(splits.test());
    Map<String, Double> devMetrics = dev.metrics(splits.dev());
    Map<String, Double> testMetrics = test.metrics(splits.test());
    Map<String, Double> devResidues = dev.residueMetrics(splits.dev());
    Map<String, Double> testResidues = test.residueMetrics(splits.test());
    List<FinetuneFiles.ResidueRows> rows = new ArrayList<>();
    for (int i = 0; i < splits.dev().size(); i++) {
      rows.add(new FinetuneFiles.ResidueRows("dev", splits.dev().get(i), dev.values()[i]));
    }
    for (int i = 0; i < splits.test().size(); i++) {
      rows.add(new FinetuneFiles.ResidueRows("test", splits.test().get(i), test.values()[i]));
    }
    if (!noSaveWeights) {
      FinetuneFiles.saveWeights(
          tuner, headJson(s, kind, classes, tuner), output.resolve("model.safetensors"));
    }
    FinetuneFiles.writeResiduePredictions(output.resolve("predictions.csv"), kind, classes, rows);
    ObjectNode kept = json.putObject("kept");
    kept.put("step", outcome.keptStep());
    kept.put("metric", s.selectMetric());
    kept.put("over", "tokens");
    FinetuneFiles.putMetrics(json.putObject("dev"), devMetrics);
    FinetuneFiles.putMetrics(json.putObject("test"), testMetrics);
    FinetuneFiles.putMetrics(json.putObject("dev_residues"), devResidues);
    FinetuneFiles.putMetrics(json.putObject("test_residues"), testResidues);
    putDevHistory(json, outcome);
    FinetuneFiles.writeJson(output.resolve("metrics.json"), json);
    err.printf(
        Locale.ROOT,
        "finetune: kept the weights of step %,d (dev %s %.4f over tokens); dev tokens %s;"
            + " test tokens %s; test residues %s%n",
        outcome.keptStep(),
        s.selectMetric(),
        outcome.keptMetric(),
        brief(devMetrics),
        brief(testMetrics),
        brief(testResidues));
    err.printf(Locale.ROOT, "finetune: wrote %s (%s)%n", output, progress.elapsed());
    return 0;
  }

  /**
   * A per-residue split's sequences, residues (labelled; under tokens cut by --max-length), the
   * tokens that cover the kept residues and those with a label.
   */
  private record ResidueCounts(
      long sequences, long residues, long labelled, long cut, long tokens, long labelledTokens) {
    static ResidueCounts of(List<Example> set) {
      long residues = 0;
      long labelled = 0;
      long cut = 0;
      long tokenCount = 0;
      long labelledTokens = 0;
      for (Example e : set) {
        Example.Residues r = e.residues();
        int last = -1;
        for (int k = 0; k < r.labels().length; k++) {
          residues++;
          labelled += Double.isNaN(r.labels()[k]) ? 0 : 1;
          int t = r.tokenOf()[k];
          cut += t < 0 ? 1 : 0;
          tokenCount += t >= 0 && t != last ? 1 : 0;
          last = t;
        }
        labelledTokens += r.labelledTokens();
      }
      return new ResidueCounts(set.size(), residues, labelled, cut, tokenCount, labelledTokens);
    }

    ObjectNode json() {
      ObjectNode o = FinetuneFiles.JSON.createObjectNode();
      o.put("sequences", sequences);
      o.put("residues", residues);
      o.put("labelled_residues", labelled);
      o.put("residues_cut", cut);
      o.put("tokens", tokens);
      o.put("labelled_tokens", labelledTokens);
      return o;
    }
  }

  private int runGue(
      Path weights, DocumentTokenizer tokens, int limit, Device device, Precision p, Pooling pool)
      throws IOException {
    GueTask.Splits splits =
        GueTask.read(task, tokens, tag == null ? null : SequenceTag.normalise(tag), limit);
    TaskKind kind = taskType == null ? GueTask.inferKind(splits) : TaskKind.parse(taskType);
    int classes = kind == TaskKind.CLASSIFICATION ? classes(splits) : 1;
    int b = batchSize == null ? 32 : batchSize;
    long n = stepsFor(splits.train().size(), b, 30_000, 32);
    FineTuner.Settings s =
        settings(
            kind,
            classes,
            pool,
            n,
            b,
            lr == null ? 1.5625e-4 : lr,
            embedLr == null ? 1.5625e-4 : embedLr,
            FineTuner.HeadInit.DEFAULT,
            FineTuner.Selection.BEST,
            p,
            width,
            false);
    err.printf(
        Locale.ROOT,
        "finetune: GUE task %s, %s%s: %,d train, %,d dev, %,d test; %,d steps of %d%n",
        task,
        kind.flag(),
        kind == TaskKind.CLASSIFICATION ? " (" + classes + " classes)" : "",
        splits.train().size(),
        splits.dev().size(),
        splits.test().size(),
        n,
        b);
    FineTuner tuner = new FineTuner(encoder(weights), device, s);
    Progress progress = new Progress("finetune", n);
    FineTuner.Outcome outcome = tuner.train(splits.train(), splits.dev(), progress);
    FineTuner.Predictions dev = tuner.predict(splits.dev());
    FineTuner.Predictions test = tuner.predict(splits.test());
    Map<String, Double> devMetrics = dev.metrics(splits.dev());
    Map<String, Double> testMetrics = test.metrics(splits.test());
    List<FinetuneFiles.Row> rows = new ArrayList<>();
    addRows(rows, "dev", splits.dev(), dev);
    addRows(rows, "test", splits.test(), test);
    if (!noSaveWeights) {
      FinetuneFiles.saveWeights(
          tuner, headJson(s, kind, classes, tuner), output.resolve("model.safetensors"));
    }
    FinetuneFiles.writePredictions(
        output.resolve("predictions.csv"), List.of("split"), kind, classes, rows);
    ObjectNode json = metricsJson("gue", kind, classes, s, weights);
    ObjectNode data = json.putObject("examples");
    data.put("train", splits.train().size());
    data.put("dev", splits.dev().size());
    data.put("test", splits.test().size());
    ObjectNode kept = json.putObject("kept");
    kept.put("step", outcome.keptStep());
    kept.put("metric", s.selectMetric());
    FinetuneFiles.putMetrics(json.putObject("dev"), devMetrics);
    FinetuneFiles.putMetrics(json.putObject("test"), testMetrics);
    putDevHistory(json, outcome);
    FinetuneFiles.writeJson(output.resolve("metrics.json"), json);
    err.printf(
        Locale.ROOT,
        "finetune: kept the weights of step %,d (dev %s %.4f); dev %s; test %s%n",
        outcome.keptStep(),
        s.selectMetric(),
        outcome.keptMetric(),
        brief(devMetrics),
        brief(testMetrics));
    err.printf(Locale.ROOT, "finetune: wrote %s (%s)%n", output, progress.elapsed());
    return 0;
  }

  private int runProNab(
      Path weights, DocumentTokenizer tokens, int limit, Device device, Precision p, Pooling pool)
      throws IOException {
    if (taskType != null && TaskKind.parse(taskType) != TaskKind.REGRESSION) {
      throw new UserError("--task-type: ProNAB is a regression task");
    }
    if (tag != null) {
      throw new UserError(
          "--tag applies to GUE tasks; ProNAB inputs are tagged <protein>, <DNA>, <RNA>");
    }
    ProNabTask.Data data = ProNabTask.read(task, tokens, ProNabTask.Target.parse(target), limit);
    List<Example> all = data.examples();
    int[] fold = GroupedFolds.assign(all.stream().map(Example::group).toList(), folds, seed);
    boolean best = select != null && select.equalsIgnoreCase("best");
    int b = batchSize == null ? 256 : batchSize;
    long proteins = all.stream().map(Example::group).distinct().count();
    err.printf(
        Locale.ROOT,
        "finetune: ProNAB %s, %s: %,d measurements of %,d proteins (%,d dropped for Kd or dG 0,"
            + " %,d neither DNA nor RNA, %,d without a nucleic acid, %,d with the protein cut to"
            + " %d tokens); %d folds by"
            + " protein%n",
        task,
        target,
        all.size(),
        proteins,
        data.droppedZero(),
        data.droppedType(),
        data.droppedEmpty(),
        data.truncated(),
        limit,
        folds);
    List<List<Example>> trainSets = new ArrayList<>();
    List<List<Example>> devSets = new ArrayList<>();
    List<List<Example>> testSets = new ArrayList<>();
    long totalSteps = 0;
    for (int f = 0; f < folds; f++) {
      List<Example> train = new ArrayList<>();
      List<Example> dev = new ArrayList<>();
      List<Example> test = new ArrayList<>();
      int devFold = (f + 1) % folds;
      for (int i = 0; i < all.size(); i++) {
        if (fold[i] == f) {
          test.add(all.get(i));
        } else if (best && fold[i] == devFold) {
          dev.add(all.get(i));
        } else {
          train.add(all.get(i));
        }
      }
      if (test.size() < 2 || train.size() < 2 || (best && dev.size() < 2)) {
        throw new UserError(
            "--folds "
                + folds
                + ": fold "
                + (f + 1)
                + " has "
                + test.size()
                + " test measurements; choose fewer folds for "
                + all.size()
                + " measurements");
      }
      trainSets.add(train);
      devSets.add(best ? dev : null);
      testSets.add(test);
      totalSteps += stepsFor(train.size(), b, -1, 32);
    }
    Progress progress = new Progress("finetune", totalSteps);
    List<FinetuneFiles.Row> rows = new ArrayList<>();
    ObjectNode json = metricsJson("pronab", "regression");
    json.put("target", ProNabTask.Target.parse(target) == ProNabTask.Target.DG ? "dG" : "log10_Kd");
    ObjectNode counts = json.putObject("examples");
    counts.put("measurements", all.size());
    counts.put("proteins", proteins);
    counts.put("dropped_kd_or_dg_zero", data.droppedZero());
    counts.put("dropped_not_dna_or_rna", data.droppedType());
    counts.put("dropped_no_nucleic_acid", data.droppedEmpty());
    counts.put("protein_cut", data.truncated());
    ObjectNode settingsNode = json.putObject("settings");
    ArrayNode foldsNode = json.putArray("folds");
    List<Double> truth = new ArrayList<>();
    List<Double> pred = new ArrayList<>();
    FineTuner.Settings s = null;
    for (int f = 0; f < folds; f++) {
      List<Example> train = trainSets.get(f);
      long n = stepsFor(train.size(), b, -1, 32);
      s =
          settings(
              TaskKind.REGRESSION,
              1,
              pool,
              n,
              b,
              lr == null ? 1e-4 : lr,
              embedLr == null ? 1e-3 : embedLr,
              FineTuner.HeadInit.ZERO,
              best ? FineTuner.Selection.BEST : FineTuner.Selection.LAST,
              p,
              width,
              false);
      progress.fold = "fold " + (f + 1) + "/" + folds;
      err.printf(
          Locale.ROOT,
          "finetune: fold %d/%d: %,d train, %s%,d test measurements; %,d steps of %d%n",
          f + 1,
          folds,
          train.size(),
          best ? String.format(Locale.ROOT, "%,d dev, ", devSets.get(f).size()) : "",
          testSets.get(f).size(),
          n,
          b);
      FineTuner tuner = new FineTuner(encoder(weights), device, s);
      FineTuner.Outcome outcome = tuner.train(train, devSets.get(f), progress);
      List<Example> test = testSets.get(f);
      FineTuner.Predictions pr = tuner.predict(test);
      Map<String, Double> m = pr.metrics(test);
      for (int i = 0; i < test.size(); i++) {
        truth.add(test.get(i).label());
        pred.add(pr.values()[i][0]);
        rows.add(new FinetuneFiles.Row(List.of(Integer.toString(f)), test.get(i), pr.values()[i]));
      }
      ObjectNode fn = foldsNode.addObject();
      fn.put("fold", f);
      fn.put("train", train.size());
      if (best) {
        fn.put("dev", devSets.get(f).size());
        fn.put("kept_step", outcome.keptStep());
      }
      fn.put("test", test.size());
      fn.put("test_proteins", test.stream().map(Example::group).distinct().count());
      FinetuneFiles.putMetrics(fn.putObject("metrics"), m);
      err.printf(Locale.ROOT, "finetune: fold %d/%d test: %s%n", f + 1, folds, brief(m));
      if (!noSaveWeights) {
        FinetuneFiles.saveWeights(
            tuner,
            headJson(s, TaskKind.REGRESSION, 1, tuner),
            output.resolve("fold-" + f + ".safetensors"));
      }
    }
    settingsJson(settingsNode, s, weights);
    settingsNode.put("folds", folds);
    settingsNode.put("grouped_by", "protein sequence");
    Map<String, Double> pooled =
        org.omnibiote.finetune.RegressionMetrics.of(
                truth.stream().mapToDouble(Double::doubleValue).toArray(),
                pred.stream().mapToDouble(Double::doubleValue).toArray())
            .asMap();
    FinetuneFiles.putMetrics(json.putObject("pooled"), pooled);
    ObjectNode mean = json.putObject("fold_mean");
    ObjectNode sd = json.putObject("fold_sd");
    for (String k : pooled.keySet()) {
      double[] v = new double[folds];
      for (int f = 0; f < folds; f++) {
        v[f] = foldsNode.get(f).get("metrics").path(k).asDouble(Double.NaN);
      }
      double mu = 0;
      for (double x : v) {
        mu += x;
      }
      mu /= folds;
      double var = 0;
      for (double x : v) {
        var += (x - mu) * (x - mu);
      }
      FinetuneFiles.putMetrics(mean, Map.of(k, mu));
      FinetuneFiles.putMetrics(sd, Map.of(k, Math.sqrt(var / (folds - 1))));
    }
    FinetuneFiles.writePredictions(
        output.resolve("predictions.csv"), List.of("fold"), TaskKind.REGRESSION, 1, rows);
    FinetuneFiles.writeJson(output.resolve("metrics.json"), json);
    err.printf(Locale.ROOT, "finetune: pooled over %d folds: %s%n", folds, brief(pooled));
    err.printf(Locale.ROOT, "finetune: wrote %s (%s)%n", output, progress.elapsed());
    return 0;
  }

  private FineTuner.Settings settings(
      TaskKind kind,
      int classes,
      Pooling pool,
      long n,
      int b,
      double bodyLr,
      double wteLr,
      FineTuner.HeadInit defaultInit,
      FineTuner.Selection defaultSelect,
      Precision p,
      int width,
      boolean perToken) {
    FineTuner.HeadInit init =
        headInit == null
            ? defaultInit
            : switch (headInit.toLowerCase(Locale.ROOT)) {
              case "default" -> FineTuner.HeadInit.DEFAULT;
              case "zero" -> FineTuner.HeadInit.ZERO;
              default ->
                  throw new UserError(
                      "--head-init: '" + headInit + "' is neither default nor zero");
            };
    FineTuner.Selection sel =
        select == null
            ? defaultSelect
            : switch (select.toLowerCase(Locale.ROOT)) {
              case "best" -> FineTuner.Selection.BEST;
              case "last" -> FineTuner.Selection.LAST;
              default -> throw new UserError("--select: '" + select + "' is neither best nor last");
            };
    OneCycle.Kind sched =
        switch (schedule.toLowerCase(Locale.ROOT)) {
          case "onecycle" -> OneCycle.Kind.ONE_CYCLE;
          case "linear" -> OneCycle.Kind.LINEAR;
          case "constant" -> OneCycle.Kind.CONSTANT;
          default ->
              throw new UserError(
                  "--schedule: '" + schedule + "' is not onecycle, linear or constant");
        };
    String metric =
        selectMetric != null
            ? selectMetric
            : kind == TaskKind.REGRESSION ? "pearson" : perToken ? "accuracy" : "mcc";
    List<String> allowed =
        kind == TaskKind.CLASSIFICATION
            ? List.of("mcc", "f1_weighted", "accuracy", "auroc")
            : List.of("pearson", "spearman", "mse", "mae");
    if (!allowed.contains(metric)) {
      throw new UserError(
          "--select-metric " + metric + ": for " + kind.flag() + " one of " + allowed);
    }
    return new FineTuner.Settings(
        kind,
        kind == TaskKind.CLASSIFICATION ? classes : 1,
        pool,
        freeze,
        n,
        b,
        Math.min(microBatch, b),
        wteLr,
        bodyLr,
        headLr,
        weightDecay,
        beta1,
        beta2,
        epsilon,
        sched,
        pctStart,
        init,
        headScale == null ? (perToken ? 1.0 : 1024.0 / width) : headScale,
        evals,
        sel,
        metric,
        seed,
        p,
        true,
        perToken);
  }

  /** --steps, else --epochs, else {@code fixedDefault} steps, or (when -1) the default epochs. */
  private long stepsFor(int examples, int b, long fixedDefault, double defaultEpochs) {
    if (steps != null) {
      return steps;
    }
    if (epochs != null || fixedDefault < 0) {
      double e = epochs == null ? defaultEpochs : epochs;
      return Math.max(1, (long) (e * examples / b));
    }
    return fixedDefault;
  }

  /** The checkpoint's encoder, or (--random-init) a fresh one of its shape. */
  private OmniBioTA encoder(Path weights) throws IOException {
    OmniBioTA loaded = ModelWeights.load(weights);
    if (!randomInit) {
      return loaded;
    }
    torch.manual_seed(seed + 0x5eed);
    return new OmniBioTA(loaded.config());
  }

  private static int classes(GueTask.Splits s) {
    int max = 0;
    for (Example e : s.train()) {
      max = Math.max(max, (int) e.label());
    }
    int classes = max + 1;
    if (classes < 2) {
      throw new UserError(
          "--task " + s.train().get(0).id() + ": train.csv has one class only; nothing to learn");
    }
    for (List<Example> l : List.of(s.dev(), s.test())) {
      for (Example e : l) {
        if (e.label() >= classes) {
          throw new UserError(
              e.id()
                  + ": label "
                  + (long) e.label()
                  + " never occurs in train.csv (classes 0-"
                  + max
                  + ")");
        }
      }
    }
    return classes;
  }

  private static void addRows(
      List<FinetuneFiles.Row> rows, String split, List<Example> ex, FineTuner.Predictions p) {
    for (int i = 0; i < ex.size(); i++) {
      rows.add(new FinetuneFiles.Row(List.of(split), ex.get(i), p.values()[i]));
    }
  }

  private ObjectNode headJson(FineTuner.Settings s, TaskKind kind, int classes, FineTuner t) {
    ObjectNode h = FinetuneFiles.JSON.createObjectNode();
    h.put("task", task.toString());
    h.put("task_type", kind.flag());
    h.put("outputs", kind == TaskKind.CLASSIFICATION ? classes : 1);
    h.put("pooling", pooling(s));
    h.put("per_token", s.perToken());
    h.put("head_scale", s.headScale());
    h.put("target_mean", t.targetMean());
    h.put("target_std", t.targetStd());
    return h;
  }

  /** The start of every layout's metrics.json: the task, its layout and its type. */
  private ObjectNode metricsJson(String layout, String taskType) {
    ObjectNode json = FinetuneFiles.JSON.createObjectNode();
    json.put("task", task.toString());
    json.put("layout", layout);
    json.put("task_type", taskType);
    return json;
  }

  /** As {@link #metricsJson(String, String)}, with the classes and the fine-tuning settings. */
  private ObjectNode metricsJson(
      String layout, TaskKind kind, int classes, FineTuner.Settings s, Path weights) {
    ObjectNode json = metricsJson(layout, kind.flag());
    if (kind == TaskKind.CLASSIFICATION) {
      json.put("classes", classes);
    }
    settingsJson(json.putObject("settings"), s, weights);
    return json;
  }

  private void settingsJson(ObjectNode o, FineTuner.Settings s, Path weights) {
    o.put("checkpoint", weights.toString());
    o.put("tokenizer", tokenizer.toString());
    o.put("random_init", randomInit);
    o.put("freeze", s.freeze());
    o.put("pooling", pooling(s));
    o.put("steps", s.steps());
    o.put("batch_size", s.batchSize());
    o.put("micro_batch", s.microBatch());
    o.put("embed_lr", s.lrEmbed());
    o.put("lr", s.lrBody());
    o.put("head_lr", s.lrHead());
    o.put("weight_decay", s.weightDecay());
    o.put("beta1", s.beta1());
    o.put("beta2", s.beta2());
    o.put("epsilon", s.epsilon());
    o.put("schedule", schedule);
    o.put("pct_start", s.pctStart());
    o.put("head_init", s.headInit().name().toLowerCase(Locale.ROOT));
    o.put("head_scale", s.headScale());
    o.put("evals", s.evals());
    o.put("select", s.select().name().toLowerCase(Locale.ROOT));
    o.put("select_metric", s.selectMetric());
    o.put("max_length", maxLength == null ? -1 : maxLength);
    o.put("seed", s.seed());
    o.put("devices", devices);
    o.put("precision", s.precision().flag());
    o.put("standardize_targets", s.standardize());
  }

  private static String pooling(FineTuner.Settings s) {
    return s.perToken() ? "none (per token)" : s.pooling().name().toLowerCase(Locale.ROOT);
  }

  private void checkArguments() {
    if (microBatch < 1) {
      throw new UserError("--micro-batch must be at least 1, got " + microBatch);
    }
    if (batchSize != null && batchSize < 1) {
      throw new UserError("--batch-size must be at least 1, got " + batchSize);
    }
    if (steps != null && steps < 1) {
      throw new UserError("--steps must be at least 1, got " + steps);
    }
    if (epochs != null && epochs <= 0) {
      throw new UserError("--epochs must be positive, got " + epochs);
    }
    if (steps != null && epochs != null) {
      throw new UserError("give --steps or --epochs, not both");
    }
    if (maxLength != null && maxLength < 8) {
      throw new UserError("--max-length must be at least 8, got " + maxLength);
    }
    if (evals < 0) {
      throw new UserError("--evals must be 0 or more, got " + evals);
    }
    if (pctStart <= 0 || pctStart >= 1) {
      throw new UserError("--pct-start must be in (0, 1), got " + pctStart);
    }
    if (!Files.exists(tokenizer)) {
      throw new UserError("--tokenizer " + tokenizer + ": no such file");
    }
    if (Files.isRegularFile(output)) {
      throw new UserError("--output " + output + " is a file; name a folder");
    }
  }

  private static String brief(Map<String, Double> m) {
    StringBuilder b = new StringBuilder();
    m.forEach(
        (k, v) ->
            b.append(b.length() == 0 ? "" : ", ")
                .append(k)
                .append(' ')
                .append(String.format(Locale.ROOT, "%.4f", v)));
    return b.toString();
  }

  /** The progress line: steps, their rate, loss, last dev numbers, ETA over every fold. */
  private final class Progress implements FineTuner.Listener {
    private final String who;
    private final long total;
    private final long start = System.nanoTime();
    private long next = start + PROGRESS_EVERY_NANOS;
    private long done;
    private String fold = "";
    private String dev = "";
    private double loss = Double.NaN;

    Progress(String who, long total) {
      this.who = who;
      this.total = total;
    }

    @Override
    public void stepped(long step, long steps, double l) {
      done++;
      loss = Double.isNaN(loss) ? l : 0.9 * loss + 0.1 * l;
      long now = System.nanoTime();
      if (now > next || step == steps) {
        double secs = Math.max(1e-3, (now - start) / 1e9);
        long left = (long) ((total - done) / (done / secs));
        err.printf(
            Locale.ROOT,
            "%s: %s%sstep %,d/%,d (%.1f steps/s), loss %.4f%s, ETA %d:%02d:%02d%n",
            who,
            fold,
            fold.isEmpty() ? "" : ", ",
            step,
            steps,
            done / secs,
            loss,
            dev,
            left / 3600,
            left / 60 % 60,
            left % 60);
        next = now + PROGRESS_EVERY_NANOS;
      }
    }

    @Override
    public void evaluated(long step, Map<String, Double> m, boolean best) {
      dev = ", dev " + brief(m) + (best ? " (best)" : "");
    }

    String elapsed() {
      long secs = (System.nanoTime() - start) / 1_000_000_000L;
      return String.format(Locale.ROOT, "%d:%02d:%02d", secs / 3600, secs / 60 % 60, secs % 60);
    }
  }

  /** The dev metrics at every evaluation of a training, as {@code dev_history}. */
  private static void putDevHistory(ObjectNode json, FineTuner.Outcome outcome) {
    ArrayNode history = json.putArray("dev_history");
    for (int i = 0; i < outcome.evalSteps().size(); i++) {
      ObjectNode h = history.addObject();
      h.put("step", outcome.evalSteps().get(i));
      FinetuneFiles.putMetrics(h, outcome.devHistory().get(i));
    }
  }
}
