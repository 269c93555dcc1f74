package org.omnibiote.checkpoint;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import org.omnibiote.schedule.Schedule;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * Where a run stands, saved with every checkpoint (the {@code .state.json} part) so that a resumed
 * run continues exactly.
 *
 * @param step optimiser steps taken
 * @param tokens training tokens consumed (what save_freq and the checkpoint names count)
 * @param samples global samples (rows) consumed: the data position. Sample i of a run is a function
 *     of (seed, i), so this counter stays valid whatever the number of workers.
 * @param seed the run's seed
 * @param rngState torch's default CPU generator when the state was taken (the worker's CpuRng)
 * @param config the model's shape
 * @param lr the lr flag (before the sqrt(batch_size)/32 scaling; see {@link Schedule})
 * @param batchSize the global batch
 * @param totalIters optimiser steps of the whole run
 * @param run settings that must match on resume (the trainer's: data fingerprint, batch_size,
 *     ctx_len, ...); compared by the trainer, stored as given
 * @param dataGenerations the data generations the run had adopted, {@code "1@0,2@4096"} (see {@code
 *     org.omnibiote.data.Adoption}); null or "" when none
 */
public record TrainingState(
    @JsonProperty("step") long step,
    @JsonProperty("tokens") long tokens,
    @JsonProperty("samples") long samples,
    @JsonProperty("seed") long seed,
    @JsonProperty("rng_state") String rngState,
    @JsonProperty("config") OmniBioTAConfig config,
    @JsonProperty("lr") double lr,
    @JsonProperty("batch_size") int batchSize,
    @JsonProperty("total_iters") long totalIters,
    @JsonProperty("run") Map<String, String> run,
    @JsonProperty("data_generations") @JsonInclude(JsonInclude.Include.NON_EMPTY)
        String dataGenerations) {

  /** A state without adopted data generations. */
  public TrainingState(
      long step,
      long tokens,
      long samples,
      long seed,
      String rngState,
      OmniBioTAConfig config,
      double lr,
      int batchSize,
      long totalIters,
      Map<String, String> run) {
    this(step, tokens, samples, seed, rngState, config, lr, batchSize, totalIters, run, null);
  }

  public TrainingState {
    dataGenerations = dataGenerations == null ? "" : dataGenerations;
    // Sorted, so the same state always gives the same bytes.
    run = Collections.unmodifiableSortedMap(new TreeMap<>(run));
  }

  @JsonIgnore
  public Schedule schedule() {
    return new Schedule(lr, batchSize, totalIters);
  }
}
