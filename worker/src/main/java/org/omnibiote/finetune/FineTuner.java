package org.omnibiote.finetune;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.Pooling;
import org.omnibiote.settings.Precision;
import org.omnibiote.train.Autocast;

/**
 * Fine-tunes an OmniBioTA encoder with a linear head, the original's recipe by default (evals/
 * gue.py, pronab.py): the pooled final hidden state (first token: the tag) through {@code Linear(N,
 * outputs)} times the output scale 1024/N; AdamW with three lr groups (embeddings, the rest of the
 * encoder, the head) under a OneCycle schedule; cross-entropy for classes, mean squared error on
 * standardised targets for values; the dev set evaluated {@code evals} times over the run (first
 * before any step, as the original) and the best dev checkpoint kept. Attention sees the whole
 * input (a protein and its nucleic acid see each other, as in the original), never PAD.
 *
 * <p>With {@code freeze} (a linear probe) the encoder is never trained: its pooled outputs are
 * computed once, in eval mode, and only the head learns from them.
 *
 * <p>With {@code perToken} (per-residue tasks, the original's proteinGLUE.py) the head reads every
 * token's final hidden state instead of a pooled one and is trained on each token's label ({@link
 * Example.Residues#tokenLabels}): an example's loss is the mean over its labelled tokens, a batch's
 * the mean over its examples, as the original's per-sequence {@code CrossEntropyLoss}/{@code
 * MSELoss} divided by the batch size; unlabelled tokens are ignored.
 *
 * <p>Not thread-safe. Build the encoder outside any PointerScope.
 */
public final class FineTuner {
  /** How the head's weights start. */
  public enum HeadInit {
    /** PyTorch's Linear init (gue.py). */
    DEFAULT,
    /** Zeros (pronab.py). */
    ZERO
  }

  /** Which dev evaluation's weights the run ends with. */
  public enum Selection {
    BEST,
    LAST
  }

  /** Every choice of the recipe. */
  public record Settings(
      TaskKind kind,
      int outputs,
      Pooling pooling,
      boolean freeze,
      long steps,
      int batchSize,
      int microBatch,
      double lrEmbed,
      double lrBody,
      double lrHead,
      double weightDecay,
      double beta1,
      double beta2,
      double epsilon,
      OneCycle.Kind schedule,
      double pctStart,
      HeadInit headInit,
      double headScale,
      int evals,
      Selection select,
      String selectMetric,
      long seed,
      Precision precision,
      boolean standardize,
      boolean perToken) {}

  /** Told about the run as it goes. */
  public interface Listener {
    /** After optimiser step {@code step} (1-based) of {@code steps}, with its training loss. */
    void stepped(long step, long steps, double loss);

    /** After a dev evaluation before step {@code step}+1; {@code best} if it is the best yet. */
    void evaluated(long step, Map<String, Double> dev, boolean best);
  }

  /** Predictions: per example the class probabilities (classification) or the value. */
  public record Predictions(TaskKind kind, double[][] values) {
    /** The predicted class (argmax) or value of example i. */
    public double predicted(int i) {
      return kind == TaskKind.REGRESSION ? values[i][0] : argmax(values[i]);
    }

    public Map<String, Double> metrics(List<Example> examples) {
      double[] t = new double[examples.size()];
      for (int i = 0; i < t.length; i++) {
        t[i] = examples.get(i).label();
      }
      return score(kind, t, values);
    }
  }

  /**
   * Per-token predictions: per example, per token position of its (possibly cut) input, the class
   * probabilities or the value.
   */
  public record TokenPredictions(TaskKind kind, double[][][] values) {
    /** The predicted class (argmax) or value of token {@code t} of example {@code i}. */
    public double predicted(int i, int t) {
      return kind == TaskKind.REGRESSION ? values[i][t][0] : argmax(values[i][t]);
    }

    /** Metrics over the labelled tokens, each scored against its token label (the original's). */
    public Map<String, Double> metrics(List<Example> examples) {
      List<Double> truth = new ArrayList<>();
      List<double[]> out = new ArrayList<>();
      for (int i = 0; i < examples.size(); i++) {
        double[] labels = examples.get(i).residues().tokenLabels();
        for (int t = 0; t < labels.length; t++) {
          if (!Double.isNaN(labels[t])) {
            truth.add(labels[t]);
            out.add(values[i][t]);
          }
        }
      }
      return score(kind, truth, out);
    }

