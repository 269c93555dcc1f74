package org.omnibiote.data;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.bytedeco.pytorch.Tensor;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.Split;
import org.omnibiote.train.MaskedLm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training data of a run, read from an ingest output folder: global sample i (a row of
 * ctxLen token ids and its MLM mask) is a pure function of (seed, i), the way BioNeMo and
 * Megatron make data resumable. The only data position a run keeps is its sample counter,
 * valid for any number of workers and any batch split.
 *
 * <p>Sample i: {@link SampleMix} picks its dataset and the dataset's sample k from i alone
 * (exact train_type fraction over any window, up to one row; the original instead splits
 * each batch int(0.8 B) genbank / rest uniref100); {@link RowOrder} maps k to a row of the
 * dataset, every row once per epoch in an order keyed by (seed, dataset, epoch); the row is
 * packed as the original packs ({@link RowPacker}); {@link MlmMask} masks it with an RNG
 * seeded by (seed, i). The row index is built by one pass over the memory-mapped shards at
 * open; nothing else is held on the heap.
 *
 * <p>Thread-safe: every read is of immutable state.
 */
public final class TrainingData implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TrainingData.class);
  private static final long TRAIN_MASK = 0x7472616eL;
  private static final long VAL_MASK = 0x76616cL;

  /** Ids and masked inputs/targets of {@code rows} rows, row-major [rows, ctxLen]. */
  public record MaskedRows(int rows, int ctxLen, long[] ids, long[] inputs, long[] targets) {}

  private final Path baseDir;
  private final DataSettings settings;
  private final Manifest.TokenizerInfo tokenizer;
  private final List<Integer> banned;
  private final Map<Dataset, PackedRows> train;
  private final Map<Dataset, PackedRows> val;
  private final Map<Dataset, RowOrder> orders = new EnumMap<>(Dataset.class);
  private final SampleMix mix;
  private final String fingerprint;
  private volatile boolean closed;

  private TrainingData(
      Path baseDir,
      DataSettings settings,
      Manifest.TokenizerInfo tokenizer,
      List<Integer> banned,
      Map<Dataset, PackedRows> train,
      Map<Dataset, PackedRows> val,
      String fingerprint) {
    this.baseDir = baseDir;
    this.settings = settings;
    this.tokenizer = tokenizer;
    this.banned = banned;
    this.train = train;
    this.val = val;
    this.fingerprint = fingerprint;
    this.mix = new SampleMix(settings.trainType());
    for (Map.Entry<Dataset, PackedRows> e : train.entrySet()) {
      orders.put(e.getKey(),
          new RowOrder(settings.seed(), e.getKey().ordinal() + 1L, e.getValue().rows()));
    }
  }

  /**
   * Opens the ingest output {@code baseDir} for {@code settings}: checks the folder, the
   * manifest, the banned ids and every shard the train_type needs (a {@link UserError} naming
   * the problem, before any scan), then builds the row indexes.
   */
  public static TrainingData open(Path baseDir, DataSettings settings) {
    long t0 = System.nanoTime();
    if (settings == null) {
      throw new IllegalArgumentException("no data settings");
    }
    if (baseDir == null) {
      throw new UserError("--base_dir is required: an ingest output folder");
    }
    if (!Files.exists(baseDir)) {
      throw new UserError("--base_dir " + baseDir + " does not exist");
    }
    if (!Files.isDirectory(baseDir)) {
      throw new UserError("--base_dir " + baseDir + " is not a folder");
    }
    ShardLayout layout = new ShardLayout(baseDir);
    if (!Files.isRegularFile(layout.manifest())) {
      throw new UserError("--base_dir " + baseDir + " has no " + ShardLayout.MANIFEST
          + ": not an ingest output: run bin/omnibiote ingest --tokenizer M.model"
          + " --genbank FILES --uniref FILES --output " + baseDir);
    }
    Manifest manifest = new ManifestStore(layout).read().orElseThrow();
    Manifest.TokenizerInfo info = manifest.tokenizer();
    if (info == null || manifest.shards() == null || info.vocabSize() < 1) {
      throw new UserError(layout.manifest() + " lacks its tokenizer or shard list:"
          + " not a complete ingest manifest");
    }
    NpyDtype dtype = dtype(info.dtype(), layout.manifest());
    List<Integer> banned = bannedIds(settings, info, layout.manifest());

    Map<Dataset, List<ShardFile>> trainFiles = new EnumMap<>(Dataset.class);
    Map<Dataset, List<ShardFile>> valFiles = new EnumMap<>(Dataset.class);
    MessageDigest content = sha256();
    content.update(("omnibiote-training-data 1\ntrain_type " + settings.trainType().flag()
        + "\nctx_len " + settings.ctxLen() + "\nuse_padding " + settings.usePadding()
        + "\nbanned " + banned + "\neos " + info.eosId() + "\nvocab " + info.vocabSize()
        + "\ntokenizer " + info.sha256() + "\nseed " + settings.seed() + "\n")
        .getBytes(StandardCharsets.UTF_8));
    for (Dataset d : settings.trainType().datasets()) {
      for (Split split : Split.values()) {
        List<Manifest.Shard> listed = shardsOf(manifest, d, split);
        if (listed.isEmpty()) {
          throw new UserError("--base_dir " + baseDir + " has no " + d.folder() + " "
              + split.folder() + " shards, which --train_type " + settings.trainType().flag()
              + " needs: ingest " + (d == Dataset.GENBANK ? "GenBank files (--genbank)"
                  : "UniRef100 FASTA (--uniref)") + " into it, or choose another --train_type");
        }
        List<ShardFile> files = new ArrayList<>();
        for (Manifest.Shard s : listed) {
          files.add(ShardFile.open(shardPath(layout, s), dtype, s.tokens()));
          content.update((d.folder() + " " + split.folder() + " " + s.path() + " " + s.tokens()
              + " " + s.sha256() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        (split == Split.TRAIN ? trainFiles : valFiles).put(d, files);
      }
    }

    boolean[] bannedTable = new boolean[info.vocabSize()];
    banned.forEach(b -> bannedTable[b] = true);
    Map<Dataset, PackedRows> train = new EnumMap<>(Dataset.class);
    Map<Dataset, PackedRows> val = new EnumMap<>(Dataset.class);
    for (Dataset d : trainFiles.keySet()) {
      train.put(d, packed(trainFiles.get(d), settings, bannedTable, info.eosId(), d, Split.TRAIN));
      val.put(d, packed(valFiles.get(d), settings, bannedTable, info.eosId(), d, Split.VAL));
    }
    TrainingData data = new TrainingData(layout.root(), settings, info, banned, train, val,
        HexFormat.of().formatHex(content.digest()));
    log.info("{} (opened in {} ms)", data.describe(), (System.nanoTime() - t0) / 1_000_000);
    return data;
  }

  public int vocabSize() {
    return tokenizer.vocabSize();
  }

  public Manifest.TokenizerInfo tokenizer() {
    return tokenizer;
  }

  public DataSettings settings() {
    return settings;
  }

  /**
   * A stable id of everything that decides the samples: the train and val shards (path,
   * tokens, sha256 from the manifest), the tokenizer, ctx_len, use_padding, train_type, the
   * banned ids and the seed. A resume refuses data whose fingerprint differs.
   */
  public String fingerprint() {
    return fingerprint;
  }

  /** The ctxLen token ids of global sample {@code sample} (PAD where the row is padded). */
  public long[] row(long sample) {
    long[] ids = new long[settings.ctxLen()];
    readRow(sample, ids, 0);
    return ids;
  }

  /**
   * Samples {@code firstSample .. firstSample+rows-1} as [rows, ctxLen] int64 tensors: the
   * inputs with MASK where masked, the targets the original id where masked and
   * {@link MaskedLm#IGNORE} elsewhere. Each row and its mask depend only on its sample index,
   * so any split of a range into batches gives the same rows. The tensors belong to the
   * caller's PointerScope (make the batch inside the step's scope).
   */
  public MaskedLm.Batch batch(long firstSample, int rows) {
    return tensors(maskedRows(firstSample, rows));
  }

  /** What {@link #batch} holds, as Java arrays (no libtorch). */
  public MaskedRows maskedRows(long firstSample, int rows) {
    if (firstSample < 0 || rows < 1) {
      throw new IllegalArgumentException("bad sample range " + firstSample + " + " + rows);
    }
    int ctx = settings.ctxLen();
    long[] ids = new long[Math.multiplyExact(rows, ctx)];
    long[] inputs = new long[ids.length];
    long[] targets = new long[ids.length];
    for (int r = 0; r < rows; r++) {
      long sample = firstSample + r;
      readRow(sample, ids, r * ctx);
      MlmMask.apply(Seeds.mix(settings.seed(), TRAIN_MASK, sample), ids, r * ctx, ctx,
          tokenizer.eosId(), inputs, targets);
    }
    return new MaskedRows(rows, ctx, ids, inputs, targets);
  }

  /** The datasets trained on, genbank first, e.g. ["genbank", "uniref100"]. */
  public List<String> valSets() {
    return val.keySet().stream().map(Dataset::folder).toList();
  }

  /**
   * The first {@code rows} rows of {@code dataset}'s val set in shard order (repeated from
   * the start if it has fewer), each masked by an RNG seeded by (seed, dataset, row): the
   * same batch at every call, so val losses are comparable over the run.
   */
  public MaskedLm.Batch valBatch(String dataset, int rows) {
    return tensors(valRows(dataset, rows));
  }

  /** What {@link #valBatch} holds, as Java arrays. */
  public MaskedRows valRows(String dataset, int rows) {
    checkOpen();
    Dataset d = valSet(dataset);
    PackedRows packed = val.get(d);
    int ctx = settings.ctxLen();
    long[] ids = new long[Math.multiplyExact(rows, ctx)];
    long[] inputs = new long[ids.length];
    long[] targets = new long[ids.length];
    for (int r = 0; r < rows; r++) {
      packed.read(r % packed.rows(), ids, r * ctx);
      MlmMask.apply(Seeds.mix(settings.seed(), VAL_MASK, d.ordinal(), r), ids, r * ctx, ctx,
          tokenizer.eosId(), inputs, targets);
    }
    return new MaskedRows(rows, ctx, ids, inputs, targets);
  }

  /** Packed train rows of {@code dataset} (one epoch of it). */
  public int trainRows(String dataset) {
    return train.get(valSet(dataset)).rows();
  }

  /** Packed val rows of {@code dataset}. */
  public int valRows(String dataset) {
    return val.get(valSet(dataset)).rows();
  }

  /** Tokens in the train and val shards read at open (the size of the scan). */
  public long scannedTokens() {
    long sum = 0;
    for (PackedRows p : train.values()) {
      sum += p.streamTokens();
    }
    for (PackedRows p : val.values()) {
      sum += p.streamTokens();
    }
    return sum;
  }

  /** One line: train_type, ctx_len, packing, banned ids; rows, tokens and documents per dataset. */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "training data %s: %s, ctx_len %d, %s, banned ids %s",
        baseDir, settings.trainType().describe(), settings.ctxLen(),
        settings.usePadding()
            ? "packed with padding (whole documents, longer ones truncated)"
            : "packed without padding (a row ends with the prefix of the document that did not fit)",
        banned));
    for (Dataset d : train.keySet()) {
      PackedRows.Index t = train.get(d).index();
      long inRows = t.rowTokens();
      sb.append(String.format(Locale.ROOT,
          "; %s: %,d train rows holding %,d of %,d tokens (%.1f%% cut by packing) in %,d"
              + " documents, %,d val rows",
          d.folder(), t.starts().length, inRows, t.documentTokens(),
          t.documentTokens() == 0 ? 0.0 : 100.0 * (t.documentTokens() - inRows) / t.documentTokens(),
          t.documents(), val.get(d).rows()));
    }
    return sb.toString();
  }

  /** Drops the shard mappings (the JVM unmaps them when they are collected). */
  @Override
  public void close() {
    closed = true;
  }

  /** Which row of which dataset global sample {@code sample} is (for tests and ledgers). */
  String trainRowOf(long sample) {
    SampleMix.Pick p = mix.pick(sample);
    return p.dataset().folder() + ":" + orders.get(p.dataset()).row(p.index());
  }

  private void readRow(long sample, long[] dst, int off) {
    checkOpen();
    SampleMix.Pick p = mix.pick(sample);
    long row = orders.get(p.dataset()).row(p.index());
    train.get(p.dataset()).read((int) row, dst, off);
  }

  private Dataset valSet(String name) {
    for (Dataset d : val.keySet()) {
      if (d.folder().equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException("no dataset " + name + " in this run; have " + valSets());
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("training data " + baseDir + " is closed");
    }
  }

  private static MaskedLm.Batch tensors(MaskedRows m) {
    // Tensor.create allocates the tensor and copies the whole array in one bulk put.
    Tensor inputs = Tensor.create(m.inputs(), m.rows(), m.ctxLen());
    Tensor targets = Tensor.create(m.targets(), m.rows(), m.ctxLen());
    return new MaskedLm.Batch(inputs, targets);
  }

  private static PackedRows packed(
      List<ShardFile> files, DataSettings s, boolean[] banned, int eos, Dataset d, Split split) {
    String what = d.folder() + "/" + split.folder() + " (" + files.size() + " shards from "
        + files.get(0).path().getParent() + ")";
    PackedRows rows =
        PackedRows.pack(new TokenStream(files), s.ctxLen(), s.usePadding(), banned, eos, what);
    if (rows.rows() == 0) {
      throw new UserError(what + " holds no tokens once the banned ids are deleted");
    }
    return rows;
  }

  private static List<Manifest.Shard> shardsOf(Manifest m, Dataset d, Split split) {
    return m.shards().stream()
        .filter(s -> d.folder().equals(s.dataset()) && split.folder().equals(s.split()))
        .toList();
  }

  private static Path shardPath(ShardLayout layout, Manifest.Shard s) {
    Path p = layout.root().resolve(s.path()).normalize();
    if (!p.startsWith(layout.root())) {
      throw new UserError(layout.manifest() + " lists shard " + s.path()
          + " outside its folder");
    }
    return p;
  }

  private static NpyDtype dtype(String name, Path manifest) {
    for (NpyDtype d : NpyDtype.values()) {
      if (d.name().equalsIgnoreCase(name)) {
        return d;
      }
    }
    throw new UserError(manifest + ": unknown token dtype " + name + " (expected uint16 or int32)");
  }

  private static List<Integer> bannedIds(DataSettings s, Manifest.TokenizerInfo info, Path manifest) {
    List<Integer> ids = s.bannedToken() != null ? List.of(s.bannedToken())
        : info.bannedIds() == null ? List.of() : info.bannedIds();
    for (int id : ids) {
      String what = s.bannedToken() != null ? "--banned_token " + id : manifest + " bannedIds " + id;
      if (id < 0 || id >= info.vocabSize()) {
        throw new UserError(what + " is outside the vocabulary [0, " + info.vocabSize() + ")");
      }
      if (id == info.eosId()) {
        throw new UserError(what + " is the EOS id, which ends every document");
      }
    }
    return List.copyOf(new TreeSet<>(ids));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
