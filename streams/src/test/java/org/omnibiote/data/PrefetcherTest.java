package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.ActorSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker's data path: requests in, the same micro-batches as TrainingData out, in order. */
class PrefetcherTest {
  @TempDir static Path dir;
  private static ActorSystem system;
  private static TrainingData data;

  @BeforeAll
  static void open() throws Exception {
    system =
        ActorSystem.create(
            "prefetch-test",
            ConfigFactory.parseString("pekko.loglevel = WARNING, pekko.stdout-loglevel = WARNING")
                .withFallback(ConfigFactory.load()));
    IngestOutputs.realIngest(dir);
    data = TrainingData.open(dir, new DataSettings(TrainType.MIXED, false, 64, null, 7));
  }

  @AfterAll
  static void close() {
    system.terminate();
  }

  @Test
  void microBatchesComeOutInRequestOrderEqualToTheSamplesThemselves() throws Exception {
    try (Prefetcher p = new Prefetcher(data, 2, system)) {
      p.request(100, 3, 4); // one share: samples 100..111
      p.request(500, 2, 4); // the next step's share
      long[] firsts = {100, 104, 108, 500, 504};
      for (long first : firsts) {
        TrainingData.MaskedRows got = p.take(30);
        TrainingData.MaskedRows want = data.maskedRows(first, 4);
        assertEquals(4, got.rows());
        assertArrayEquals(want.inputs(), got.inputs(), "micro-batch from sample " + first);
        assertArrayEquals(want.targets(), got.targets());
      }
      assertThrows(TimeoutException.class, () -> p.take(0.2), "nothing more was asked for");
    }
  }

  @Test
  void aConsumerThatDoesNotTakeStopsTheBuildingAFewBatchesAhead() throws Exception {
    AtomicInteger built = new AtomicInteger();
    try (Prefetcher p =
        new Prefetcher(
            (first, rows) -> {
              built.incrementAndGet();
              return data.maskedRows(first, rows);
            },
            2,
            system)) {
      p.request(0, 40, 4);
      Thread.sleep(500);
      int ahead = built.get();
      assertTrue(ahead >= 2 && ahead <= 6, "built ahead of the consumer: " + ahead);
      for (int i = 0; i < 40; i++) {
        assertEquals(4, p.take(30).rows());
      }
      assertEquals(40, built.get());
    }
  }
}
