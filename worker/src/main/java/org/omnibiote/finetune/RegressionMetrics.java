package org.omnibiote.finetune;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The regression metrics, defined as SciPy and scikit-learn define them (FinetuneMetricsTest checks
 * them to 1e-9): Pearson's r ({@code scipy.stats.pearsonr}), Spearman's rho ({@code
 * scipy.stats.spearmanr}: Pearson's r of the ranks, ties given their mean rank), mean squared and
 * mean absolute error ({@code sklearn.metrics.mean_squared_error}, {@code mean_absolute_error}).
 * Pearson and Spearman are NaN when either side is constant.
 */
public record RegressionMetrics(double pearson, double spearman, double mse, double mae) {

  public Map<String, Double> asMap() {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("pearson", pearson);
    m.put("spearman", spearman);
    m.put("mse", mse);
    m.put("mae", mae);
    return m;
  }

  public static RegressionMetrics of(double[] truth, double[] predicted) {
    if (truth.length != predicted.length || truth.length < 2) {
      throw new IllegalArgumentException("need as many predictions as labels, at least two");
    }
    double se = 0;
    double ae = 0;
    for (int i = 0; i < truth.length; i++) {
      double d = predicted[i] - truth[i];
      se += d * d;
      ae += Math.abs(d);
    }
    return new RegressionMetrics(
        pearson(truth, predicted),
        pearson(ranks(truth), ranks(predicted)),
        se / truth.length,
        ae / truth.length);
  }

  /** Pearson's r, centred first (as SciPy does) for accuracy. */
  static double pearson(double[] x, double[] y) {
    double mx = mean(x);
    double my = mean(y);
    double sxy = 0;
    double sxx = 0;
    double syy = 0;
    for (int i = 0; i < x.length; i++) {
      double a = x[i] - mx;
      double b = y[i] - my;
      sxy += a * b;
      sxx += a * a;
      syy += b * b;
    }
    if (sxx == 0 || syy == 0) {
      return Double.NaN;
    }
    double r = sxy / (Math.sqrt(sxx) * Math.sqrt(syy));
    return Math.max(-1.0, Math.min(1.0, r));
  }

  static double mean(double[] x) {
    double s = 0;
    for (double v : x) {
      s += v;
    }
    return s / x.length;
  }

  /** Ranks 1..n, ties sharing their mean rank. */
  static double[] ranks(double[] x) {
    Integer[] order = new Integer[x.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Double.compare(x[a], x[b]));
    double[] r = new double[x.length];
    for (int i = 0; i < order.length; ) {
      int j = i;
      while (j + 1 < order.length && x[order[j + 1]] == x[order[i]]) {
        j++;
      }
      double rank = (i + j) / 2.0 + 1;
      for (int k = i; k <= j; k++) {
        r[order[k]] = rank;
      }
      i = j + 1;
    }
    return r;
  }
}
