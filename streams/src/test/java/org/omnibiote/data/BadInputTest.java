package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.data.IngestOutputs.doc;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.ShardLayout;

/** Every kind of bad input is refused at open with a message naming the problem. */
class BadInputTest {
  static final DataSettings NUCLEOTIDE = new DataSettings(TrainType.NUCLEOTIDE, false, 8, null, 1);

  @TempDir Path dir;

  Path genbankOnly() throws IOException {
    return new IngestOutputs.HandMade(dir)
        .shard("genbank", "train", doc(4, 20, 21), doc(4, 22))
        .shard("genbank", "val", doc(4, 23))
        .write();
  }

  static String refused(Executable open) {
    return assertThrows(UserError.class, open).getMessage();
  }

  static void assertContains(String message, String... parts) {
    for (String p : parts) {
      assertTrue(message.contains(p), "'" + p + "' not in: " + message);
    }
  }

  Path firstShard(Path base, String split) throws IOException {
    Manifest m = new ManifestStore(new ShardLayout(base)).read().orElseThrow();
    return base.resolve(
        m.shards().stream().filter(s -> s.split().equals(split)).findFirst().orElseThrow().path());
  }

  void rewriteManifest(Path base, UnaryOperator<Manifest> change) throws IOException {
    ManifestStore store = new ManifestStore(new ShardLayout(base));
    store.write(change.apply(store.read().orElseThrow()));
  }

  @Test
  void aMissingBaseDirIsNamed() {
    Path missing = dir.resolve("nowhere");
    assertContains(
        refused(() -> TrainingData.open(missing, NUCLEOTIDE)),
        missing.toString(),
        "does not exist");
  }

  @Test
  void aFileAsBaseDirIsRefused() throws IOException {
    Path file = Files.writeString(dir.resolve("file.txt"), "x");
    assertContains(refused(() -> TrainingData.open(file, NUCLEOTIDE)), "is not a folder");
  }

  @Test
  void aFolderWithoutManifestIsNotAnIngestOutput() {
    assertContains(
        refused(() -> TrainingData.open(dir, NUCLEOTIDE)),
        "manifest.json",
        "not an ingest output: run bin/omnibiote ingest");
  }

  @Test
  void aDatasetTheTrainTypeNeedsWithoutTrainShardsIsNamed() throws IOException {
    Path base = genbankOnly();
    for (String type : List.of("mixed", "protein", "halfnhalf")) {
      assertContains(
          refused(
              () ->
                  TrainingData.open(
                      base, new DataSettings(TrainType.parse(type), false, 8, null, 1))),
          "no uniref100 train shards",
          "--train_type " + type,
          "--uniref");
    }
    // The dataset it has is enough for nucleotide.
    TrainingData.open(base, NUCLEOTIDE).close();
  }

  @Test
  void aDatasetWithoutValShardsIsNamed() throws IOException {
    Path base = new IngestOutputs.HandMade(dir).shard("genbank", "train", doc(4, 20)).write();
    assertContains(refused(() -> TrainingData.open(base, NUCLEOTIDE)), "no genbank val shards");
  }

  @Test
  void aShardListedButMissingIsNamed() throws IOException {
    Path base = genbankOnly();
    Path shard = firstShard(base, "val");
    Files.delete(shard);
    assertContains(refused(() -> TrainingData.open(base, NUCLEOTIDE)), shard.toString(), "missing");
  }

