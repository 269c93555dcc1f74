package org.omnibiote.settings;

/** How the masked-token losses of a step's micro-batches are weighed (--loss_norm). */
public enum LossNorm {
  /**
   * The mean over every masked token of the step: the same loss and gradient as one big batch,
   * whatever the split into micro-batches or workers (the default).
   */
  GLOBAL,
  /**
   * The original's: each micro-batch's masked-token mean divided by the number of micro-batches of
   * the step, so a micro-batch with few masked tokens weighs as much as a full one.
   */
  ORIGINAL;

  /** The flag's value: global or original. */
  public String flag() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
