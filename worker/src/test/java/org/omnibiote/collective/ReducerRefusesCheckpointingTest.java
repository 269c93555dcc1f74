package org.omnibiote.collective;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.omnibiote.model.OmniBioTA;

/** A checkpointed model would lose its checkpointed blocks' gradients: refused, with the reason. */
class ReducerRefusesCheckpointingTest {
  @Test
  void aModelWithActivationCheckpointingIsRefused() throws Exception {
    OmniBioTA model = RankMain.model();
    model.setCheckpointFreq(1);
    CollectiveGroup.Rendezvous at =
        CollectiveGroup.Rendezvous.local(
            "127.0.0.1", CollectiveProcesses.freePort(), 0, Duration.ofSeconds(5));
    try (CollectiveGroup group = CollectiveGroup.open(at, 0, 0, 1)) {
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> new GradientReducer(model, group));
      assertTrue(e.getMessage().contains("checkpoint_freq=1"), e.getMessage());
    }
  }
}
