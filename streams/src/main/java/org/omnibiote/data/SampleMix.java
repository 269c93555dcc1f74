package org.omnibiote.data;

import org.omnibiote.shards.Dataset;

/**
 * Which dataset global sample i comes from, and which of that dataset's samples it is, as a pure
 * function of i. With genbank share g = num/den, sample i is genbank iff floor((i+1)g) > floor(ig);
 * it is then genbank sample floor(ig), else uniref100 sample i - floor(ig). Over any window of
 * consecutive samples the genbank count is within 1 of g times the window, so every batch (of any
 * size, cut anywhere) has the mix up to one row.
 *
 * <p>The original instead fills each batch with int(g * batch) genbank rows followed by the rest
 * from uniref100. Both give the same fraction; ours does not depend on the batch size, the batch
 * ramp or the number of workers, which is what lets a run resume from a sample counter alone.
 */
final class SampleMix {
  /** Sample i of the run is sample {@code index} of {@code dataset}. */
  record Pick(Dataset dataset, long index) {}

  private final long num;
  private final long den;

  SampleMix(TrainType type) {
    this.num = type.genbankNum();
    this.den = type.genbankDen();
  }

  Pick pick(long sample) {
    if (sample < 0) {
      throw new IllegalArgumentException("negative sample index " + sample);
    }
    long before = genbankBefore(sample);
    if (genbankBefore(sample + 1) > before) {
      return new Pick(Dataset.GENBANK, before);
    }
    return new Pick(Dataset.UNIREF100, sample - before);
  }

  /** How many of samples [0, sample) come from {@code dataset}. */
  long before(Dataset dataset, long sample) {
    long genbank = genbankBefore(sample);
    return dataset == Dataset.GENBANK ? genbank : sample - genbank;
  }

  /** floor(i * num / den) without overflow for any i below 2^62. */
  private long genbankBefore(long i) {
    return (i / den) * num + (i % den) * num / den;
  }
}
