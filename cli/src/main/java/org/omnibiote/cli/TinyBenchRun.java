package org.omnibiote.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.omnibiote.metrics.MetricsLog;
import org.omnibiote.settings.TrainSettings;

/**
 * The tiny embedded run that {@code bench console} and {@code bench follow} train with and without
 * what they measure (2 layers, ctx 128, batch 16 in micro-batches of 8, no evaluation or
 * checkpoint), and what they read back from it: the median step time once warm, and the final loss
 * (equal in both runs of a pair, or the runs did different work).
 */
final class TinyBenchRun {
  private static final ObjectMapper JSON = new ObjectMapper();

  record Result(double medianStepSeconds, double finalLoss) {}

  private TinyBenchRun() {}

  /**
   * The run's config: {@code steps} steps of the model of width {@code nEmbd} on {@code baseDir}.
   */
  static Config config(
      Path baseDir, Path runDir, int nEmbd, int steps, Map<String, Object> console) {
    Map<String, Object> t = new HashMap<>();
    t.put("base_dir", baseDir.toAbsolutePath().toString());
    t.put("save_name", runDir.resolve("omnibiota").toAbsolutePath().toString());
    t.put("n_layer", 2);
    t.put("n_embd", nEmbd);
    t.put("n_head", 4);
    t.put("ctx_len", 128);
    t.put("batch_size", 16);
    t.put("mini_batch_size", 8);
    t.put("token_budget", (double) steps * 16 * 128);
    t.put("test_freq", 1e15);
    t.put("save_freq", 1e15);
    // A progress line (rate, ETA) every 30 s: the bench's own lines are what it is run for.
    t.put("progress_interval", 30);
    return ConfigFactory.parseMap(t)
        .atPath(TrainSettings.PATH)
        .withFallback(ConfigFactory.parseMap(console).atPath("omnibiote.console"))
        .withFallback(ConfigFactory.load());
  }

  /**
   * One committed step: when it ended (epoch seconds, as the metrics log has it), its time, loss.
   */
  record Step(double endSeconds, double seconds, double loss) {}

  /** The median step time (the first steps, which warm the JIT up, left out) and final loss. */
  static Result read(Path runDir) throws IOException {
    List<Step> steps = steps(runDir);
    List<Double> steady = new ArrayList<>();
    for (Step s : steps.subList(Math.min(20, steps.size() / 4), steps.size())) {
      steady.add(s.seconds());
    }
    double loss = steps.isEmpty() ? Double.NaN : steps.get(steps.size() - 1).loss();
    return new Result(median(steady), loss);
  }

  /** The run's steps in order, from its metrics log. */
  static List<Step> steps(Path runDir) throws IOException {
    List<Step> steps = new ArrayList<>();
    for (String line : Files.readAllLines(runDir.resolve(MetricsLog.FILE))) {
      JsonNode m = JSON.readTree(line);
      if (m.has("step_s")) {
        steps.add(
            new Step(
                m.get("time").asDouble(), m.get("step_s").asDouble(), m.get("loss").asDouble()));
      }
    }
    return steps;
  }

  static double median(List<Double> xs) {
    double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a.length == 0 ? Double.NaN : a[a.length / 2];
  }
}
