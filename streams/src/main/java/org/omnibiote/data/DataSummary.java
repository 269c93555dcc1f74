package org.omnibiote.data;

import java.util.List;

/**
 * What a run's training data holds, per dataset, and how far a sample counter has gone through each
 * dataset's epoch: what a console shows without keeping the shards open.
 *
 * @param genbankNum the genbank share of the samples is genbankNum / genbankDen (as {@link
 *     SampleMix})
 */
public record DataSummary(List<Dataset> datasets, long genbankNum, long genbankDen) {

  /** One dataset of the run: its shards, packed rows, tokens and documents. */
  public record Dataset(
      String name,
      int trainShards,
      int valShards,
      long trainRows,
      long valRows,
      long tokens,
      long documents) {}

  /** Samples of {@code dataset} among the run's first {@code samples} samples. */
  public long drawn(String dataset, long samples) {
    long genbank =
        (samples / genbankDen) * genbankNum + (samples % genbankDen) * genbankNum / genbankDen;
    return dataset.equals(org.omnibiote.shards.Dataset.GENBANK.folder())
        ? genbank
        : samples - genbank;
  }
}
