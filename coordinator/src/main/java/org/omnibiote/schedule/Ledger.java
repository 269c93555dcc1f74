package org.omnibiote.schedule;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
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
import org.omnibiote.UserError;

/**
 * {@code ledger.jsonl} of a run folder: one line per global step attempt, written by whoever
 * schedules the steps, saying which world generation ran it, which samples each worker trained, and
 * whether the step was committed (its optimiser update is part of the run) or aborted (a worker
 * died mid-step; the samples are trained again). Exactly-once over committed steps is then
 * something a test can check, with {@link #checkExactlyOnce}.
 */
public final class Ledger implements AutoCloseable {
  public static final String FILE = "ledger.jsonl";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One worker's part of a step: global samples [firstSample, firstSample + rows). */
  public record Part(
      @JsonProperty("rank") int rank,
      @JsonProperty("worker") String worker,
      @JsonProperty("first_sample") long firstSample,
      @JsonProperty("rows") int rows) {}

  /**
   * What an operator did, at a step boundary (from the console or {@code admin}): {@code name} is
   * pause, resume, checkpoint, stop, evict or set (of {@code key} to {@code value}); {@code by} the
   * id of the token that asked (never the token).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Action(
      @JsonProperty("name") String name,
      @JsonProperty("by") String by,
      @JsonProperty("key") String key,
      @JsonProperty("value") String value,
      @JsonProperty("detail") String detail) {}

  /**
   * A data generation the run adopted before step {@code step}: samples from {@code firstSample} on
   * are drawn from the corpus it grew (see {@code TrainingData#adopt}); what it added and
   * superseded over the run's datasets, and the source file it was made from.
   */
  public record Adopted(
      @JsonProperty("data_generation") long dataGeneration,
      @JsonProperty("first_sample") long firstSample,
      @JsonProperty("source") String source,
      @JsonProperty("documents_added") long documentsAdded,
      @JsonProperty("tokens_added") long tokensAdded,
      @JsonProperty("documents_superseded") long documentsSuperseded,
      @JsonProperty("tokens_superseded") long tokensSuperseded) {}

