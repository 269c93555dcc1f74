package org.omnibiote.schedule;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ScheduleTest {
  @Test
  void peakLrScalesWithTheSquareRootOfTheBatchAndTotalItersComeFromTheTokenBudget() {
    Schedule original = Schedule.of(1e-2, 1024, 2048, 20e9); // the original's defaults
    assertEquals(1e-2, original.peakLr(), 1e-15);
    assertEquals(9536, original.totalIters()); // floor(20e9 / 2,097,152)
    assertEquals(1e-2 * Math.sqrt(8) / 32, Schedule.of(1e-2, 8, 256, 1e6).peakLr(), 1e-15);
  }

  @Test
  void lrFactorDecaysLinearlyToZeroAndStaysThere() {
    Schedule s = new Schedule(1e-2, 16, 100);
    assertEquals(1.0, s.factor(0));
    assertEquals(0.75, s.factor(25), 1e-12);
    assertEquals(0.0, s.factor(100));
    assertEquals(0.0, s.factor(150));
    assertEquals(0.6, s.factor(40), 1e-12);
  }

  @Test
  void batchRampGrowsInMicroBatchMultiplesOverTheWarmupPeriod() {
    // B = 32, m = 4, 100 steps, warmup 10%: floor(floor(i * 3.2) / 4) * 4 + 4, at most 32.
    Schedule s = new Schedule(1e-2, 32, 100);
    int[] actual = new int[12];
    for (int i = 0; i < actual.length; i++) {
      actual[i] = s.rampedBatch(i, 4, 0.1);
    }
    // e.g. i=2: floor(6.4)=6 -> 4+4=8; i=7: floor(22.4)=22 -> 20+4=24; i=9: floor(28.8)=28 -> 32.
    assertArrayEquals(new int[] {4, 4, 8, 12, 16, 20, 20, 24, 28, 32, 32, 32}, actual);
  }
}
