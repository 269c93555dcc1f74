package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A cluster node started with wrong seed nodes says so and exits with the user-error code. */
class ClusterJvmTest {

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aWorkerWhoseSeedNodeIsNotThereSaysSoAndExitsWithTheUserErrorCode() throws Exception {
    String seed = "127.0.0.1:" + NodeProcess.freePort();
    try (NodeProcess worker =
        new NodeProcess(
            "worker",
            List.of("-Dpekko.cluster.shutdown-after-unsuccessful-join-seed-nodes=3s"),
            "worker",
            "--port",
            "0",
            "--seed-nodes",
            seed)) {
      worker.await(
          l ->
              l.startsWith("error: could not join the cluster through seed nodes")
                  && l.contains(seed),
          "the join error",
          40);
      assertEquals(2, worker.exitCode(10));
    }
  }
}
