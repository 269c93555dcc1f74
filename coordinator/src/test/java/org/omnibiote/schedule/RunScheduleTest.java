package org.omnibiote.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.TrainSettings;

class RunScheduleTest {
  /** 6 steps of 8 rows x 16 tokens; evaluate every 256 tokens, checkpoint every 384. */
  private static RunPlan plan() {
    Map<String, Object> m =
        Map.of(
            "batch_size",
            8,
            "mini_batch_size",
            2,
            "ctx_len",
            16,
            "token_budget",
            6.0 * 8 * 16,
            "test_freq",
            256.0,
            "save_freq",
            384.0,
            "base_dir",
            "x");
    return new RunPlan(
        TrainSettings.from(
            ConfigFactory.parseMap(m)
                .atPath(TrainSettings.PATH)
                .withFallback(ConfigFactory.load())));
  }

  @Test
  void ordersSayWhenToEvaluateAndCheckpointAndTheLastStepWritesTheFinalOne() {
    RunSchedule s = new RunSchedule(plan(), 2, "m", RunSchedule.Counters.START, 0);
    List<String> seen = new ArrayList<>();
    while (!s.finished()) {
      RunSchedule.StepOrder o = s.next(3);
      seen.add(
          o.step()
              + (o.evaluate() ? "e" : "")
              + (o.checkpoint() == null ? "" : ":" + o.checkpoint()));
      assertEquals(8, o.shares().stream().mapToInt(StepSplit.Share::rows).sum());
      s.commit(o);
    }
    assertEquals(List.of("0", "1e", "2:m_384", "3e", "4", "5e:m"), seen);
    assertEquals(new RunSchedule.Counters(6, 768, 48), s.counters());
    assertThrows(IllegalStateException.class, () -> s.next(1));
  }

  @Test
  void anAbortedStepIsRetriedWithTheSameSamplesInANewGeneration() {
    RunSchedule s = new RunSchedule(plan(), 2, "m", RunSchedule.Counters.START, 0);
    s.commit(s.next(2));
    RunSchedule.StepOrder failed = s.next(2);
    s.abort(failed);
    assertEquals(1, s.generation());
    RunSchedule.StepOrder retry = s.next(1);
    assertEquals(failed.step(), retry.step());
    assertEquals(failed.shares().get(0).firstSample(), retry.shares().get(0).firstSample());
    assertEquals(1, retry.shares().size());
    assertThrows(
        IllegalStateException.class, () -> s.commit(failed), "a stale generation cannot commit");
    s.commit(retry);
    assertEquals(16, s.counters().samples());
    assertFalse(s.finished());
    assertEquals("m_384", s.next(1).checkpoint(), "step 2 crosses 384 tokens");
    assertTrue(s.next(1).shares().get(0).rows() == 8);
  }
}
