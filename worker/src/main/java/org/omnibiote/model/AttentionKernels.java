package org.omnibiote.model;

/**
 * Which computation a block's attention takes, by device, dropout and mask: a pure decision, so a
 * CPU host tests it (AttentionKernelsTest) even for the CUDA cases it cannot run.
 *
 * <table>
 *   <caption>The path and libtorch's kernel</caption>
 *   <tr><th>device</th><th>dropout</th><th>mask</th><th>path</th><th>kernel</th></tr>
 *   <tr><td>CPU</td><td>off</td><td>any</td><td>SDPA</td><td>math (CPU flash is off:
 *       org.omnibiote.train.Devices)</td></tr>
 *   <tr><td>CPU</td><td>on</td><td>any</td><td>cheap-dropout math</td><td>our matmuls, softmax
 *       and {@link OmniBioTA#keepScale} (SDPA's own dropout was not faster here)</td></tr>
 *   <tr><td>CUDA</td><td>any</td><td>none</td><td>SDPA (dropout_p when on)</td><td>flash in
 *       bf16 (fp16); memory-efficient in fp32 or with flash disabled</td></tr>
 *   <tr><td>CUDA</td><td>any</td><td>PAD / block-diagonal</td><td>SDPA (dropout_p when on)</td>
 *       <td>memory-efficient</td></tr>
 * </table>
 *
 * <p>Why: libtorch's CUDA flash kernel takes no attention mask at all (only {@code is_causal}) and
 * needs fp16 or bf16; its memory-efficient kernel takes an arbitrary mask (SDPA turns the boolean
 * mask into an additive bias of 0 and -inf and pads it to its alignment), fp32 too, and both draw
 * dropout inside the kernel (Philox), so the [B, H, T, T] probabilities are never written out. SDPA
 * tries flash, then memory-efficient, then math (libtorch's default priority order), taking the
 * first whose constraints the inputs meet; the table is that order applied to our inputs (head
 * sizes a multiple of 8 and at most 256, q, k, v contiguous in the head dimension). On the CPU
 * SDPA's dropout runs the math kernel with a Bernoulli draw per element and was not faster than
 * ours (AttentionDropoutTiming; docs/training.md, "Attention kernels"), so the CPU path is
 * unchanged.
 */
public final class AttentionKernels {
  private AttentionKernels() {}

  /** How {@code OmniBioTA.Attention} computes attention. */
  public enum Path {
    /** torch's scaled_dot_product_attention without dropout. */
    SDPA,
    /** torch's scaled_dot_product_attention with dropout_p: fused on CUDA. */
    SDPA_DROPOUT,
    /** Our math path with {@link OmniBioTA#keepScale}'s dropout (the CPU's fastest). */
    CHEAP_DROPOUT_MATH
  }

  /** The kernel that runs the attention (libtorch's choice for the SDPA paths). */
  public enum Kernel {
    MATH,
    FLASH,
    MEMORY_EFFICIENT,
    CHEAP_DROPOUT_MATH
  }

  /**
   * The path for a forward pass on CUDA or not, with dropout active (training, p &gt; 0) or not.
   */
  public static Path path(boolean cuda, boolean dropout) {
    if (!dropout) {
      return Path.SDPA;
    }
    return cuda ? Path.SDPA_DROPOUT : Path.CHEAP_DROPOUT_MATH;
  }

  /**
   * The kernel that {@link #path} leads to: with or without an attention {@code mask}, with the
   * matmuls in bf16/fp16 ({@code reducedPrecision}) or fp32, and whether SDPA may use flash (off
   * with --disable_flash).
   */
  public static Kernel kernel(
      boolean cuda, boolean dropout, boolean mask, boolean reducedPrecision, boolean flashEnabled) {
    if (!cuda) {
      return dropout ? Kernel.CHEAP_DROPOUT_MATH : Kernel.MATH;
    }
    return !mask && reducedPrecision && flashEnabled ? Kernel.FLASH : Kernel.MEMORY_EFFICIENT;
  }

  /** One line for the log: the kernels a CUDA forward takes without and with a mask. */
  public static String describeCuda(
      boolean dropout, boolean reducedPrecision, boolean flashEnabled) {
    return String.format(
        "attention on CUDA: SDPA%s, %s kernel without a mask, %s with the PAD/block-diagonal mask",
        dropout ? " with dropout_p" : "",
        name(kernel(true, dropout, false, reducedPrecision, flashEnabled)),
        name(kernel(true, dropout, true, reducedPrecision, flashEnabled)));
  }

  private static String name(Kernel k) {
    return k.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
