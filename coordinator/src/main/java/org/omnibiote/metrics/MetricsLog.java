package org.omnibiote.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.omnibiote.io.AtomicFiles;

/**
 * {@code metrics.jsonl} of a run folder: one JSON object per line, flushed as written, so `tail -f`
 * and pandas.read_json(lines=True) both work. A resumed run first drops the lines of steps after
 * its checkpoint, so the file tells one history.
 */
public final class MetricsLog implements AutoCloseable {
  public static final String FILE = "metrics.jsonl";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final BufferedWriter out;

  private MetricsLog(BufferedWriter out) {
    this.out = out;
  }

  /**
   * Opens the run folder's log for appending, first keeping only the lines whose "step" is at most
   * {@code keepThroughStep} (a new run passes 0 and finds no file).
   */
  public static MetricsLog open(Path runDir, long keepThroughStep) throws IOException {
    Path file = runDir.resolve(FILE);
    if (Files.exists(file)) {
      List<String> kept = new ArrayList<>();
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode step;
        try {
          step = JSON.readTree(line).get("step");
        } catch (IOException e) {
          continue; // a line torn by a crash mid-write
        }
        if (step != null && step.asLong() <= keepThroughStep) {
          kept.add(line);
        }
      }
      AtomicFiles.write(
          file,
          (String.join("\n", kept) + (kept.isEmpty() ? "" : "\n"))
              .getBytes(StandardCharsets.UTF_8));
    }
    return new MetricsLog(
        Files.newBufferedWriter(
            file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND));
  }

  public void write(Map<String, ?> record) {
    try {
      out.write(JSON.writeValueAsString(record));
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}
