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
      boolean standardize) {}

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
      if (kind == TaskKind.REGRESSION) {
        return values[i][0];
      }
      int best = 0;
      for (int c = 1; c < values[i].length; c++) {
        if (values[i][c] > values[i][best]) {
          best = c;
        }
      }
      return best;
    }

    public Map<String, Double> metrics(List<Example> examples) {
      int n = examples.size();
      if (kind == TaskKind.REGRESSION) {
        double[] t = new double[n];
        double[] p = new double[n];
        for (int i = 0; i < n; i++) {
          t[i] = examples.get(i).label();
          p[i] = values[i][0];
        }
        return RegressionMetrics.of(t, p).asMap();
      }
      int[] t = new int[n];
      int[] p = new int[n];
      for (int i = 0; i < n; i++) {
        t[i] = (int) examples.get(i).label();
        p[i] = (int) predicted(i);
      }
      return ClassificationMetrics.of(t, p, values).asMap();
    }
  }

  /** How the run went: the dev history and the evaluation whose weights it kept. */
  public record Outcome(
      List<Long> evalSteps,
      List<Map<String, Double>> devHistory,
      long keptStep,
      double keptMetric) {}

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
      double[] y = train.stream().mapToDouble(Example::label).toArray();
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
    Tensor trainFeatures = s.freeze() ? features(train) : null;
    Tensor devFeatures = s.freeze() && dev != null ? features(dev) : null;
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
        Map<String, Double> m = predict(dev, devFeatures).metrics(dev);
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
    if (trainFeatures != null) {
      trainFeatures.close();
    }
    if (devFeatures != null) {
      devFeatures.close();
    }
    return new Outcome(evalSteps, history, bestStep, bestMetric);
  }

  /** Predictions for {@code examples} with the weights as they are now. */
  public Predictions predict(List<Example> examples) {
    if (!s.freeze()) {
      return predict(examples, null);
    }
    Tensor f = features(examples);
    try {
      return predict(examples, f);
    } finally {
      f.close();
    }
  }

  private Predictions predict(List<Example> examples, Tensor features) {
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
  private double backward(List<Example> train, int[] idx, Tensor features, int batch) {
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

  /** The head's outputs [b, outputs] for examples {@code idx}, times the output scale. */
  private Tensor outputs(List<Example> examples, int[] idx, Tensor features) {
    Tensor x;
    if (features != null) {
      // cpu-only: the indices are made from a Java array, then moved to the device (onDevice).
      x = features.index_select(0, onDevice(Tensor.create(asLongs(idx), idx.length)));
    } else {
      try (Autocast cast = Autocast.open(s.precision(), device.type())) {
        x = model.encode(ids(examples, idx), s.pooling(), false).to(Float);
      }
    }
    return head.forward(x).mul(new Scalar(s.headScale()));
  }

  /** The pooled encoder outputs [n, N] of {@code examples}, in eval mode, without autograd. */
  private Tensor features(List<Example> examples) {
    model.eval();
    int n = model.config().nEmbd();
    float[] all = new float[examples.size() * n];
    int[] order = byLength(examples);
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
    return device.is_cpu() ? t : t.to(device, Float);
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
