package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.omnibiote.metrics.Flops;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

/** Flops' parameter count against a real OmniBioTA's state_dict. */
class FlopsParameterCountTest {
  private static final OmniBioTAConfig TINY = new OmniBioTAConfig(10, 4, 1, 2, 3, 0.0);

  @Test
  void originalCountIsSixTimesTheParametersButWtePlusTwelveLnt() {
    OmniBioTA model = new OmniBioTA(TINY);
    long withoutWte =
        model.stateDict().entrySet().stream()
            .filter(e -> !e.getKey().equals("transformer.wte.weight"))
            .mapToLong(e -> e.getValue().numel())
            .sum();
    assertEquals(244, withoutWte);
    assertEquals((double) withoutWte, Flops.parametersWithoutWte(TINY));
    assertEquals(6 * 244 + 12 * 1 * 4 * 3, Flops.originalFlopsPerToken(TINY));
  }
}
