package org.omnibiote.finetune;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;

/**
 * The classification metrics of the original's evaluations and a few more, defined as scikit-learn
 * 1.2 defines them (FinetuneMetricsTest checks them against it to 1e-9): Matthews correlation
 * (multiclass form), support-weighted F1, accuracy and the area under the ROC curve (binary: of the
 * positive class's score; more classes: one-vs-rest, macro-averaged).
 *
 * @param mcc {@code sklearn.metrics.matthews_corrcoef}; 0 when undefined, as scikit-learn
 * @param f1Weighted {@code f1_score(average="weighted")}, a class with no predictions scoring 0
 * @param accuracy {@code accuracy_score}
 * @param auroc {@code roc_auc_score} (multi_class="ovr"); NaN when only one class is present
 */
public record ClassificationMetrics(double mcc, double f1Weighted, double accuracy, double auroc) {

  /** The metrics as name to value, in the order the reports print them. */
  public Map<String, Double> asMap() {
    Map<String, Double> m = new java.util.LinkedHashMap<>();
    m.put("mcc", mcc);
    m.put("f1_weighted", f1Weighted);
    m.put("accuracy", accuracy);
    m.put("auroc", auroc);
    return m;
  }

  /**
   * Metrics of predictions {@code predicted} against {@code truth}, with {@code scores[i][c]} the
   * probability of class c for example i (rows sum to 1).
   */
  public static ClassificationMetrics of(int[] truth, int[] predicted, double[][] scores) {
    if (truth.length != predicted.length || truth.length != scores.length || truth.length == 0) {
      throw new IllegalArgumentException("need as many predictions as labels, at least one");
    }
    return new ClassificationMetrics(
        mcc(truth, predicted),
        f1Weighted(truth, predicted),
        accuracy(truth, predicted),
        auroc(truth, scores));
  }

  static double accuracy(int[] truth, int[] predicted) {
    int right = 0;
    for (int i = 0; i < truth.length; i++) {
      right += truth[i] == predicted[i] ? 1 : 0;
    }
    return (double) right / truth.length;
  }

  /** Gorodkin's multiclass MCC from the confusion matrix, as scikit-learn computes it. */
  static double mcc(int[] truth, int[] predicted) {
    int k = 1 + Math.max(max(truth), max(predicted));
    double[] t = new double[k];
    double[] p = new double[k];
    double c = 0;
    for (int i = 0; i < truth.length; i++) {
      t[truth[i]]++;
      p[predicted[i]]++;
      c += truth[i] == predicted[i] ? 1 : 0;
    }
    double s = truth.length;
    double tp = 0;
    double pp = 0;
    double tt = 0;
    for (int j = 0; j < k; j++) {
      tp += t[j] * p[j];
      pp += p[j] * p[j];
      tt += t[j] * t[j];
    }
    double covYtYp = c * s - tp;
    double covYpYp = s * s - pp;
    double covYtYt = s * s - tt;
    if (covYpYp * covYtYt == 0) {
      return 0.0;
    }
    return covYtYp / Math.sqrt(covYtYt * covYpYp);
  }

  /** F1 of each class present in truth or predictions, weighted by its support in truth. */
  static double f1Weighted(int[] truth, int[] predicted) {
    TreeSet<Integer> labels = new TreeSet<>();
    for (int i = 0; i < truth.length; i++) {
      labels.add(truth[i]);
      labels.add(predicted[i]);
    }
    double sum = 0;
    double support = 0;
    for (int label : labels) {
      double tp = 0;
      double fp = 0;
      double fn = 0;
      for (int i = 0; i < truth.length; i++) {
        boolean t = truth[i] == label;
        boolean p = predicted[i] == label;
        tp += t && p ? 1 : 0;
        fp += !t && p ? 1 : 0;
        fn += t && !p ? 1 : 0;
      }
      double f1 = tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);
      sum += f1 * (tp + fn);
      support += tp + fn;
    }
    return support == 0 ? 0.0 : sum / support;
  }

  /**
   * ROC AUC: binary (two score columns) of column 1; otherwise the mean over the classes present in
   * truth of the one-vs-rest AUC of that class's column. NaN when truth has one class only.
   */
  static double auroc(int[] truth, double[][] scores) {
    int columns = scores[0].length;
    TreeSet<Integer> present = new TreeSet<>();
    for (int t : truth) {
      present.add(t);
    }
    if (present.size() < 2) {
      return Double.NaN;
    }
    if (columns == 2) {
      return binaryAuc(truth, 1, column(scores, 1));
    }
    double sum = 0;
    for (int c : present) {
      sum += binaryAuc(truth, c, column(scores, c));
    }
    return sum / present.size();
  }

  private static double[] column(double[][] scores, int c) {
    double[] out = new double[scores.length];
    for (int i = 0; i < scores.length; i++) {
      out[i] = c < scores[i].length ? scores[i][c] : 0.0;
    }
    return out;
  }

  /**
   * The area under the ROC curve of {@code score} for "truth == positive": the Mann-Whitney
   * statistic with tied scores counting one half, which is the trapezoidal area over the distinct
   * thresholds that scikit-learn integrates.
   */
  static double binaryAuc(int[] truth, int positive, double[] score) {
    Integer[] order = new Integer[score.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Double.compare(score[a], score[b]));
    double[] ranks = new double[score.length];
    for (int i = 0; i < order.length; ) {
      int j = i;
      while (j + 1 < order.length && score[order[j + 1]] == score[order[i]]) {
        j++;
      }
      double rank = (i + j) / 2.0 + 1;
      for (int k = i; k <= j; k++) {
        ranks[order[k]] = rank;
      }
      i = j + 1;
    }
    double pos = 0;
    double rankSum = 0;
    for (int i = 0; i < truth.length; i++) {
      if (truth[i] == positive) {
        pos++;
        rankSum += ranks[i];
      }
    }
    double neg = truth.length - pos;
    if (pos == 0 || neg == 0) {
      return Double.NaN;
    }
    return (rankSum - pos * (pos + 1) / 2) / (pos * neg);
  }

  private static int max(int[] values) {
    int m = 0;
    for (int v : values) {
      if (v < 0) {
        throw new IllegalArgumentException("class labels must be 0, 1, 2, ...; got " + v);
      }
      m = Math.max(m, v);
    }
    return m;
  }
}