  /**
   * One step attempt, or (status {@code action}) an operator's action before step {@code step}, or
   * (status {@code adopted}) a data generation adopted before it.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Entry(
      @JsonProperty("step") long step,
      @JsonProperty("generation") long generation,
      @JsonProperty("status") String status,
      @JsonProperty("parts") List<Part> parts,
      @JsonProperty("action") Action action,
      @JsonProperty("adopted") Adopted adopted) {
    public static final String COMMITTED = "committed";
    public static final String ABORTED = "aborted";
    public static final String ACTION = "action";
    public static final String ADOPTED = "adopted";

    public Entry(long step, long generation, String status, List<Part> parts) {
      this(step, generation, status, parts, null, null);
    }

    public Entry(long step, long generation, String status, List<Part> parts, Action action) {
      this(step, generation, status, parts, action, null);
    }

    /**
     * The run went back to the state after {@code step} steps (a checkpoint): committed steps from
     * {@code step} on before this line are void, their samples are trained again.
     */
    public static final String RESTORED = "restored";
  }

  private final BufferedWriter out;

  private Ledger(BufferedWriter out) {
    this.out = out;
  }

  /** Opens the run folder's ledger for appending (a resumed run continues the same file). */
  public static Ledger open(Path runDir) throws IOException {
    Files.createDirectories(runDir);
    dropTornLine(runDir.resolve(FILE));
    return new Ledger(
        Files.newBufferedWriter(
            runDir.resolve(FILE),
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.APPEND));
  }

  /**
   * A writer killed mid-line leaves a line without its newline: cut it, or the next entry would be
   * glued to it.
   */
  private static void dropTornLine(Path ledger) throws IOException {
    if (!Files.exists(ledger)) {
      return;
    }
    try (java.nio.channels.FileChannel ch =
        java.nio.channels.FileChannel.open(
            ledger, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long size = ch.size();
      long keep = size;
      java.nio.ByteBuffer one = java.nio.ByteBuffer.allocate(1);
      while (keep > 0) {
        one.clear();
        ch.read(one, keep - 1);
        if (one.get(0) == '\n') {
          break;
        }
        keep--;
      }
      if (keep < size) {
        ch.truncate(keep);
        ch.force(true);
      }
    }
  }

  /** Appends and flushes one entry (a crash loses at most the line being written). */
  public void append(Entry e) {
    try {
      out.write(JSON.writeValueAsString(e));
      out.newLine();
      out.flush();
    } catch (IOException x) {
      throw new UncheckedIOException(x);
    }
  }

  /**
   * The data generations the ledger's run adopted, in order: the list that, with the seed, decides
   * every sample (a restarted coordinator continues with it).
   */
  public static List<org.omnibiote.data.Adoption> adoptions(List<Entry> entries) {
    List<org.omnibiote.data.Adoption> out = new ArrayList<>();
    for (Entry e : entries) {
      if (Entry.ADOPTED.equals(e.status()) && e.adopted() != null) {
        long g = e.adopted().dataGeneration();
        if (out.isEmpty() || g > out.get(out.size() - 1).generation()) {
          out.add(new org.omnibiote.data.Adoption(g, e.adopted().firstSample()));
        }
      }
    }
    return out;
  }

  /** Every complete line of a ledger, in order (a torn last line is ignored). */
  public static List<Entry> read(Path ledger) throws IOException {
    List<Entry> entries = new ArrayList<>();
    List<String> lines = Files.readAllLines(ledger, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      try {
        entries.add(JSON.readValue(line, Entry.class));
      } catch (JsonProcessingException x) {
        if (i < lines.size() - 1) {
          throw new UserError(
              ledger + ":" + (i + 1) + ": not a ledger entry: " + x.getOriginalMessage());
        }
      }
    }
    return entries;
  }

  /**
   * Checks that the committed steps trained every sample of [0, samples) exactly once, and that
   * committed steps come in step order without gaps; a UserError says the first breach (sample,
   * steps) otherwise.
   */
  public static void checkExactlyOnce(List<Entry> entries, long samples) {
    if (samples > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("too many samples to check: " + samples);
    }
    // The committed steps that stand: a "restored" line voids those from its step on.
    java.util.TreeMap<Long, Entry> standing = new java.util.TreeMap<>();
    for (Entry e : entries) {
      if (Entry.RESTORED.equals(e.status())) {
        standing.tailMap(e.step(), true).clear();
      } else if (Entry.COMMITTED.equals(e.status())) {
        if (standing.containsKey(e.step())) {
          throw new UserError(
              "ledger: step " + e.step() + " committed twice without a restore between");
        }
        if (!standing.isEmpty() && e.step() != standing.lastKey() + 1) {
          throw new UserError(
              "ledger: committed step " + e.step() + " follows step " + standing.lastKey());
        }
        standing.put(e.step(), e);
      }
    }
    long[] trainedBy = new long[(int) samples];
    java.util.Arrays.fill(trainedBy, -1);
    for (Entry e : standing.values()) {
      for (Part p : e.parts()) {
        for (long s = p.firstSample(); s < p.firstSample() + p.rows(); s++) {
          if (s >= samples) {
            continue;
          }
          if (trainedBy[(int) s] >= 0) {
            throw new UserError(
                "ledger: sample "
                    + s
                    + " trained twice, in committed steps "
                    + trainedBy[(int) s]
                    + " and "
                    + e.step());
          }
          trainedBy[(int) s] = e.step();
        }
      }
    }
    for (int s = 0; s < trainedBy.length; s++) {
      if (trainedBy[s] < 0) {
        throw new UserError("ledger: sample " + s + " was never trained in a committed step");
      }
    }
  }

  /** The steps done according to the ledger: one past the last standing committed step. */
  public static long stepsDone(List<Entry> entries) {
    long done = 0;
    for (Entry e : entries) {
      if (Entry.RESTORED.equals(e.status())) {
        done = Math.min(done, e.step());
      } else if (Entry.COMMITTED.equals(e.status())) {
        done = e.step() + 1;
      }
    }
    return done;
  }

  /**
   * The settings an operator changed during the run (set actions, in order), which a resumed run
   * applies again: each takes effect from the step it was made before, whatever was rewound.
   */
  public static List<RunPlan.Change> changes(List<Entry> entries) {
    List<RunPlan.Change> out = new ArrayList<>();
    for (Entry e : entries) {
      if (ACTION_SET.equals(e.action() == null ? null : e.action().name())) {
        out.add(
            new RunPlan.Change(e.step(), e.action().key(), Double.parseDouble(e.action().value())));
      }
    }
    return out;
  }

  private static final String ACTION_SET = "set";

  @Override
  public void close() throws IOException {
    out.close();
  }
}
