package org.omnibiote.cli;

/**
 * A command that computes with libtorch in this JVM (encode, quickstart, worker, the benchmarks of
 * the model). {@link Main} loads the natives once before running it (see
 * org.omnibiote.model.TorchNatives); the others, the coordinator among them, never load them.
 */
interface NeedsLibtorch {}