  @Test
  void aTruncatedShardIsRefused() throws IOException {
    Path base = genbankOnly();
    Path shard = firstShard(base, "train");
    try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 2);
    }
    assertContains(
        refused(() -> TrainingData.open(base, NUCLEOTIDE)),
        shard.toString(),
        "header announces 7 tokens",
        "truncated");
  }

  @Test
  void aShardWhoseCountDisagreesWithTheManifestIsRefused() throws IOException {
    Path base = genbankOnly();
    rewriteManifest(
        base,
        m ->
            Manifest.of(
                m.tokenizer(),
                m.settings(),
                m.sources(),
                m.shards().stream()
                    .map(
                        s ->
                            new Manifest.Shard(
                                s.path(),
                                s.dataset(),
                                s.split(),
                                s.tokens() + 1,
                                s.documents(),
                                s.tags(),
                                s.sha256(),
                                s.sources(),
                                s.copiedFrom()))
                    .toList()));
    assertContains(
        refused(() -> TrainingData.open(base, NUCLEOTIDE)),
        "holds 7 tokens but the manifest lists 8");
  }

  @Test
  void aShardOfAnotherDtypeThanTheManifestsIsRefused() throws IOException {
    Path base = genbankOnly();
    rewriteManifest(
        base,
        m ->
            Manifest.of(
                new Manifest.TokenizerInfo(
                    m.tokenizer().file(),
                    m.tokenizer().sha256(),
                    m.tokenizer().vocabSize(),
                    m.tokenizer().bannedIds(),
                    m.tokenizer().eosId(),
                    "INT32"),
                m.settings(),
                m.sources(),
                m.shards()));
    assertContains(
        refused(() -> TrainingData.open(base, NUCLEOTIDE)),
        "holds <u2 but the manifest says int32");
  }

  @Test
  void aFileThatIsNotNpyIsRefused() throws IOException {
    Path base = genbankOnly();
    Path shard = firstShard(base, "train");
    Files.writeString(shard, "not numpy at all");
    assertContains(
        refused(() -> TrainingData.open(base, NUCLEOTIDE)), shard.toString(), "not an .npy file");
  }

  @Test
  void aTokenOutsideTheVocabularyIsRefused() throws IOException {
    Path base = genbankOnly();
    rewriteManifest(
        base,
        m ->
            Manifest.of(
                new Manifest.TokenizerInfo(
                    m.tokenizer().file(),
                    m.tokenizer().sha256(),
                    21,
                    List.of(),
                    m.tokenizer().eosId(),
                    m.tokenizer().dtype()),
                m.settings(),
                m.sources(),
                m.shards()));
    assertContains(
        refused(() -> TrainingData.open(base, NUCLEOTIDE)),
        "genbank/train",
        "token 21 at offset 2 is outside the vocabulary of 21");
  }

  @Test
  void aCtxLenBelowTwoIsRefused() {
    assertContains(
        refused(() -> new DataSettings(TrainType.MIXED, false, 1, null, 1)),
        "--ctx_len must be at least 2, got 1");
  }

  @Test
  void aBannedTokenOutsideTheVocabularyOrEqualToEosIsRefused() throws IOException {
    Path base = genbankOnly();
    for (int banned : new int[] {-1, 65_536, 70_000}) {
      assertContains(
          refused(
              () ->
                  TrainingData.open(
                      base, new DataSettings(TrainType.NUCLEOTIDE, false, 8, banned, 1))),
          "--banned_token " + banned,
          "outside the vocabulary [0, 65536)");
    }
    assertContains(
        refused(
            () ->
                TrainingData.open(
                    base, new DataSettings(TrainType.NUCLEOTIDE, false, 8, IngestOutputs.EOS, 1))),
        "--banned_token 3 is the EOS id");
  }

  @Test
  void trainTypeTakesTheOriginalsFlagValuesOnly() {
    assertEquals(TrainType.PROTEIN, TrainType.parse("protein"));
    assertEquals(TrainType.NUCLEOTIDE, TrainType.parse("nucleotide"));
    assertEquals(TrainType.MIXED, TrainType.parse("mixed"));
    assertEquals(TrainType.HALFNHALF, TrainType.parse("halfnhalf"));
    assertContains(
        refused(() -> TrainType.parse("Mixed")),
        "--train_type Mixed",
        "protein, nucleotide, mixed, halfnhalf");
  }
}
