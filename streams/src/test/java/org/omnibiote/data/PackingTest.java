package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.omnibiote.data.IngestOutputs.BANNED;
import static org.omnibiote.data.IngestOutputs.doc;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.shards.NpyDtype;

/** The original's packing, on hand-made documents written as real shards. */
class PackingTest {
  static final int DNA = 4;
  static final int[] A = doc(DNA, 20); // 3 tokens
  static final int[] B = doc(DNA, 21, 22); // 4
  static final int[] C = doc(DNA, 23, 24, 25, 26); // 6
  static final int[] D = doc(DNA); // 2
  static final int[] E = doc(DNA, 30, 31, 32, 33, 34, 35, 36, 37); // 10, longer than a row
  static final int[] F = doc(DNA, 40); // 3

  @TempDir Path dir;

  /** Two shards, so that rows straddle a shard boundary. */
  Path sixDocuments() throws IOException {
    return new IngestOutputs.HandMade(dir)
        .shard("genbank", "train", A, B)
        .shard("genbank", "train", C, D, E, F)
        .shard("genbank", "val", A)
        .write();
  }

  /** Every row of epoch 0 (samples 0..n-1), sorted, so the comparison ignores the order. */
  static List<String> epochRows(Path base, boolean padding, Integer banned) {
    try (TrainingData data =
        TrainingData.open(base, new DataSettings(TrainType.NUCLEOTIDE, padding, 8, banned, 7))) {
      List<String> rows = new ArrayList<>();
      for (int i = 0; i < data.trainRowCount("genbank"); i++) {
        rows.add(Arrays.toString(data.row(i)));
      }
      rows.sort(null);
      return rows;
    }
  }

  static List<String> rows(long[]... rows) {
    List<String> out = new ArrayList<>();
    for (long[] r : rows) {
      out.add(Arrays.toString(r));
    }
    out.sort(null);
    return out;
  }

  @Test
  void withoutPaddingARowEndsWithThePrefixOfTheDocumentThatDidNotFit() throws IOException {
    assertEquals(
        rows(
            new long[] {4, 20, 3, 4, 21, 22, 3, 4}, // A, B, first token of C (rest of C dropped)
            new long[] {4, 3, 4, 30, 31, 32, 33, 34}, // D, first 6 of E
            new long[] {4, 40, 3, 1, 1, 1, 1, 1}), // F: the data ran out, padded
        epochRows(sixDocuments(), false, null));
  }

  @Test
  void aSupersededDocumentLeavesItsRowAndTheRowsOtherDocumentsAreStillRead() throws IOException {
    try (TrainingData data =
        TrainingData.open(
            sixDocuments(), new DataSettings(TrainType.NUCLEOTIDE, false, 8, null, 7))) {
      PackedRows rows = data.corpusOf("genbank").segments().get(0).rows();
      // Documents A..F are 0..5 in stream order; rows hold [A, B, C-prefix], [D, E-prefix], [F].
      assertEquals(
          List.of(0, 0, 0, 1, 1, 2),
          List.of(0L, 1L, 2L, 3L, 4L, 5L).stream().map(rows::rowOf).toList());
      assertEquals(1, rows.shardFirstDoc(0) + 1); // shard 0 starts with A
      assertEquals(2, rows.shardFirstDoc(1)); // shard 1 starts with C
      long[] row = new long[8];
      assertEquals(4, rows.read(0, row, 0, doc -> doc == 1));
      assertEquals(Arrays.toString(new long[] {4, 20, 3, 4, 1, 1, 1, 1}), Arrays.toString(row));
      assertEquals(8, rows.read(0, row, 0, PackedRows.DeadDocuments.NONE));
      assertEquals(Arrays.toString(new long[] {4, 20, 3, 4, 21, 22, 3, 4}), Arrays.toString(row));
    }
  }

  @Test
  void withPaddingARowHoldsWholeDocumentsAndTheOneThatDidNotFitStartsTheNext() throws IOException {
    assertEquals(
        rows(
            new long[] {4, 20, 3, 4, 21, 22, 3, 1}, // A, B, PAD (C does not fit)
            new long[] {4, 23, 24, 25, 26, 3, 4, 3}, // C, D: exactly full
            new long[] {4, 30, 31, 32, 33, 34, 35, 36}, // E alone, truncated to ctx_len
            new long[] {4, 40, 3, 1, 1, 1, 1, 1}), // F
        epochRows(sixDocuments(), true, null));
  }

  @Test
  void int32ShardsOfALargerVocabularyAreReadLikeUint16Ones() throws IOException {
    Path base =
        new IngestOutputs.HandMade(dir, NpyDtype.INT32, 100_000)
            .shard("genbank", "train", doc(DNA, 99_999, 70_000), doc(DNA, BANNED, 65_536))
            .shard("genbank", "val", A)
            .write();
    assertEquals(
        rows(new long[] {4, 99_999, 70_000, 3, 4, 65_536, 3, 1}), epochRows(base, false, null));
  }

  @Test
  void aDocumentEndingExactlyAtTheRowEndIsNotCut() throws IOException {
    Path base =
        new IngestOutputs.HandMade(dir)
            .shard("genbank", "train", C, D, A)
            .shard("genbank", "val", A)
            .write();
    assertEquals(
        rows(new long[] {4, 23, 24, 25, 26, 3, 4, 3}, new long[] {4, 20, 3, 1, 1, 1, 1, 1}),
        epochRows(base, false, null));
  }

  @Test
  void theManifestsBannedIdIsDeletedBeforeDocumentsArePacked() throws IOException {
    Path base =
        new IngestOutputs.HandMade(dir)
            .shard("genbank", "train", doc(DNA, BANNED, 20, 21), doc(DNA, BANNED, 22, 23))
            .shard("genbank", "val", A)
            .write();
    // Counted with the banned id the documents are 5 + 5 > 8 and the second would be cut.
    List<String> expected = rows(new long[] {4, 20, 21, 3, 4, 22, 23, 3});
    assertEquals(expected, epochRows(base, false, null));
    assertEquals(expected, epochRows(base, true, null));
  }

  @Test
  void bannedTokenReplacesTheManifestsBannedIds() throws IOException {
    Path base =
        new IngestOutputs.HandMade(dir)
            .shard("genbank", "train", doc(DNA, BANNED, 20, 21), doc(DNA, BANNED, 22, 23))
            .shard("genbank", "val", A)
            .write();
    // 21 deleted, 65533 kept: 4 + 5 tokens, the second document cut after 4.
    assertEquals(
        rows(new long[] {4, BANNED, 20, 3, 4, BANNED, 22, 23}), epochRows(base, false, 21));
  }
}
