package org.omnibiote.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The console's chart history: bounded however long the run, thinned evenly, newest kept. */
class MetricHistoryTest {

  @Test
  void aMillionStepsKeepAtMostTheLimitEvenlySpreadWithTheNewest() {
    MetricHistory h = new MetricHistory(MetricHistory.LIMIT);
    int steps = 1_000_000;
    for (int s = 1; s <= steps; s++) {
      h.add(Map.of("step", (long) s));
      assertTrue(h.size() < MetricHistory.LIMIT, "bounded at step " + s);
    }
    List<Map<String, Object>> all = h.since(0).points();
    assertTrue(all.size() >= MetricHistory.LIMIT / 2, "still dense: " + all.size());
    assertEquals(1L, all.get(0).get("step"), "the start is kept");
    assertEquals((long) steps, all.get(all.size() - 1).get("step"), "the newest is shown");
    long stride = h.since(0).stride();
    for (int i = 1; i < all.size() - 1; i++) {
      long gap = (Long) all.get(i).get("step") - (Long) all.get(i - 1).get("step");
      assertEquals(stride, gap, "even spacing at " + i);
    }
  }

  @Test
  void sinceGivesOnlyNewerPointsBySequenceNumber() {
    MetricHistory h = new MetricHistory(8);
    for (int s = 1; s <= 5; s++) {
      h.add(Map.of("step", (long) s));
    }
    MetricHistory.Slice first = h.since(0);
    assertEquals(5, first.points().size());
    h.add(Map.of("step", 6L));
    MetricHistory.Slice next = h.since(first.last());
    assertEquals(1, next.points().size());
    assertEquals(6L, next.points().get(0).get("step"));
  }
}
