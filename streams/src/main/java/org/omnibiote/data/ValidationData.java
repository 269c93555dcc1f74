package org.omnibiote.data;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.Split;

/**
 * The val shards of an ingest output folder, packed into rows as training packs them, with the
 * masks training's own val evaluation uses: row r of a dataset is masked by an RNG seeded by (seed,
 * dataset, r), so any row range, in any batching, at any time, gets the same masked positions. Only
 * the val shards are read (the train shards, possibly terabytes, are never scanned).
 *
 * <p>{@link TrainingData#valMaskedRows} is {@link #masked} of rows 0..m-1: an evaluation of the
 * first m rows here gives the loss that training's val line reports.
 */
public final class ValidationData {
  static final long VAL_MASK = 0x76616cL;

  private final Map<Dataset, PackedRows> val;
  private final long seed;
  private final int eosId;
  private final int ctxLen;
  private final int vocabSize;

  private ValidationData(
      Map<Dataset, PackedRows> val, long seed, int eosId, int ctxLen, int vocabSize) {
    this.val = val;
    this.seed = seed;
    this.eosId = eosId;
    this.ctxLen = ctxLen;
    this.vocabSize = vocabSize;
  }

  /**
   * Opens the val shards of {@code datasets} (every dataset with val shards when empty) of the
   * ingest output {@code baseDir}, packed as training packs rows of {@code ctxLen} tokens; masks
   * seeded by {@code seed} (training's --seed).
   */
  public static ValidationData open(
      Path baseDir,
      List<Dataset> datasets,
      int ctxLen,
      boolean usePadding,
      Integer bannedToken,
      long seed) {
    if (ctxLen < 2) {
      throw new UserError("--ctx_len must be at least 2, got " + ctxLen);
    }
    IngestFolder folder = IngestFolder.open(baseDir);
    List<Dataset> wanted = new ArrayList<>(datasets);
    if (wanted.isEmpty()) {
      for (Dataset d : Dataset.values()) {
        if (folder.has(d, Split.VAL)) {
          wanted.add(d);
        }
      }
      if (wanted.isEmpty()) {
        throw new UserError("--base_dir " + baseDir + " has no val shards: nothing to evaluate");
      }
    }
    List<Integer> banned = folder.bannedIds(bannedToken);
    int vocab = folder.tokenizer().vocabSize();
    boolean[] bannedTable = new boolean[vocab];
    banned.forEach(b -> bannedTable[b] = true);
    int eos = folder.tokenizer().eosId();
    Map<Dataset, List<ShardFile>> files = new EnumMap<>(Dataset.class);
    for (Dataset d : wanted) {
      TrainType needing = d == Dataset.GENBANK ? TrainType.NUCLEOTIDE : TrainType.PROTEIN;
      files.put(d, folder.open(folder.listed(d, Split.VAL, needing)));
    }
    Map<Dataset, PackedRows> packed = new EnumMap<>(Dataset.class);
    for (Dataset d : wanted) {
      String what = d.folder() + "/" + Split.VAL.folder() + " of " + folder.root();
      PackedRows rows =
          PackedRows.pack(
              new TokenStream(files.get(d)), ctxLen, usePadding, bannedTable, eos, what);
      if (rows.rows() == 0) {
        throw new UserError(what + " holds no tokens once the banned ids are deleted");
      }
      packed.put(d, rows);
    }
    return new ValidationData(packed, seed, eos, ctxLen, vocab);
  }

  /** The datasets evaluated, genbank first. */
  public List<String> sets() {
    return val.keySet().stream().map(Dataset::folder).toList();
  }

  public int vocabSize() {
    return vocabSize;
  }

  public int ctxLen() {
    return ctxLen;
  }

  /** Packed val rows of {@code dataset}. */
  public int rowCount(String dataset) {
    return val.get(set(dataset)).rows();
  }

  /**
   * Rows {@code firstRow .. firstRow+rows-1} of {@code dataset}'s val set (row r reads packed row r
   * mod the row count), masked as training's val evaluation masks them.
   */
  public TrainingData.MaskedRows masked(String dataset, long firstRow, int rows) {
    Dataset d = set(dataset);
    return masked(val.get(d), d, seed, eosId, ctxLen, firstRow, rows);
  }

  /** The one definition of a val row and its mask (training's val batch uses it too). */
  static TrainingData.MaskedRows masked(
      PackedRows packed, Dataset d, long seed, int eos, int ctx, long firstRow, int rows) {
    if (firstRow < 0 || rows < 1) {
      throw new IllegalArgumentException("bad val row range " + firstRow + " + " + rows);
    }
    long[] ids = new long[Math.multiplyExact(rows, ctx)];
    long[] inputs = new long[ids.length];
    long[] targets = new long[ids.length];
    for (int i = 0; i < rows; i++) {
      long r = firstRow + i;
      packed.read((int) (r % packed.rows()), ids, i * ctx);
      MlmMask.apply(
          Seeds.mix(seed, VAL_MASK, d.seedStream(), r), ids, i * ctx, ctx, eos, inputs, targets);
    }
    return new TrainingData.MaskedRows(rows, ctx, ids, inputs, targets);
  }

  private Dataset set(String name) {
    for (Dataset d : val.keySet()) {
      if (d.folder().equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException("no val set " + name + "; have " + sets());
  }
}
