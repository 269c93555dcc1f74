package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.NpyHeader;
import org.omnibiote.shards.ShardLayout;
import org.omnibiote.shards.ShardWriter;

/**
 * The trainer checks every shard against the SHA-256 the ingest recorded, in the background, before
 * any row of it is trained: a shard with four bytes overwritten stops the data naming the shard and
 * the commands that repair it, and those commands do repair it.
 */
class ShardVerificationTest {
  static final DataSettings MIXED = new DataSettings(TrainType.MIXED, false, 64, null, 7);

  @TempDir Path dir;

  static Path firstTrainShard(Path base) throws IOException {
    Manifest m = new ManifestStore(new ShardLayout(base)).read().orElseThrow();
    return base.resolve(
            m.shards().stream()
                .filter(s -> s.split().equals("train") && s.dataset().equals("uniref100"))
                .findFirst()
                .orElseThrow()
                .path())
        .normalize();
  }

  /** Overwrites 4 bytes of the token data with other values (the vocabulary still holds them). */
  static void flipFourBytes(Path shard) throws IOException {
    try (FileChannel ch =
        FileChannel.open(shard, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long at = NpyHeader.LENGTH + 20;
      ByteBuffer old = ByteBuffer.allocate(4);
      ch.read(old, at);
      byte[] b = old.array();
      for (int i = 0; i < 4; i++) {
        b[i] = (byte) (b[i] ^ 0x01); // a neighbouring id, so the scan at open does not notice
      }
      ch.write(ByteBuffer.wrap(b), at);
    }
  }

  @Test
  void aShardWithFourBytesOverwrittenStopsTheDataNamingItAndTheRepair() throws Exception {
    IngestOutputs.realIngest(dir);
    Path shard = firstTrainShard(dir);
    flipFourBytes(shard);
    try (TrainingData data = TrainingData.open(dir, MIXED)) {
      String message = assertThrows(UserError.class, data::awaitVerified).getMessage();
      assertTrue(message.contains("shard " + shard + " is damaged"), message);
      assertTrue(message.contains("rm " + shard), message);
      assertTrue(message.contains("bin/omnibiote ingest --tokenizer mixed_bpe.model"), message);
      assertTrue(message.contains("--uniref"), message);
      assertFalse(message.contains("\n"), "one line: " + message);
      // Every batch from then on is refused, whichever shard its rows come from.
      assertThrows(UserError.class, () -> data.maskedRows(0, 1));
      assertThrows(UserError.class, () -> data.valMaskedRows("genbank", 1));
    }
  }

  @Test
  void followingTheRepairInTheMessageRepairsTheFolder() throws Exception {
    IngestOutputs.realIngest(dir);
    Path shard = firstTrainShard(dir);
    flipFourBytes(shard);
    Files.delete(shard); // the message's "rm", then its ingest re-run:
    IngestOutputs.realIngest(dir);
    try (TrainingData data = TrainingData.open(dir, MIXED)) {
      data.awaitVerified();
      data.maskedRows(0, 64);
    }
  }

  @Test
  void anIntactFolderVerifiesAndGivesTheSameRowsAsWithoutTheCheck() throws Exception {
    IngestOutputs.realIngest(dir);
    long[] checked;
    try (TrainingData data = TrainingData.open(dir, MIXED)) {
      checked = data.maskedRows(0, 200).inputs();
      data.awaitVerified();
    }
    System.setProperty("omnibiote.data.verify-shards", "false");
    try (TrainingData data = TrainingData.open(dir, MIXED)) {
      assertArrayEquals(checked, data.maskedRows(0, 200).inputs());
    } finally {
      System.clearProperty("omnibiote.data.verify-shards");
    }
  }

  @Test
  void aReadOfAShardNotYetCheckedChecksItFirst() throws Exception {
    Path good = dir.resolve("good.npy");
    Path bad = dir.resolve("bad.npy");
    String goodSha = write(good, 4, 5, 6, 3);
    write(bad, 4, 7, 8, 3);
    ShardFile g = ShardFile.open(good, NpyDtype.UINT16, 4);
    ShardFile b = ShardFile.open(bad, NpyDtype.UINT16, 4);
    Map<ShardFile, ShardVerifier.Expected> expected = new LinkedHashMap<>();
    expected.put(g, new ShardVerifier.Expected(goodSha, good.toString(), "remake it"));
    expected.put(b, new ShardVerifier.Expected(goodSha, bad.toString(), "remake it"));
    // Not started: no background thread, so the reads themselves must check.
    try (ShardVerifier v = new ShardVerifier(expected)) {
      TokenStream stream = new TokenStream(List.of(g, b), v);
      int[] dst = new int[4];
      stream.readVerified(0, dst, 0, 4);
      assertArrayEquals(new int[] {4, 5, 6, 3}, dst);
      assertTrue(g.verified);
      String message =
          assertThrows(UserError.class, () -> stream.readVerified(4, dst, 0, 4)).getMessage();
      assertTrue(message.startsWith("shard " + bad + " is damaged"), message);
      assertTrue(message.endsWith("to repair it, remake it"), message);
      assertFalse(b.verified);
      assertThrows(UserError.class, v::throwIfDamaged);
      // The unchecked read (the scan at open) still reads it.
      assertTrue(stream.read(4, dst, 0, 4) == 4);
    }
  }

  private static String write(Path target, int... ids) throws IOException {
    try (ShardWriter w =
        new ShardWriter(target.resolveSibling(target.getFileName() + ".tmp"), NpyDtype.UINT16)) {
      w.append(ids, ids.length, "DNA");
      return w.finish(target).sha256();
    }
  }
}
