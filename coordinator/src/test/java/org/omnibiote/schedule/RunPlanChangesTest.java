package org.omnibiote.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.TrainSettings;

/** An operator's changes during a run: what the plan does from the step they apply. */
class RunPlanChangesTest {
  private static final int BATCH = 16;
  private static final int CTX = 256;

  private static RunPlan plan(long steps) {
    Map<String, Object> m =
        Map.of(
            "batch_size",
            BATCH,
            "mini_batch_size",
            8,
            "ctx_len",
            CTX,
            "token_budget",
            (double) steps * BATCH * CTX,
            "save_freq",
            1e6,
            "test_freq",
            5e5,
            "keep_checkpoints",
            0);
    return new RunPlan(
        TrainSettings.from(
            ConfigFactory.parseMap(m)
                .atPath(TrainSettings.PATH)
                .withFallback(ConfigFactory.load())));
  }

  @Test
  void aLargerTokenBudgetContinuesTheDecayFromTheCurrentFactorToZeroAtTheNewEnd() {
    RunPlan before = plan(100);
    RunPlan after = before.with(new RunPlan.Change(40, "token_budget", 300.0 * BATCH * CTX));
    assertEquals(300, after.totalSteps());
    for (long s = 0; s <= 40; s++) {
      assertEquals(before.lrFactor(s), after.lrFactor(s), 1e-15, "unchanged before the change");
    }
    double f40 = before.lrFactor(40); // 0.6
    assertEquals(0.6, f40, 1e-12);
    assertEquals(f40 * (300 - 41) / 260.0, after.lrFactor(41), 1e-12, "no jump, linear");
    assertEquals(f40 / 2, after.lrFactor(170), 1e-12, "half way down at mid-segment");
    assertEquals(0.0, after.lrFactor(300), 1e-15, "0 at the new end");
  }

  @Test
  void twoChangesChainAndAResumedPlanWithTheSameChangesIsTheSame() {
    List<RunPlan.Change> changes =
        List.of(
            new RunPlan.Change(10, "token_budget", 50.0 * BATCH * CTX),
            new RunPlan.Change(30, "token_budget", 40.0 * BATCH * CTX),
            new RunPlan.Change(30, "save_freq", 2e6));
    RunPlan live = plan(100);
    for (RunPlan.Change c : changes) {
      live = live.with(c);
    }
    RunPlan resumed = plan(100).with(changes);
    for (long s = 0; s <= 40; s++) {
      assertEquals(live.lrFactor(s), resumed.lrFactor(s), 0.0);
    }
    assertEquals(40, resumed.totalSteps());
    assertEquals(0.0, resumed.lrFactor(40), 1e-15);
    double f30 = 0.9 * (50 - 30) / 40.0;
    assertEquals(f30 * (40 - 35) / 10.0, resumed.lrFactor(35), 1e-12);
    assertEquals(1e6, resumed.setting("save_freq", 29), 0.0);
    assertEquals(2e6, resumed.setting("save_freq", 30), 0.0);
    assertTrue(resumed.checkpointDue(30, (long) 2e6 - 1, (long) 2e6));
    assertTrue(!resumed.checkpointDue(30, (long) 1e6 - 1, (long) 1e6), "1e6 is no longer due");
  }

  @Test
  void valuesOutOfRangeAreRefusedWithWhy() {
    RunPlan p = plan(100);
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> p.with(new RunPlan.Change(50, "token_budget", 10.0 * BATCH * CTX)))
            .getMessage()
            .contains("give more than"));
    assertThrows(IllegalArgumentException.class, () -> p.with(new RunPlan.Change(5, "lr", 1)));
    assertThrows(
        IllegalArgumentException.class, () -> p.with(new RunPlan.Change(5, "save_freq", 10)));
    assertThrows(
        IllegalArgumentException.class,
        () -> p.with(new RunPlan.Change(5, "keep_checkpoints", 1.5)));
  }
}
