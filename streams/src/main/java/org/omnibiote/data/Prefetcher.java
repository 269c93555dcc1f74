package org.omnibiote.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;

/**
 * A worker's data path: the scheduler's requests (a share of a step: first global sample,
 * micro-batches) go in without blocking, micro-batches of masked rows come out in order, built
 * ahead on Pekko's blocking dispatcher — at most {@code ahead} of them, so a slow consumer
 * back-pressures the building instead of filling memory. The compute thread takes them with {@link
 * #take}; the actor that feeds requests never waits.
 */
public final class Prefetcher implements AutoCloseable {
  private static final String BLOCKING = "pekko.actor.default-blocking-io-dispatcher";

  private final SourceQueueWithComplete<long[]> requests;
  private final SinkQueueWithCancel<TrainingData.MaskedRows> batches;

  /** What builds a micro-batch: {@link TrainingData#maskedRows} in a worker. */
  @FunctionalInterface
  public interface Builder {
    TrainingData.MaskedRows build(long firstSample, int rows);
  }

  public Prefetcher(TrainingData data, int ahead, ActorSystem system) {
    this(data::maskedRows, ahead, system);
  }

  public Prefetcher(Builder builder, int ahead, ActorSystem system) {
    Pair<SourceQueueWithComplete<long[]>, SinkQueueWithCancel<TrainingData.MaskedRows>> ends =
        Source.<long[]>queue(1024, OverflowStrategy.fail())
            // Building runs in its own island on the blocking dispatcher; the buffer after it
            // (and one-element buffers at the boundaries) bound how far it runs ahead.
            .map(r -> builder.build(r[0], (int) r[1]))
            .addAttributes(ActorAttributes.dispatcher(BLOCKING))
            .async(BLOCKING, 1)
            .buffer(Math.max(1, ahead), OverflowStrategy.backpressure())
            .toMat(
                Sink.<TrainingData.MaskedRows>queue().addAttributes(Attributes.inputBuffer(1, 1)),
                Keep.both())
            .addAttributes(Attributes.inputBuffer(1, 1))
            .run(system);
    this.requests = ends.first();
    this.batches = ends.second();
  }

  /**
   * Asks for the micro-batches of a share: {@code microBatches} of {@code miniBatch} rows from
   * global sample {@code firstSample}. Never blocks.
   */
  public void request(long firstSample, int microBatches, int miniBatch) {
    List<long[]> parts = new ArrayList<>(microBatches);
    for (int i = 0; i < microBatches; i++) {
      parts.add(new long[] {firstSample + (long) i * miniBatch, miniBatch});
    }
    for (long[] p : parts) {
      QueueOfferResult r = requests.offer(p).toCompletableFuture().getNow(null);
      if (r != null && r != QueueOfferResult.enqueued()) {
        throw new IllegalStateException("prefetch request refused: " + r);
      }
    }
  }

  /** The next micro-batch in request order, waiting at most {@code timeoutSeconds}. */
  public TrainingData.MaskedRows take(double timeoutSeconds)
      throws InterruptedException, TimeoutException {
    CompletableFuture<Optional<TrainingData.MaskedRows>> next =
        batches.pull().toCompletableFuture();
    try {
      return next.get((long) (timeoutSeconds * 1000), TimeUnit.MILLISECONDS)
          .orElseThrow(() -> new IllegalStateException("the prefetch stream has ended"));
    } catch (ExecutionException e) {
      if (e.getCause() instanceof org.omnibiote.UserError u) {
        // Damaged data (a shard that fails its SHA-256 check) is the user's to repair: one line.
        throw new org.omnibiote.UserError(u.getMessage(), u);
      }
      throw new IllegalStateException(
          "building a micro-batch failed: " + e.getCause().getMessage(), e.getCause());
    }
  }

  @Override
  public void close() {
    requests.complete();
    batches.cancel();
  }
}
