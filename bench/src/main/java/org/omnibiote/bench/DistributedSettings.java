package org.omnibiote.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * What {@code bench distributed} measures, handed to each rank's JVM as JSON.
 *
 * @param model the model every worker trains (vocab from the shards when {@code baseDir} is set)
 * @param miniBatch rows per micro-batch
 * @param microBatches micro-batches per worker per optimiser step (accumulation k)
 * @param steps timed rounds; each round times one step of every mode
 * @param warmup untimed rounds before them
 * @param seed weights and data
 * @param baseDir ingest output to read rows from, or null for random token rows
 * @param trainType the original's --train_type when {@code baseDir} is set
 * @param bucketBytes the Reducer's bucket cap (also the tensors of modes b and d)
 * @param timeoutSeconds collective (Gloo) and rendezvous timeout
 */
public record DistributedSettings(
    OmniBioTAConfig model,
    int miniBatch,
    int microBatches,
    int steps,
    int warmup,
    long seed,
    String baseDir,
    String trainType,
    long bucketBytes,
    int timeoutSeconds) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Tokens one worker trains per optimiser step. */
  public long tokensPerWorkerStep() {
    return (long) microBatches * miniBatch * model.ctxLen();
  }

  public int rounds() {
    return warmup + steps;
  }

  String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static DistributedSettings fromJson(String json) throws JsonProcessingException {
    return JSON.readValue(json, DistributedSettings.class);
  }
}
