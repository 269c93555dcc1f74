package org.omnibiote.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.ReferencePython;

/**
 * Every metric finetune reports equals scikit-learn's (and SciPy's Pearson and Spearman) on the
 * same predictions, to 1e-9: binary and multiclass classification with tied scores, a class never
 * predicted, a constant prediction (MCC 0); regression with ties and with noise.
 */
class FinetuneMetricsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private record ClassCase(String name, int[] truth, int[] predicted, double[][] scores) {}

  private record RegressionCase(String name, double[] truth, double[] predicted) {}

  @Test
  void classificationAndRegressionMetricsEqualScikitLearns() throws Exception {
    List<ClassCase> classes = new ArrayList<>();
    Random rng = new Random(7);
    for (int k : new int[] {2, 3, 5}) {
      for (int n : new int[] {15, 200}) {
        int[] t = new int[n];
        int[] p = new int[n];
        double[][] s = new double[n][k];
        for (int i = 0; i < n; i++) {
          t[i] = i < k ? i : rng.nextInt(k); // every class present
          double sum = 0;
          for (int c = 0; c < k; c++) {
            // Scores rounded to 0.1 so that many tie; the true class favoured.
            s[i][c] = Math.round((rng.nextDouble() + (c == t[i] ? 0.4 : 0)) * 10) / 10.0 + 0.05;
            sum += s[i][c];
          }
          int arg = 0;
          for (int c = 0; c < k; c++) {
            s[i][c] /= sum;
            arg = s[i][c] > s[i][arg] ? c : arg;
          }
          p[i] = arg;
        }
        classes.add(new ClassCase("k" + k + "n" + n, t, p, s));
      }
    }
    // A class never predicted, and a constant prediction (MCC's denominator 0).
    int[] t = {0, 1, 2, 2, 1, 0, 2, 1};
    double[][] s = new double[t.length][];
    for (int i = 0; i < t.length; i++) {
      s[i] = new double[] {0.5 - 0.05 * i, 0.3, 0.2 + 0.05 * i};
    }
    classes.add(new ClassCase("never1", t, new int[] {0, 0, 2, 2, 0, 0, 2, 0}, s));
    classes.add(new ClassCase("constant", t, new int[] {2, 2, 2, 2, 2, 2, 2, 2}, s));

    List<RegressionCase> regressions = new ArrayList<>();
    for (int n : new int[] {2, 15, 500}) {
      double[] y = new double[n];
      double[] f = new double[n];
      for (int i = 0; i < n; i++) {
        y[i] = Math.round(rng.nextGaussian() * 4) / 2.0 - 9; // ties, like dG in kcal/mol
        f[i] = y[i] * 0.3 + rng.nextGaussian() + (i % 3 == 0 ? f[Math.max(0, i - 1)] : 0);
      }
      regressions.add(new RegressionCase("n" + n, y, f));
    }

    StringBuilder py = new StringBuilder();
    py.append("import json, numpy as np\n")
        .append("from sklearn.metrics import matthews_corrcoef, f1_score, accuracy_score,")
        .append(" roc_auc_score, mean_squared_error, mean_absolute_error\n")
        .append("from scipy.stats import pearsonr, spearmanr\n")
        .append("out = {}\n");
    for (ClassCase c : classes) {
      py.append(
          String.format(
              Locale.ROOT,
              "t = np.array(%s); p = np.array(%s); s = np.array(%s)\n",
              list(c.truth()),
              list(c.predicted()),
              matrix(c.scores())));
      py.append(
          "out['"
              + c.name()
              + "'] = {'mcc': matthews_corrcoef(t, p),"
              + " 'f1_weighted': f1_score(t, p, average='weighted', zero_division=0),"
              + " 'accuracy': accuracy_score(t, p),"
              + " 'auroc': roc_auc_score(t, s[:, 1]) if s.shape[1] == 2 else"
              + " roc_auc_score(t, s, multi_class='ovr')}\n");
    }
    for (RegressionCase r : regressions) {
      py.append(
          String.format(
              Locale.ROOT,
              "y = np.array(%s); f = np.array(%s)\n",
              list(r.truth()),
              list(r.predicted())));
      py.append(
          "out['"
              + r.name()
              + "'] = {'pearson': float(pearsonr(y, f)[0]) if len(y) > 2 else"
              + " float(np.corrcoef(y, f)[0, 1]),"
              + " 'spearman': float(spearmanr(y, f)[0]),"
              + " 'mse': mean_squared_error(y, f), 'mae': mean_absolute_error(y, f)}\n");
    }
    py.append(
        "print(json.dumps({k: {m: float(v) for m, v in d.items()} for k, d in out.items()}))\n");
    Path script = Files.writeString(dir.resolve("metrics.py"), py);
    JsonNode expected =
        JSON.readTree(ReferencePython.run(ReferencePython.PYTHON, script.toString()));

    for (ClassCase c : classes) {
      Map<String, Double> ours =
          ClassificationMetrics.of(c.truth(), c.predicted(), c.scores()).asMap();
      compare(c.name(), expected.get(c.name()), ours);
    }
    for (RegressionCase r : regressions) {
      compare(
          r.name(), expected.get(r.name()), RegressionMetrics.of(r.truth(), r.predicted()).asMap());
    }
    assertEquals(
        0.0, expected.get("constant").get("mcc").asDouble(), "sklearn's MCC when undefined");
  }

  private static void compare(String name, JsonNode expected, Map<String, Double> ours) {
    assertEquals(expected.size(), ours.size(), name + ": the same metrics");
    ours.forEach(
        (metric, value) -> {
          double want = expected.get(metric).asDouble();
          assertTrue(Double.isFinite(value), name + " " + metric + " = " + value);
          assertEquals(want, value, 1e-9, name + " " + metric);
        });
  }

  private static String list(int[] v) {
    StringBuilder b = new StringBuilder("[");
    for (int x : v) {
      b.append(x).append(',');
    }
    return b.append(']').toString();
  }

  private static String list(double[] v) {
    StringBuilder b = new StringBuilder("[");
    for (double x : v) {
      b.append(Double.toString(x)).append(',');
    }
    return b.append(']').toString();
  }

  private static String matrix(double[][] m) {
    StringBuilder b = new StringBuilder("[");
    for (double[] row : m) {
      b.append(list(row)).append(',');
    }
    return b.append(']').toString();
  }
}
