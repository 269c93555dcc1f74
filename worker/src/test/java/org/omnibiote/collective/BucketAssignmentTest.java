package org.omnibiote.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class BucketAssignmentTest {
  @Test
  void bucketsTakeParametersInReverseOrderUntilTheCapIsReached() {
    List<List<Integer>> b = GradientReducer.buckets(List.of(10L, 50L, 30L, 30L, 5L), 40);
    assertEquals(List.of(List.of(4, 3, 2), List.of(1), List.of(0)), b);
  }

  @Test
  void oneBucketWhenEverythingFitsUnderTheCap() {
    assertEquals(List.of(List.of(2, 1, 0)), GradientReducer.buckets(List.of(1L, 2L, 3L), 1 << 20));
  }
}
