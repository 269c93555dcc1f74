package org.omnibiote.ingest;

import com.typesafe.config.Config;
import java.time.Duration;
import org.omnibiote.UserError;

/**
 * The knobs of an ingest run, from {@code omnibiote.ingest} in reference.conf (overridable by -D
 * system properties and by command-line flags).
 *
 * @param shardTargetBytes data bytes after which a shard is closed (a document never splits)
 * @param valFraction share of records (by identity) that go to the val split
 * @param splitSeed mixed into the split hash, so another seed draws another val set
 * @param fileParallelism input files parsed at once
 * @param tokenizeParallelism tokenizer threads
 * @param batchChars sequence characters per tokenizer task
 * @param progressInterval how often the progress line is printed
 * @param testDelayPerRecord test-only: a pause after each parsed record, so a test can kill a run
 *     in the middle; zero in production
 */
public record IngestSettings(
    long shardTargetBytes,
    double valFraction,
    String splitSeed,
    int fileParallelism,
    int tokenizeParallelism,
    long batchChars,
    Duration progressInterval,
    Duration testDelayPerRecord) {

  public IngestSettings {
    if (!(valFraction >= 0 && valFraction < 1)) {
      throw new UserError("--val-fraction must be in [0, 1), got " + valFraction);
    }
    if (shardTargetBytes < 1) {
      throw new UserError("the shard size must be positive, got " + shardTargetBytes);
    }
  }

  public static IngestSettings from(Config root) {
    Config c = root.getConfig("omnibiote.ingest");
    int cores = Runtime.getRuntime().availableProcessors();
    return new IngestSettings(
        c.getBytes("shard-target-bytes"),
        c.getDouble("val-fraction"),
        c.getString("split-seed"),
        orCores(c.getInt("file-parallelism"), cores),
        orCores(c.getInt("tokenize-parallelism"), cores),
        c.getBytes("batch-chars"),
        c.getDuration("progress-interval"),
        c.getDuration("test-delay-per-record"));
  }

  public IngestSettings withValFraction(double fraction) {
    return new IngestSettings(
        shardTargetBytes,
        fraction,
        splitSeed,
        fileParallelism,
        tokenizeParallelism,
        batchChars,
        progressInterval,
        testDelayPerRecord);
  }

  public IngestSettings withShardTargetBytes(long bytes) {
    return new IngestSettings(
        bytes,
        valFraction,
        splitSeed,
        fileParallelism,
        tokenizeParallelism,
        batchChars,
        progressInterval,
        testDelayPerRecord);
  }

  private static int orCores(int n, int cores) {
    return n > 0 ? n : cores;
  }
}
