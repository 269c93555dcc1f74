package org.omnibiote.data;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.Split;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training data of a run, read from an ingest output folder: global sample i (a row of ctxLen
 * token ids and its MLM mask) is a pure function of (seed, i), the way BioNeMo and Megatron make
 * data resumable. The only data position a run keeps is its sample counter, valid for any number of
 * workers and any batch split.
 *
 * <p>Sample i: {@link SampleMix} picks its dataset and the dataset's sample k from i alone (exact
 * train_type fraction over any window, up to one row; the original instead splits each batch
 * int(0.8 B) genbank / rest uniref100); {@link RowOrder} maps k to a row of the dataset, every row
 * once per epoch in an order keyed by (seed, dataset, epoch); the row is packed as the original
 * packs ({@link RowPacker}); {@link MlmMask} masks it with an RNG seeded by (seed, i). The row
 * index is built by one pass over the memory-mapped shards at open; nothing else is held on the
 * heap.
 *
 * <p>Thread-safe: every read is of immutable state.
 */
public final class TrainingData implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TrainingData.class);
  private static final long TRAIN_MASK = 0x7472616eL;

  /** Ids and masked inputs/targets of {@code rows} rows, row-major [rows, ctxLen]. */
  public record MaskedRows(int rows, int ctxLen, long[] ids, long[] inputs, long[] targets) {}

  private final Path baseDir;
  private final DataSettings settings;
  private final Manifest.TokenizerInfo tokenizer;
  private final List<Integer> banned;
  private final Map<Dataset, PackedRows> train;
  private final Map<Dataset, PackedRows> val;
  private final SampleMix mix;
  private final ShardVerifier verifier;
  // What adopt() needs to pack a new generation's shards as open() packed the first ones.
  private final IngestFolder folder;
  private final boolean verify;
  private final boolean[] bannedTable;
  // The train rows over the adopted generations, replaced whole by adopt() (readers take one
  // snapshot per row), and the checks of the adopted generations' shards.
  private volatile Map<Dataset, DatasetCorpus> corpora;
  private volatile List<Adoption> adoptions = List.of();
  private final List<ShardVerifier> adoptedVerifiers =
      new java.util.concurrent.CopyOnWriteArrayList<>();
  private final String fingerprint;
  private final Map<Dataset, Integer> trainShards = new EnumMap<>(Dataset.class);
  private final Map<Dataset, Integer> valShards = new EnumMap<>(Dataset.class);
  private volatile boolean closed;

  private TrainingData(
      Path baseDir,
      DataSettings settings,
      Manifest.TokenizerInfo tokenizer,
      List<Integer> banned,
      Map<Dataset, PackedRows> train,
      Map<Dataset, PackedRows> val,
      ShardVerifier verifier,
      String fingerprint,
      IngestFolder folder,
      boolean[] bannedTable,
      Map<Dataset, List<Manifest.Shard>> trainListed,
      boolean verify) {
    this.verify = verify;
    this.folder = folder;
    this.bannedTable = bannedTable;
    this.baseDir = baseDir;
    this.settings = settings;
    this.tokenizer = tokenizer;
    this.banned = banned;
    this.train = train;
    this.val = val;
    this.verifier = verifier;
    this.fingerprint = fingerprint;
    this.mix = new SampleMix(settings.trainType());
    Map<Dataset, DatasetCorpus> c = new EnumMap<>(Dataset.class);
    for (Map.Entry<Dataset, PackedRows> e : train.entrySet()) {
      c.put(
          e.getKey(),
          DatasetCorpus.initial(
              settings.seed(),
              e.getKey().seedStream() + 1L,
              e.getValue(),
              trainListed.get(e.getKey()).stream().map(Manifest.Shard::path).toList()));
    }
    this.corpora = c;
  }

  /**
   * Opens the ingest output {@code baseDir} for {@code settings}: checks the folder, the manifest,
   * the banned ids and every shard the train_type needs (a {@link UserError} naming the problem,
   * before any scan), then builds the row indexes.
   */
  public static TrainingData open(Path baseDir, DataSettings settings) {
    return open(baseDir, settings, verifyShards());
  }

  /**
   * As {@link #open(Path, DataSettings, List)}, without checking the shards' SHA-256s: for a reader
   * that only counts (the coordinator planning adoptions), never for one that trains.
   */
  public static TrainingData openUnverified(
      Path baseDir, DataSettings settings, List<Adoption> adoptions) {
    return adoptingAll(open(baseDir, settings, false), adoptions);
  }

  /** {@code data} after adopting {@code adoptions} in order (closed if one fails). */
  private static TrainingData adoptingAll(TrainingData data, List<Adoption> adoptions) {
    try {
      for (Adoption a : adoptions) {
        data.adopt(a);
      }
    } catch (RuntimeException e) {
      data.close();
      throw e;
    }
    return data;
  }

  private static TrainingData open(Path baseDir, DataSettings settings, boolean verify) {
    long t0 = System.nanoTime();
    if (settings == null) {
      throw new IllegalArgumentException("no data settings");
    }
    IngestFolder folder = IngestFolder.open(baseDir);
    Manifest.TokenizerInfo info = folder.tokenizer();
    List<Integer> banned = folder.bannedIds(settings.bannedToken());
    TrainType type = settings.trainType();
    Map<Dataset, List<Manifest.Shard>> trainListed = new EnumMap<>(Dataset.class);
    Map<Dataset, List<Manifest.Shard>> valListed = new EnumMap<>(Dataset.class);
    for (Dataset d : type.datasets()) {
      trainListed.put(d, folder.listed(d, Split.TRAIN, type));
      valListed.put(d, folder.listed(d, Split.VAL, type));
    }
    Map<Dataset, List<ShardFile>> trainFiles = new EnumMap<>(Dataset.class);
    Map<Dataset, List<ShardFile>> valFiles = new EnumMap<>(Dataset.class);
    for (Dataset d : type.datasets()) {
      trainFiles.put(d, folder.open(trainListed.get(d)));
      valFiles.put(d, folder.open(valListed.get(d)));
    }
    // The SHA-256 checks run in the background from now on; val shards first (the first
    // evaluation needs them whole), then train shards in manifest order.
    Map<ShardFile, ShardVerifier.Expected> expected = new LinkedHashMap<>();
    for (Map<Dataset, List<Manifest.Shard>> listed : List.of(valListed, trainListed)) {
      Map<Dataset, List<ShardFile>> files = listed == valListed ? valFiles : trainFiles;
      for (Dataset d : type.datasets()) {
        for (int i = 0; i < listed.get(d).size(); i++) {
          expected.put(files.get(d).get(i), folder.expected(listed.get(d).get(i)));
        }
      }
    }
    ShardVerifier verifier = new ShardVerifier(verify ? expected : Map.of());
    // Every check has passed: now the one scan of the shards.
    boolean[] bannedTable = new boolean[info.vocabSize()];
    banned.forEach(b -> bannedTable[b] = true);
    Map<Dataset, PackedRows> train = new EnumMap<>(Dataset.class);
    Map<Dataset, PackedRows> val = new EnumMap<>(Dataset.class);
    for (Dataset d : type.datasets()) {
      train.put(
          d,
          packed(
              new TokenStream(trainFiles.get(d), verifier),
              settings,
              bannedTable,
              info.eosId(),
              d,
              Split.TRAIN));
      val.put(
          d,
          packed(
              new TokenStream(valFiles.get(d), verifier),
              settings,
              bannedTable,
              info.eosId(),
              d,
              Split.VAL));
    }
    verifier.start();
    TrainingData data =
        new TrainingData(
            folder.root(),
            settings,
            info,
            banned,
            train,
            val,
            verifier,
            fingerprint(settings, info, banned, trainListed, valListed),
            folder,
            bannedTable,
            trainListed,
            verify);
    for (Dataset d : type.datasets()) {
      data.trainShards.put(d, trainListed.get(d).size());
      data.valShards.put(d, valListed.get(d).size());
    }
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
   * A stable id of everything that decides the samples: the train and val shards (path, tokens,
   * sha256 from the manifest), the tokenizer, ctx_len, use_padding, train_type, the banned ids and
   * the seed. A resume refuses data whose fingerprint differs.
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
   * Samples {@code firstSample .. firstSample+rows-1} as [rows, ctxLen] arrays: the ids, the inputs
   * with MASK where masked, the targets the original id where masked and {@link TokenIds#IGNORE}
   * elsewhere. Each row and its mask depend only on its sample index, so any split of a range into
   * batches gives the same rows.
   */
  public MaskedRows maskedRows(long firstSample, int rows) {
    if (firstSample < 0 || rows < 1) {
      throw new IllegalArgumentException("bad sample range " + firstSample + " + " + rows);
    }
    verifier.throwIfDamaged();
    adoptedVerifiers.forEach(ShardVerifier::throwIfDamaged);
    int ctx = settings.ctxLen();
    long[] ids = new long[Math.multiplyExact(rows, ctx)];
    long[] inputs = new long[ids.length];
    long[] targets = new long[ids.length];
    for (int r = 0; r < rows; r++) {
      long sample = firstSample + r;
      readRow(sample, ids, r * ctx);
      MlmMask.apply(
          Seeds.mix(settings.seed(), TRAIN_MASK, sample),
          ids,
          r * ctx,
          ctx,
          tokenizer.eosId(),
          inputs,
          targets);
    }
    return new MaskedRows(rows, ctx, ids, inputs, targets);
  }

  /** The datasets trained on, genbank first, e.g. ["genbank", "uniref100"]. */
  public List<String> valSets() {
    return val.keySet().stream().map(Dataset::folder).toList();
  }

  /**
   * The first {@code rows} rows of {@code dataset}'s val set in shard order (repeated from the
   * start if it has fewer), each masked by an RNG seeded by (seed, dataset, row): the same batch at
   * every call, so val losses are comparable over the run.
   */
  public MaskedRows valMaskedRows(String dataset, int rows) {
    checkOpen();
    if (rows < 1) {
      throw new IllegalArgumentException("bad row count " + rows);
    }
    verifier.throwIfDamaged();
    Dataset d = valSet(dataset);
    return ValidationData.masked(
        val.get(d), d, settings.seed(), tokenizer.eosId(), settings.ctxLen(), 0, rows);
  }

  /** Per dataset: shards, rows, tokens and documents; and the mix (see {@link DataSummary}). */
  public DataSummary summary() {
    List<DataSummary.Dataset> out = new java.util.ArrayList<>();
    Map<Dataset, DatasetCorpus> now = corpora;
    for (Dataset d : train.keySet()) {
      DatasetCorpus c = now.get(d);
      long tokens = 0;
      long documents = 0;
      int shards = 0;
      for (DatasetCorpus.Segment seg : c.segments()) {
        if (seg.deathSample() == Long.MAX_VALUE) {
          tokens += seg.rows().index().documentTokens();
          documents += seg.rows().index().documents();
          shards += seg.shardIndex().size();
        }
      }
      out.add(
          new DataSummary.Dataset(
              d.folder(),
              shards,
              valShards.getOrDefault(d, 0),
              c.liveRows(),
              val.get(d).rows(),
              tokens,
              documents));
    }
    return new DataSummary(
        List.copyOf(out), settings.trainType().genbankNum(), settings.trainType().genbankDen());
  }

  /** Live train rows of {@code dataset} (one epoch of it, as the corpus stands now). */
  public int trainRowCount(String dataset) {
    return (int) corpora.get(valSet(dataset)).liveRows();
  }

  /** What a run adopted, in order (see {@link #adopt}). */
  public List<Adoption> adoptions() {
    return adoptions;
  }

  /**
   * What one adoption did: documents and tokens added (in packed train rows) and superseded (no
   * longer trained), over the datasets of the run's train_type, and where the generation came from.
   */
  public record AdoptionSummary(
      long generation,
      long firstSample,
      String source,
      long documentsAdded,
      long tokensAdded,
      long documentsSuperseded,
      long tokensSuperseded) {}

  /**
   * Opens {@code baseDir} as {@link #open(Path, DataSettings)} does, then adopts {@code adoptions}
   * in order: the data a resumed run (or a worker joining one) reads.
   */
  public static TrainingData open(Path baseDir, DataSettings settings, List<Adoption> adoptions) {
    return adoptingAll(open(baseDir, settings), adoptions);
  }

  /**
   * How a damaged shard of an adopted generation is repaired: not by an ingest (which would add its
   * source to generation 0) nor by follow (which publishes a generation once, and runs have trained
   * on it as it was), but from a copy.
   */
  private String generationRepair(long generation, String source) {
    return "restore it from a backup of "
        + baseDir
        + ": data generation "
        + generation
        + " (published by follow from "
        + source
        + ") is written once, and runs that adopted it train on it as it was";
  }

  /**
   * Adopts data generation {@code a.generation()} (committed by {@code omnibiote follow}) from
   * global sample {@code a.firstSample()} on: its train shards join the corpus (val stays as at the
   * start, so val losses stay comparable over the run), the documents it supersedes are not trained
   * from that sample on, and the order re-plans as {@link GrowingRowOrder} says. Samples before
   * {@code a.firstSample()} are unchanged. The generation's shards are checked against its SHA-256s
   * in the background, as the first ones are. Generations must be adopted in order, none twice; the
   * caller must not read samples while this runs on another thread (a worker adopts between steps).
   */
  public synchronized AdoptionSummary adopt(Adoption a) {
    checkOpen();
    List<Adoption> before = adoptions;
    if (!before.isEmpty()) {
      Adoption last = before.get(before.size() - 1);
      if (a.generation() <= last.generation() || a.firstSample() < last.firstSample()) {
        throw new IllegalArgumentException("adoption " + a + " after " + last);
      }
    }
    DataGenerations.Info info = null;
    for (DataGenerations.Info g : DataGenerations.list(baseDir)) {
      if (g.generation() == a.generation()) {
        info = g;
      }
    }
    if (info == null) {
      throw new UserError(
          baseDir + " has no committed data generation " + a.generation() + " (see generations/)");
    }
    if (info.tokenizerSha256() != null
        && tokenizer.sha256() != null
        && !info.tokenizerSha256().equals(tokenizer.sha256())) {
      throw new UserError(
          "data generation "
              + a.generation()
              + " of "
              + baseDir
              + " was tokenized with another tokenizer (sha256 "
              + info.tokenizerSha256()
              + ", the run's is "
              + tokenizer.sha256()
              + ")");
    }
    Map<String, List<Long>> superseded = new java.util.HashMap<>();
    for (org.omnibiote.shards.Generation.Superseded s : info.superseded()) {
      superseded.computeIfAbsent(s.shard(), k -> new java.util.ArrayList<>()).add(s.document());
    }
    java.util.Set<Long> gone = new java.util.HashSet<>(info.supersededGenerations());
    Map<Dataset, DatasetCorpus> next = new EnumMap<>(Dataset.class);
    List<ShardVerifier> checks = new java.util.ArrayList<>();
    long[] delta = new long[4];
    try {
      for (Map.Entry<Dataset, DatasetCorpus> e : corpora.entrySet()) {
        Dataset d = e.getKey();
        List<Manifest.Shard> listed =
            info.shards().stream()
                .filter(
                    s -> d.folder().equals(s.dataset()) && Split.TRAIN.folder().equals(s.split()))
                .toList();
        PackedRows added = null;
        if (!listed.isEmpty()) {
          List<ShardFile> files = folder.open(listed);
          Map<ShardFile, ShardVerifier.Expected> expected = new LinkedHashMap<>();
          for (int i = 0; i < listed.size(); i++) {
            expected.put(
                files.get(i),
                folder.expected(listed.get(i), generationRepair(a.generation(), info.source())));
          }
          ShardVerifier v = new ShardVerifier(verify ? expected : Map.of());
          checks.add(v);
          added =
              PackedRows.pack(
                  new TokenStream(files, v),
                  settings.ctxLen(),
                  settings.usePadding(),
                  bannedTable,
                  tokenizer.eosId(),
                  d.folder() + "/train of data generation " + a.generation());
        }
        next.put(
            d,
            e.getValue()
                .adopt(
                    a.generation(),
                    a.firstSample(),
                    mix.before(d, a.firstSample()),
                    added,
                    listed.stream().map(Manifest.Shard::path).toList(),
                    superseded,
                    gone,
                    delta));
      }
    } catch (RuntimeException e) {
      checks.forEach(ShardVerifier::close);
      throw e;
    }
    checks.forEach(ShardVerifier::start);
    adoptedVerifiers.addAll(checks);
    List<Adoption> after = new java.util.ArrayList<>(before);
    after.add(a);
    corpora = next;
    adoptions = List.copyOf(after);
    AdoptionSummary summary =
        new AdoptionSummary(
            a.generation(), a.firstSample(), info.source(), delta[0], delta[1], delta[2], delta[3]);
    log.info(
        "adopted data generation {} from sample {}: {} documents ({} tokens) added, {} documents"
            + " ({} tokens) superseded",
        a.generation(),
        a.firstSample(),
        delta[0],
        delta[1],
        delta[2],
        delta[3]);
    return summary;
  }

  /** Packed val rows of {@code dataset}. */
  public int valRowCount(String dataset) {
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
    sb.append(
        String.format(
            Locale.ROOT,
            "training data %s: %s, ctx_len %d, %s, banned ids %s",
            baseDir,
            settings.trainType().describe(),
            settings.ctxLen(),
            settings.usePadding()
                ? "packed with padding (whole documents, longer ones truncated)"
                : "packed without padding (a row ends with the prefix of the document that did not fit)",
            banned));
    for (Dataset d : train.keySet()) {
      PackedRows.Index t = train.get(d).index();
      long inRows = t.rowTokens();
      sb.append(
          String.format(
              Locale.ROOT,
              "; %s: %,d train rows holding %,d of %,d tokens (%.1f%% cut by packing) in %,d"
                  + " documents, %,d val rows",
              d.folder(),
              t.starts().length,
              inRows,
              t.documentTokens(),
              t.documentTokens() == 0
                  ? 0.0
                  : 100.0 * (t.documentTokens() - inRows) / t.documentTokens(),
              t.documents(),
              val.get(d).rows()));
    }
    return sb.toString();
  }

  /** Drops the shard mappings (the JVM unmaps them when they are collected). */
  @Override
  public void close() {
    closed = true;
    verifier.close();
    adoptedVerifiers.forEach(ShardVerifier::close);
  }

  /**
   * Waits until every shard has been checked against its manifest SHA-256 (done in the background
   * from open; see {@link ShardVerifier}); throws the first damaged one as a {@link UserError}.
   */
  public void awaitVerified() {
    verifier.awaitAll();
    adoptedVerifiers.forEach(ShardVerifier::awaitAll);
  }

  /**
   * Whether shards are checked against the manifest's SHA-256: yes, unless the system property
   * {@code omnibiote.data.verify-shards} is false (for measuring what the checks cost).
   */
  static boolean verifyShards() {
    return !"false".equalsIgnoreCase(System.getProperty("omnibiote.data.verify-shards", "true"));
  }

  /** The train corpus of {@code dataset} as it stands (for tests). */
  DatasetCorpus corpusOf(String dataset) {
    return corpora.get(valSet(dataset));
  }

  /** Which row of which dataset global sample {@code sample} is (for tests and ledgers). */
  String trainRowOf(long sample) {
    SampleMix.Pick p = mix.pick(sample);
    return p.dataset().folder() + ":" + corpora.get(p.dataset()).row(p.index());
  }

  private void readRow(long sample, long[] dst, int off) {
    checkOpen();
    SampleMix.Pick p = mix.pick(sample);
    corpora.get(p.dataset()).read(p.index(), sample, dst, off);
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

  private static PackedRows packed(
      TokenStream stream, DataSettings s, boolean[] banned, int eos, Dataset d, Split split) {
    String what =
        d.folder()
            + "/"
            + split.folder()
            + " ("
            + stream.shardCount()
            + " shards from "
            + stream.firstShardFolder()
            + ")";
    PackedRows rows = PackedRows.pack(stream, s.ctxLen(), s.usePadding(), banned, eos, what);
    if (rows.rows() == 0) {
      throw new UserError(what + " holds no tokens once the banned ids are deleted");
    }
    return rows;
  }

  private static String fingerprint(
      DataSettings s,
      Manifest.TokenizerInfo info,
      List<Integer> banned,
      Map<Dataset, List<Manifest.Shard>> trainListed,
      Map<Dataset, List<Manifest.Shard>> valListed) {
    StringBuilder text =
        new StringBuilder("omnibiote-training-data 1\n")
            .append("train_type ")
            .append(s.trainType().flag())
            .append('\n')
            .append("ctx_len ")
            .append(s.ctxLen())
            .append('\n')
            .append("use_padding ")
            .append(s.usePadding())
            .append('\n')
            .append("banned ")
            .append(banned)
            .append('\n')
            .append("eos ")
            .append(info.eosId())
            .append('\n')
            .append("vocab ")
            .append(info.vocabSize())
            .append('\n')
            .append("tokenizer ")
            .append(info.sha256())
            .append('\n')
            .append("seed ")
            .append(s.seed())
            .append('\n');
    for (Map<Dataset, List<Manifest.Shard>> listed : List.of(trainListed, valListed)) {
      listed.forEach(
          (d, shards) ->
              shards.forEach(
                  sh ->
                      text.append(sh.dataset())
                          .append(' ')
                          .append(sh.split())
                          .append(' ')
                          .append(sh.path())
                          .append(' ')
                          .append(sh.tokens())
                          .append(' ')
                          .append(sh.sha256())
                          .append('\n')));
    }
    return HexFormat.of()
        .formatHex(sha256().digest(text.toString().getBytes(StandardCharsets.UTF_8)));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
