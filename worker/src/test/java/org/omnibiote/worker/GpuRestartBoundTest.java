package org.omnibiote.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

/** When a GPU worker exits for a fresh process after failed world generations. */
class GpuRestartBoundTest {

  @Test
  void aWorkerRestartsOnceTheFailedGenerationsReachTheBound() {
    assertFalse(Worker.restartDue(0, 4));
    assertFalse(Worker.restartDue(3, 4));
    assertTrue(Worker.restartDue(4, 4));
    assertTrue(Worker.restartDue(5, 4), "a count past the bound (two workers of one process)");
  }

  @Test
  void aBoundOfZeroNeverRestarts() {
    assertFalse(Worker.restartDue(1_000, 0));
  }

  @Test
  void theShippedConfigBoundsAtFourAndTheCodeAsksForARestart() {
    Worker.Settings s = WorkerNode.settings(ConfigFactory.load());
    assertEquals(4, s.gpuRestartAfterFailedGenerations());
    assertEquals(75, Worker.RESTART_EXIT_CODE, "EX_TEMPFAIL: neither success (0) nor refusal (2)");
  }
}
