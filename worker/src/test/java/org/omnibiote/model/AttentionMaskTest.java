package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AttentionMaskTest {
  private static final long P = OmniBioTA.PAD;
  private static final long E = OmniBioTA.EOS;

  private PointerScope scope;

  @BeforeEach
  void open() {
    scope = new PointerScope();
  }

  @AfterEach
  void close() {
    scope.close();
  }

  @Test
  void eachTokenSeesExactlyItsOwnDocumentEosIncluded() {
    // Two packed rows; the second starts mid-document (the original's off-by-one let the
    // first two documents of every row after the first see each other).
    long[][] rows = {
      {4, 20, E, 18, 21, 22, E, 4},
      {30, E, 4, 23, E, 18, 24, 25},
    };
    int[][] docs = {{0, 0, 0, 1, 1, 1, 1, 2}, {0, 0, 1, 1, 1, 2, 2, 2}};
    assertMask(rows, docs, true);
  }

  @Test
  void padKeysAreNeverSeenAndPadQueriesSeeOnlyThemselves() {
    long[][] rows = {
      {4, 20, 21, E, 18, 22, E, P},
      {18, 23, E, P, P, P, P, P},
    };
    int[][] docs = {{0, 0, 0, 0, 1, 1, 1, 2}, {0, 0, 0, 1, 1, 1, 1, 1}};
    assertMask(rows, docs, true);
    // Without the block-diagonal mask, padding alone still hides PAD keys.
    int[][] oneDoc = new int[2][8];
    assertMask(rows, oneDoc, false);
  }

  @Test
  void aRowWithoutEosIsOneDocument() {
    long[][] rows = {{4, 20, 21, 22, 23, 24}};
    assertMask(rows, new int[1][6], OmniBioTA.AttentionMask.build(TestTensors.ids(rows), true));
  }

  @Test
  void noMaskAtAllWithoutPaddingOrBlockDiagonal() {
    assertNull(
        OmniBioTA.AttentionMask.of(TestTensors.ids(new long[][] {{4, 20, E, 18, 21, E}}), false));
  }

  /**
   * SDPA's fastest kernel: no mask when every row is one document (EOS, if any, last) and no PAD.
   */
  @Test
  void noMaskWhenEveryRowHoldsOneDocument() {
    long[][] single = {{4, 20, 21, 22, 23, E}, {18, 24, 25, 26, 27, 28}};
    assertNull(OmniBioTA.AttentionMask.of(TestTensors.ids(single), true));
    assertNull(OmniBioTA.AttentionMask.of(TestTensors.ids(single), false));
    // One row with a second document, or with PAD, needs the mask for the whole micro-batch.
    long[][] split = {{4, 20, 21, 22, 23, E}, {18, 24, E, 26, 27, 28}};
    assertMask(split, new int[][] {{0, 0, 0, 0, 0, 0}, {0, 0, 0, 1, 1, 1}}, true);
    assertNull(OmniBioTA.AttentionMask.of(TestTensors.ids(split), false));
    long[][] padded = {{4, 20, 21, 22, 23, E}, {18, 24, 25, E, P, P}};
    assertMask(padded, new int[][] {{0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 1}}, true);
    assertMask(padded, new int[2][6], false);
    // Length-1 rows are one document too.
    assertNull(OmniBioTA.AttentionMask.of(TestTensors.ids(new long[][] {{E}, {4}}), true));
  }

  /** The mask must allow i -> j exactly when both are in the same document and j is not PAD. */
  private static void assertMask(long[][] rows, int[][] docs, boolean blockDiagonal) {
    assertMask(rows, docs, OmniBioTA.AttentionMask.of(TestTensors.ids(rows), blockDiagonal));
  }

  private static void assertMask(long[][] rows, int[][] docs, Tensor mask) {
    assertNotNull(mask, "a mask is needed");
    int b = rows.length;
    int t = rows[0].length;
    assertArrayEquals(new long[] {b, 1, t, t}, mask.shape());
    Tensor asFloat = mask.to(torch.ScalarType.Float);
    float[] got = TestTensors.floats(asFloat).values();
    for (int r = 0; r < b; r++) {
      for (int i = 0; i < t; i++) {
        for (int j = 0; j < t; j++) {
          boolean expected = (docs[r][i] == docs[r][j] && rows[r][j] != P) || i == j;
          boolean actual = got[(r * t + i) * t + j] != 0;
          assertTrue(
              expected == actual,
              "row " + r + " query " + i + " key " + j + ": expected " + expected);
        }
      }
    }
  }
}
