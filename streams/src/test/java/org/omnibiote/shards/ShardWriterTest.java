package org.omnibiote.shards;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardWriterTest {
  @TempDir Path dir;

  @Test
  void uint16ShardReadsBackWithCountsAndHashOfTheFileOnDisk() throws IOException {
    Path temp = dir.resolve(".work/tmp/a.npy.tmp");
    Path target = dir.resolve("genbank/train/a.npy");
    FinishedShard shard;
    try (ShardWriter w = new ShardWriter(temp, NpyDtype.UINT16)) {
      w.append(new int[] {4, 65535, 3, 99}, 3, "<DNA>");
      w.append(new int[] {18, 7, 3}, 3, "<protein>");
      w.append(new int[] {4, 3}, 2, "<DNA>");
      shard = w.finish(target);
    }
    NpyReader.Array a = NpyReader.read(target);
    assertEquals("<u2", a.descr());
    assertArrayEquals(new int[] {4, 65535, 3, 18, 7, 3, 4, 3}, a.values());
    assertEquals(8, shard.tokens());
    assertEquals(3, shard.documents());
    assertEquals(Map.of("<DNA>", 2L, "<protein>", 1L), shard.tagDocuments());
    assertEquals(ShardWriter.sha256(target), shard.sha256());
    assertFalse(Files.exists(temp), "temp file renamed away");
  }

  @Test
  void int32ForVocabulariesAbove65536AndLargeCountsAcrossBufferFlushes() throws IOException {
    assertEquals(NpyDtype.UINT16, NpyDtype.forVocabulary(65_536));
    assertEquals(NpyDtype.INT32, NpyDtype.forVocabulary(65_537));
    int[] doc = new int[700_001];
    for (int i = 0; i < doc.length; i++) {
      doc[i] = 70_000 + i;
    }
    Path target = dir.resolve("big.npy");
    try (ShardWriter w = new ShardWriter(dir.resolve("t.tmp"), NpyDtype.INT32)) {
      w.append(doc, doc.length, "<DNA>");
      w.finish(target);
    }
    NpyReader.Array a = NpyReader.read(target);
    assertEquals("<i4", a.descr());
    assertArrayEquals(doc, a.values());
  }

  @Test
  void closingAnUnfinishedWriterLeavesNoFile() throws IOException {
    Path temp = dir.resolve("tmp/x.tmp");
    try (ShardWriter w = new ShardWriter(temp, NpyDtype.UINT16)) {
      w.append(new int[] {4, 3}, 2, "<DNA>");
    }
    assertFalse(Files.exists(temp));
  }

  @Test
  void headerIsAlways128BytesAndParsesForAnyCount() {
    for (long n : new long[] {0, 1, 65_536, 50_000_000_000L}) {
      byte[] h = NpyHeader.of(NpyDtype.UINT16, n);
      assertEquals(128, h.length);
      String text = new String(h, 10, 118, java.nio.charset.StandardCharsets.US_ASCII);
      assertTrue(text.contains("'shape': (" + n + ",)"), text);
    }
  }
}
