package org.omnibiote.cli;

import org.omnibiote.model.TorchNatives;

/**
 * A command that computes with libtorch in this JVM (encode, quickstart, worker, the benchmarks of
 * the model, doctor). {@link Main} loads the natives once before running it (see
 * org.omnibiote.model.TorchNatives); the others, the coordinator among them, never load them.
 */
interface NeedsLibtorch {
  /**
   * libtorch cannot load on this host. By default the command does not run and the user gets the
   * one line of {@code e}; a command that reports on the host itself (doctor) takes it and runs.
   *
   * @return whether the command runs anyway
   */
  default boolean runsWithoutLibtorch(TorchNatives.Unavailable e) {
    return false;
  }
}
