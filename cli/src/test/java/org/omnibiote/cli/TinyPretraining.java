package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.omnibiote.cli.CliRun.run;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.cluster.DistributedTrainingTest;
import org.omnibiote.data.IngestOutputs;

/**
 * The tiny OmniBioTA that the eval and finetune tests pre-train before they start: a 512-piece
 * vocabulary learnt from the ingest fixture's records, L2 N32, 64-token rows, batch 8 in
 * micro-batches of 4, lr 0.05, {@link #STEPS} steps, trained by {@code train} into {@code DIR/run}.
 */
final class TinyPretraining {
  static final int CTX = 64;
  static final int BATCH = 8;
  static final int STEPS = 40;

  /** Where it is: the shards, their tokenizer and the run folder (weights {@code omnibiota}). */
  record Pretrained(Path shards, Path tokenizer, Path run) {}

  private TinyPretraining() {}

  /**
   * Ingests into {@code dir/shards} and trains into {@code dir/run} with the cluster tests' flags
   * ({@link DistributedTrainingTest#flags}) made 2 layers deep, a checkpoint every {@code
   * saveEverySteps}; {@code more} are flag/value pairs that replace or add to them.
   */
  static Pretrained pretrain(Path dir, int saveEverySteps, String... more) throws Exception {
    Path shards = dir.resolve("shards");
    IngestOutputs.smallVocabularyIngest(shards, 512);
    Path run = dir.resolve("run");
    List<String> args = new ArrayList<>(List.of("train"));
    List<String> overrides = new ArrayList<>(List.of("--n_layer", "2", "--mini_batch_size", "4"));
    overrides.addAll(List.of(more));
    args.addAll(
        DistributedTrainingTest.flags(
            shards, run, STEPS, saveEverySteps, overrides.toArray(String[]::new)));
    CliRun r = run(args.toArray(String[]::new));
    assertEquals(0, r.exitCode(), r.err() + r.out());
    return new Pretrained(shards, shards.resolve("small-vocabulary.model"), run);
  }
}
