package org.omnibiote.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class StepSplitTest {

  @Test
  void everySampleOfTheStepGoesToExactlyOneRankInOrder() {
    for (int world = 1; world <= 5; world++) {
      for (int micro = 0; micro <= 11; micro++) {
        List<StepSplit.Share> shares = StepSplit.split(1000, micro * 4, 4, world);
        assertEquals(world, shares.size());
        long next = 1000;
        int rows = 0;
        for (StepSplit.Share s : shares) {
          assertEquals(next, s.firstSample(), "contiguous, in rank order");
          assertEquals(s.microBatches() * 4, s.rows());
          next += s.rows();
          rows += s.rows();
        }
        assertEquals(micro * 4, rows, "the global batch is exact for world " + world);
        int most = shares.stream().mapToInt(StepSplit.Share::microBatches).max().orElseThrow();
        int least = shares.stream().mapToInt(StepSplit.Share::microBatches).min().orElseThrow();
        assertEquals(micro % world == 0 ? 0 : 1, most - least, "balanced to one micro-batch");
      }
    }
  }

  @Test
  void sevenMicroBatchesOnThreeRanksAreThreeTwoTwo() {
    List<StepSplit.Share> shares = StepSplit.split(0, 28, 4, 3);
    assertEquals(
        List.of(
            new StepSplit.Share(0, 0, 3, 12),
            new StepSplit.Share(1, 12, 2, 8),
            new StepSplit.Share(2, 20, 2, 8)),
        shares);
  }

  @Test
  void rowsThatAreNotWholeMicroBatchesAreABug() {
    assertThrows(IllegalArgumentException.class, () -> StepSplit.split(0, 10, 4, 2));
  }
}
