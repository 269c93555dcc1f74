package org.omnibiote.finetune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.weights.ModelWeights;
import org.omnibiote.weights.SafeTensors;

/**
 * What finetune writes, each file atomically: the fine-tuned weights (the encoder under the
 * original names, so encode and another finetune read it, plus {@code head.weight} and {@code
 * head.bias}; the model config and the head's settings in the metadata), the predictions as CSV and
 * the metrics with the settings as JSON.
 */
public final class FinetuneFiles {
  public static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private FinetuneFiles() {}

  /** The weights of {@code tuner} with {@code head} (its settings, JSON) in the metadata. */
  public static void saveWeights(FineTuner tuner, ObjectNode head, Path path) throws IOException {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put(ModelWeights.CONFIG_KEY, tuner.model().config().toJson());
    metadata.put(ModelWeights.FINETUNE_KEY, JSON.writeValueAsString(head));
    SafeTensors.write(path, tuner.stateDict(), metadata);
  }

  /** One predictions row: its columns before the label, the example and its prediction. */
  public record Row(List<String> leading, Example example, double[] values) {}

  /**
   * A CSV of {@code leading} columns, then id, label, prediction and (classification) the
   * probability of each class.
   */
  public static void writePredictions(
      Path path, List<String> leading, TaskKind kind, int classes, List<Row> rows)
      throws IOException {
    StringBuilder csv = new StringBuilder();
    for (String c : leading) {
      csv.append(c).append(',');
    }
    csv.append("id,label,prediction");
    if (kind == TaskKind.CLASSIFICATION) {
      for (int c = 0; c < classes; c++) {
        csv.append(",p").append(c);
      }
    }
    csv.append('\n');
    for (Row r : rows) {
      for (String c : r.leading()) {
        csv.append(c).append(',');
      }
      csv.append(r.example().id()).append(',');
      FineTuner.Predictions p = new FineTuner.Predictions(kind, new double[][] {r.values()});
      if (kind == TaskKind.CLASSIFICATION) {
        csv.append((long) r.example().label()).append(',').append((long) p.predicted(0));
        for (double v : r.values()) {
          csv.append(',').append(number(v));
        }
      } else {
        csv.append(number(r.example().label())).append(',').append(number(r.values()[0]));
      }
      csv.append('\n');
    }
    AtomicFiles.write(path, csv.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** One sequence of a per-residue task: its split, the example and its per-token outputs. */
  public record ResidueRows(String split, Example example, double[][] tokenValues) {}

  /**
   * A CSV with a row per residue under a kept token: split, id, position (1-based), residue, token
   * (its position in the input, the tag being 0), the residue's label and its token's label (empty
   * when none), the prediction (the token's) and (classification) the probability of each class.
   */
  public static void writeResiduePredictions(
      Path path, TaskKind kind, int classes, List<ResidueRows> sequences) throws IOException {
    StringBuilder csv = new StringBuilder("split,id,position,residue,token,label,token_label,");
    csv.append("prediction");
    if (kind == TaskKind.CLASSIFICATION) {
      for (int c = 0; c < classes; c++) {
        csv.append(",p").append(c);
      }
    }
    csv.append('\n');
    for (ResidueRows r : sequences) {
      Example.Residues res = r.example().residues();
      for (int k = 0; k < res.labels().length; k++) {
        int t = res.tokenOf()[k];
        if (t < 0) {
          continue;
        }
        double[] v = r.tokenValues()[t];
        csv.append(r.split()).append(',').append(r.example().id()).append(',');
        csv.append(k + 1).append(',').append(res.sequence().charAt(k)).append(',');
        csv.append(t).append(',');
        csv.append(label(kind, res.labels()[k])).append(',');
        csv.append(label(kind, res.tokenLabels()[t])).append(',');
        if (kind == TaskKind.CLASSIFICATION) {
          csv.append(FineTuner.argmax(v));
          for (double p : v) {
            csv.append(',').append(number(p));
          }
        } else {
          csv.append(number(v[0]));
        }
        csv.append('\n');
      }
    }
    AtomicFiles.write(path, csv.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static String label(TaskKind kind, double v) {
    if (Double.isNaN(v)) {
      return "";
    }
    return kind == TaskKind.CLASSIFICATION ? Long.toString((long) v) : number(v);
  }

  public static void writeJson(Path path, ObjectNode json) throws IOException {
    AtomicFiles.write(path, JSON.writeValueAsBytes(json));
  }

  /** Metrics as a JSON object (NaN written as null: JSON has no NaN). */
  public static void putMetrics(ObjectNode into, Map<String, Double> metrics) {
    metrics.forEach(
        (k, v) -> {
          if (Double.isNaN(v)) {
            into.putNull(k);
          } else {
            into.put(k, v);
          }
        });
  }

  private static String number(double v) {
    return String.format(Locale.ROOT, "%.9g", v);
  }
}