    /**
     * Metrics over the labelled residues, each predicted as the token that covers it (residues
     * under tokens cut off by the maximum length are left out).
     */
    public Map<String, Double> residueMetrics(List<Example> examples) {
      List<Double> truth = new ArrayList<>();
      List<double[]> out = new ArrayList<>();
      for (int i = 0; i < examples.size(); i++) {
        Example.Residues r = examples.get(i).residues();
        for (int k = 0; k < r.labels().length; k++) {
          if (!Double.isNaN(r.labels()[k]) && r.tokenOf()[k] >= 0) {
            truth.add(r.labels()[k]);
            out.add(values[i][r.tokenOf()[k]]);
          }
        }
      }
      return score(kind, truth, out);
    }
  }

  private static Map<String, Double> score(TaskKind kind, List<Double> truth, List<double[]> out) {
    return score(
        kind,
        truth.stream().mapToDouble(Double::doubleValue).toArray(),
        out.toArray(new double[0][]));
  }

  /** The metrics of {@code values} (probabilities or [value] rows) against {@code truth}. */
  private static Map<String, Double> score(TaskKind kind, double[] truth, double[][] values) {
    int n = truth.length;
    if (kind == TaskKind.REGRESSION) {
      double[] p = new double[n];
      for (int i = 0; i < n; i++) {
        p[i] = values[i][0];
      }
      return RegressionMetrics.of(truth, p).asMap();
    }
    int[] t = new int[n];
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      t[i] = (int) truth[i];
      p[i] = argmax(values[i]);
    }
    return ClassificationMetrics.of(t, p, values).asMap();
  }

  /** The first index of the largest value (as numpy's argmax). */
  static int argmax(double[] v) {
    int best = 0;
    for (int c = 1; c < v.length; c++) {
      if (v[c] > v[best]) {
        best = c;
      }
    }
    return best;
  }

  /** How the run went: the dev history and the evaluation whose weights it kept. */
  public record Outcome(
      List<Long> evalSteps,
      List<Map<String, Double>> devHistory,
      long keptStep,
      double keptMetric) {}

  private static final long NONE = 0; // at::Reduction::None
  private static final long SUM = 2; // at::Reduction::Sum

  private final OmniBioTA model;
  private final LinearImpl head;
  private final Device device;
  private final Settings s;
  private double targetMean;
  private double targetStd = 1;

  /**
   * @param model the encoder, loaded (or freshly initialised) outside any PointerScope; moved to
   *     {@code device}
   */
  public FineTuner(OmniBioTA model, Device device, Settings s) {
    this.model = model;
    this.device = device;
    this.s = s;
    torch.manual_seed(s.seed());
    head = new LinearImpl(new LinearOptions(model.config().nEmbd(), s.outputs()));
    if (s.headInit() == HeadInit.ZERO) {
      try (NoGradGuard noGrad = new NoGradGuard()) {
        head.weight().zero_();
        head.bias().zero_();
      }
    }
    if (!device.is_cpu()) {
      model.to(device, false);
      head.to(device, false);
    }
  }

  public OmniBioTA model() {
    return model;
  }

  public double targetMean() {
    return targetMean;
  }

  public double targetStd() {
    return targetStd;
  }

  /**
   * The encoder's parameters under their original names, then {@code head.weight}, {@code
   * head.bias}.
   */
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>(model.stateDict());
    out.put("head.weight", head.weight());
    out.put("head.bias", head.bias());
    return out;
  }

  /** Trains on {@code train}, evaluating on {@code dev} (may be null: no selection, last kept). */
  public Outcome train(List<Example> train, List<Example> dev, Listener listener) {
    if (s.kind() == TaskKind.REGRESSION && s.standardize()) {
      double[] y = targets(train);
      targetMean = RegressionMetrics.mean(y);
      double v = 0;
      for (double x : y) {
        v += (x - targetMean) * (x - targetMean);
      }
      targetStd = Math.sqrt(v / y.length);
      if (targetStd == 0) {
        targetStd = 1;
      }
    }
    GroupAdamW opt = new GroupAdamW(s.beta2(), s.epsilon(), s.weightDecay());
    List<Tensor> wte = new ArrayList<>();
    List<Tensor> body = new ArrayList<>();
    if (!s.freeze()) {
      model.stateDict().forEach((name, p) -> (name.contains("wte") ? wte : body).add(p));
      opt.addGroup("embeddings", s.lrEmbed(), wte);
      opt.addGroup("body", s.lrBody(), body);
    }
    opt.addGroup("head", s.lrHead(), List.of(head.weight(), head.bias()));
    OneCycle schedule = new OneCycle(s.schedule(), s.steps(), s.pctStart(), s.beta1());
    Frozen trainFeatures = s.freeze() ? features(train) : null;
    Frozen devFeatures = s.freeze() && dev != null ? features(dev) : null;
    long interval = Math.max(1, s.steps() / Math.max(1, s.evals()));
    boolean lowerIsBetter = s.selectMetric().equals("mse") || s.selectMetric().equals("mae");
    List<Long> evalSteps = new ArrayList<>();
    List<Map<String, Double>> history = new ArrayList<>();
    Map<String, Tensor> best = null;
    long bestStep = -1;
    double bestMetric = Double.NaN;
    Random order = new Random(s.seed());
    int[] epoch = new int[0];
    int at = 0;
    for (long step = 0; step <= s.steps(); step++) {
      boolean evaluate = dev != null && (step % interval == 0 || step == s.steps());
      if (evaluate) {
        Map<String, Double> m =
            s.perToken()
                ? predictTokens(dev, devFeatures).metrics(dev)
                : predict(dev, devFeatures).metrics(dev);
        double metric = m.getOrDefault(s.selectMetric(), Double.NaN);
        boolean better =
            !Double.isNaN(metric)
                && (Double.isNaN(bestMetric)
                    || (lowerIsBetter ? metric < bestMetric : metric > bestMetric));
        if (better || bestStep < 0) {
          bestMetric = metric;
          bestStep = step;
          if (s.select() == Selection.BEST) {
            release(best);
            best = snapshot();
          }
        }
        evalSteps.add(step);
        history.add(m);
        listener.evaluated(step, m, bestStep == step);
      }
      if (step == s.steps()) {
        break;
      }
      int[] batch = new int[s.batchSize()];
      for (int i = 0; i < batch.length; i++) {
        if (at == epoch.length) {
          epoch = shuffled(train.size(), order);
          at = 0;
        }
        batch[i] = epoch[at++];
      }
      opt.zeroGrad();
      model.train(!s.freeze());
      opt.schedule(schedule.lrFactor(step), schedule.beta1(step));
      double loss = 0;
      for (int from = 0; from < batch.length; from += s.microBatch()) {
        int[] micro =
            Arrays.copyOfRange(batch, from, Math.min(batch.length, from + s.microBatch()));
        loss += backward(train, micro, trainFeatures, batch.length);
      }
      opt.step();
      listener.stepped(step + 1, s.steps(), loss);
    }
    opt.close();
    model.eval();
    if (s.select() == Selection.BEST && best != null) {
      restore(best);
      release(best);
    } else {
      bestStep = s.steps();
      bestMetric =
          history.isEmpty()
              ? Double.NaN
              : history.get(history.size() - 1).getOrDefault(s.selectMetric(), Double.NaN);
    }
    close(trainFeatures);
    close(devFeatures);
    return new Outcome(evalSteps, history, bestStep, bestMetric);
  }

  /** Predictions for {@code examples} with the weights as they are now. */
  public Predictions predict(List<Example> examples) {
    Frozen f = s.freeze() ? features(examples) : null;
    try {
      return predict(examples, f);
    } finally {
      close(f);
    }
  }

  /** Per-token predictions (a per-token head) for {@code examples} with the weights as they are. */
  public TokenPredictions predictTokens(List<Example> examples) {
    Frozen f = s.freeze() ? features(examples) : null;
    try {
      return predictTokens(examples, f);
    } finally {
      close(f);
    }
  }

  private TokenPredictions predictTokens(List<Example> examples, Frozen features) {
    model.eval();
    double[][][] out = new double[examples.size()][][];
    int[] order = byLength(examples);
    for (int from = 0; from < order.length; from += s.microBatch()) {
      int[] idx = Arrays.copyOfRange(order, from, Math.min(order.length, from + s.microBatch()));
      try (PointerScope scope = new PointerScope();
          NoGradGuard noGrad = new NoGradGuard()) {
        Tensor o = outputs(examples, idx, features).to(Float); // [b, T, outputs]
        o =
            s.kind() == TaskKind.CLASSIFICATION
                ? torch.softmax(o, -1)
                : o.mul(new Scalar(targetStd)).add(new Scalar(targetMean));
        float[] v = floats(o);
        int t = (int) o.size(1);
        int w = (int) o.size(2);
        for (int k = 0; k < idx.length; k++) {
          int length = examples.get(idx[k]).tokens().length;
          double[][] rows = new double[length][w];
          for (int j = 0; j < length; j++) {
            for (int c = 0; c < w; c++) {
              rows[j][c] = v[(k * t + j) * w + c];
            }
          }
          out[idx[k]] = rows;
        }
      }
    }
    return new TokenPredictions(s.kind(), out);
  }

  private Predictions predict(List<Example> examples, Frozen features) {
    model.eval();
    double[][] out = new double[examples.size()][];
    int[] order = byLength(examples);
    for (int from = 0; from < order.length; from += s.microBatch()) {
      int[] idx = Arrays.copyOfRange(order, from, Math.min(order.length, from + s.microBatch()));
      try (PointerScope scope = new PointerScope();
          NoGradGuard noGrad = new NoGradGuard()) {
        Tensor o = outputs(examples, idx, features);
        if (s.kind() == TaskKind.CLASSIFICATION) {
          o = torch.softmax(o.to(Float), -1);
        } else {
          o = o.to(Float).mul(new Scalar(targetStd)).add(new Scalar(targetMean));
        }
        float[] v = floats(o);
        int w = (int) o.size(1);
        for (int k = 0; k < idx.length; k++) {
          double[] row = new double[w];
          for (int c = 0; c < w; c++) {
            row[c] = v[k * w + c];
          }
          out[idx[k]] = row;
        }
      }
    }
    return new Predictions(s.kind(), out);
  }

  /** Forward and backward of one micro-batch; its loss is its share of the batch mean. */
  private double backward(List<Example> train, int[] idx, Frozen features, int batch) {
    if (s.perToken()) {
      return backwardTokens(train, idx, features, batch);
    }
    try (PointerScope scope = new PointerScope()) {
      Tensor o = outputs(train, idx, features).to(Float);
      Tensor sum;
      if (s.kind() == TaskKind.CLASSIFICATION) {
        long[] y = new long[idx.length];
        for (int k = 0; k < idx.length; k++) {
          y[k] = (long) train.get(idx[k]).label();
        }
        Tensor target = onDevice(Tensor.create(y, idx.length)); // cpu-only: host labels
        sum = torch.cross_entropy_loss(o, target, new TensorOptional(), SUM, -100, 0.0);
      } else {
        float[] y = new float[idx.length];
        for (int k = 0; k < idx.length; k++) {
          y[k] = (float) ((train.get(idx[k]).label() - targetMean) / targetStd);
        }
        Tensor target = onDevice(Tensor.create(y, idx.length, 1)); // cpu-only: host labels
        sum = o.sub(target).square().sum();
      }
      Tensor loss = sum.div(new Scalar((double) batch));
      loss.backward();
      return loss.item_double();
    }
  }

  /**
   * Forward and backward of one micro-batch of a per-token head: each example's loss is the mean
   * over its labelled tokens, weighted 1/batch (examples without a labelled token weigh nothing).
   */
  private double backwardTokens(List<Example> train, int[] idx, Frozen features, int batch) {
    try (PointerScope scope = new PointerScope()) {
      Tensor o = outputs(train, idx, features).to(Float); // [b, T, outputs]
      int t = (int) o.size(1);
      int cells = idx.length * t;
      float[] weight = new float[cells];
      long[] classes = new long[cells];
      float[] values = new float[cells];
      Arrays.fill(classes, -100);
      for (int k = 0; k < idx.length; k++) {
        double[] labels = train.get(idx[k]).residues().tokenLabels();
        int labelled = train.get(idx[k]).residues().labelledTokens();
        for (int j = 0; j < labels.length; j++) {
          if (!Double.isNaN(labels[j])) {
            weight[k * t + j] = (float) (1.0 / ((double) labelled * batch));
            classes[k * t + j] = (long) labels[j];
            values[k * t + j] = (float) ((labels[j] - targetMean) / targetStd);
          }
        }
      }
      Tensor w = onDevice(Tensor.create(weight, cells)); // cpu-only: host weights, moved
      Tensor per;
      if (s.kind() == TaskKind.CLASSIFICATION) {
        Tensor target = onDevice(Tensor.create(classes, cells)); // cpu-only: host labels, moved
        per =
            torch.cross_entropy_loss(
                o.reshape(cells, o.size(2)), target, new TensorOptional(), NONE, -100, 0.0);
      } else {
        Tensor target = onDevice(Tensor.create(values, cells)); // cpu-only: host labels, moved
        per = o.reshape(cells).sub(target).square();
      }
      Tensor loss = per.mul(w).sum();
      loss.backward();
      return loss.item_double();
    }
  }

  /**
   * The head's outputs for examples {@code idx}, times the output scale: [b, outputs] pooled, or
   * [b, T, outputs] per token (T the longest input of the micro-batch).
   */
  private Tensor outputs(List<Example> examples, int[] idx, Frozen features) {
    Tensor x;
    if (features != null && s.perToken()) {
      x = padded(examples, idx, features.tokens());
    } else if (features != null) {
      // cpu-only: the indices are made from a Java array, then moved to the device (onDevice).
      x = features.pooled().index_select(0, onDevice(Tensor.create(asLongs(idx), idx.length)));
    } else {
      try (Autocast cast = Autocast.open(s.precision(), device.type())) {
        x = model.encode(ids(examples, idx), pooling(), false).to(Float);
      }
    }
    return head.forward(x).mul(new Scalar(s.headScale()));
  }

  private Pooling pooling() {
    return s.perToken() ? Pooling.ALL : s.pooling();
  }

  /**
   * The frozen per-token features of examples {@code idx}, zero-padded: [b, T, N] on the device.
   */
  private Tensor padded(List<Example> examples, int[] idx, float[][] tokens) {
    int n = model.config().nEmbd();
    int t = 0;
    for (int i : idx) {
      t = Math.max(t, examples.get(i).tokens().length);
    }
    float[] flat = new float[idx.length * t * n];
    for (int k = 0; k < idx.length; k++) {
      System.arraycopy(tokens[idx[k]], 0, flat, k * t * n, tokens[idx[k]].length);
    }
    return onDevice(Tensor.create(flat, idx.length, t, n)); // cpu-only: host data, moved
  }

  /**
   * Frozen encodings: pooled [n, N] on the device, or (per token) each example's [length, N] on the
   * host.
   */
  private record Frozen(Tensor pooled, float[][] tokens) {}

  private static void close(Frozen f) {
    if (f != null && f.pooled() != null) {
      f.pooled().close();
    }
  }

  /** The encoder outputs of {@code examples}, in eval mode, without autograd. */
  private Frozen features(List<Example> examples) {
    model.eval();
    int n = model.config().nEmbd();
    int[] order = byLength(examples);
    if (s.perToken()) {
      float[][] tokens = new float[examples.size()][];
      for (int from = 0; from < order.length; from += s.microBatch()) {
        int[] idx = Arrays.copyOfRange(order, from, Math.min(order.length, from + s.microBatch()));
        try (PointerScope scope = new PointerScope();
            NoGradGuard noGrad = new NoGradGuard();
            Autocast cast = Autocast.open(s.precision(), device.type())) {
          Tensor h = model.encode(ids(examples, idx), Pooling.ALL, false).to(Float);
          int t = (int) h.size(1);
          float[] v = floats(h);
          for (int k = 0; k < idx.length; k++) {
            int length = examples.get(idx[k]).tokens().length;
            tokens[idx[k]] = Arrays.copyOfRange(v, k * t * n, (k * t + length) * n);
          }
        }
      }
      return new Frozen(null, tokens);
    }
    float[] all = new float[examples.size() * n];
    for (int from = 0; from < order.length; from += s.microBatch()) {
      int[] idx = Arrays.copyOfRange(order, from, Math.min(order.length, from + s.microBatch()));
      try (PointerScope scope = new PointerScope();
          NoGradGuard noGrad = new NoGradGuard();
          Autocast cast = Autocast.open(s.precision(), device.type())) {
        float[] v = floats(model.encode(ids(examples, idx), s.pooling(), false).to(Float));
        for (int k = 0; k < idx.length; k++) {
          System.arraycopy(v, k * n, all, idx[k] * n, n);
        }
      }
    }
    Tensor t = Tensor.create(all, examples.size(), n); // cpu-only: host data, moved below
    return new Frozen(device.is_cpu() ? t : t.to(device, Float), null);
  }

  /** The regression targets of {@code train}: its labels, or (per token) every token label. */
  private double[] targets(List<Example> train) {
    if (!s.perToken()) {
      return train.stream().mapToDouble(Example::label).toArray();
    }
    return train.stream()
        .flatMapToDouble(e -> Arrays.stream(e.residues().tokenLabels()))
        .filter(v -> !Double.isNaN(v))
        .toArray();
  }

  /** Token ids of examples {@code idx}, right-padded with PAD, on the device. */
  private Tensor ids(List<Example> examples, int[] idx) {
    int t = 0;
    for (int i : idx) {
      t = Math.max(t, examples.get(i).tokens().length);
    }
    long[] flat = new long[idx.length * t];
    Arrays.fill(flat, OmniBioTA.PAD);
    for (int k = 0; k < idx.length; k++) {
      int[] tokens = examples.get(idx[k]).tokens();
      for (int j = 0; j < tokens.length; j++) {
        flat[k * t + j] = tokens[j];
      }
    }
    return onDevice(Tensor.create(flat, idx.length, t)); // cpu-only: host data, moved
  }

  private Tensor onDevice(Tensor t) {
    return device.is_cpu() ? t : t.to(device, t.scalar_type());
  }

  private Map<String, Tensor> snapshot() {
    Map<String, Tensor> copy = new LinkedHashMap<>();
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Map<String, Tensor> state =
          s.freeze() ? Map.of("head.weight", head.weight(), "head.bias", head.bias()) : stateDict();
      state.forEach(
          (name, p) -> {
            Tensor c = p.detach().clone();
            scope.detach(c.retainReference());
            copy.put(name, c);
          });
    }
    return copy;
  }

  private void restore(Map<String, Tensor> saved) {
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Map<String, Tensor> own = stateDict();
      saved.forEach((name, t) -> own.get(name).copy_(t));
    }
  }

  private static void release(Map<String, Tensor> saved) {
    if (saved != null) {
      saved.values().forEach(Tensor::close);
    }
  }

  private static int[] shuffled(int n, Random rng) {
    int[] a = IntStream.range(0, n).toArray();
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int x = a[i];
      a[i] = a[j];
      a[j] = x;
    }
    return a;
  }

  /** Indices sorted by token length (stable), so a batch holds similar lengths. */
  private static int[] byLength(List<Example> examples) {
    return IntStream.range(0, examples.size())
        .boxed()
        .sorted(Comparator.comparingInt(i -> examples.get(i).tokens().length))
        .mapToInt(Integer::intValue)
        .toArray();
  }

  private static long[] asLongs(int[] idx) {
    long[] out = new long[idx.length];
    for (int i = 0; i < idx.length; i++) {
      out[i] = idx[i];
    }
    return out;
  }

  private static float[] floats(Tensor t) {
    Tensor c = t.cpu().contiguous();
    float[] v = new float[(int) c.numel()];
    c.data_ptr_float().capacity(v.length).get(v);
    return v;
  }
}
