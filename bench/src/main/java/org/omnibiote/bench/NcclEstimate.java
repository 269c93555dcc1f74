package org.omnibiote.bench;

import org.omnibiote.metrics.Flops;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * The cost of data-parallel gradient all-reduce on one node of GPUs with NCCL, as a formula
 * (nothing here is measured). Per optimiser step and GPU:
 *
 * <ul>
 *   <li>gradient bytes {@code G = P x b} (P every parameter, wte included; b = 4 for fp32 gradients
 *       as ours, 2 for bf16 as the original's pure-bf16 run);
 *   <li>ring all-reduce time {@code T_comm = buckets x latency + G x 2(n-1)/n / busbw} (busbw as
 *       nccl-tests reports it: algbw x 2(n-1)/n);
 *   <li>compute {@code C = FLOPs of the step / (MFU x peak)} (or given), with the step's FLOPs from
 *       {@link Flops#perStepFlops} for rows x T tokens, 15% of them masked;
 *   <li>overlap window {@code W = 2/3 x C / k}: only the last of k micro-batches syncs, and
 *       backward is about 2/3 of forward + backward;
 *   <li>exposed {@code E = max(T_last, T_comm - phi x W)}: the Reducer hides at most phi of the
 *       window, and never the last bucket (wte's gradient, ready only when backward ends).
 * </ul>
 *
 * Step time {@code C + E}; overhead fraction {@code E / (C + E)}; n-GPU speed-up {@code n x C / (C
 * + E)}.
 */
public final class NcclEstimate {

  /** The assumptions, each a flag of {@code bench distributed}. */
  public record Assumptions(
      int gpus,
      double busGbps,
      double latencyMicros,
      double peakTflops,
      double mfu,
      double overlap,
      long bucketBytes) {}

  /** One estimate: a model, its per-GPU rows and accumulation, the gradient width. */
  public record Estimate(
      String label,
      OmniBioTAConfig model,
      long rowsPerGpu,
      int microBatches,
      int bytesPerGradient,
      long parameters,
      double gradientBytes,
      int buckets,
      double commSeconds,
      double lastBucketSeconds,
      double computeSeconds,
      double windowSeconds,
      double exposedSeconds) {
    public double overheadFraction() {
      return exposedSeconds / (computeSeconds + exposedSeconds);
    }

    public double speedup(int gpus) {
      return gpus * computeSeconds / (computeSeconds + exposedSeconds);
    }
  }

  private NcclEstimate() {}

  /** Every parameter: wte (V x N) plus what {@link Flops#parametersWithoutWte} counts. */
  public static long parameters(OmniBioTAConfig c) {
    return Math.round(Flops.parametersWithoutWte(c)) + (long) c.vocabSize() * c.nEmbd();
  }

  /**
   * The estimate for {@code model} trained with {@code rowsPerGpu} rows of ctx_len per GPU and step
   * in {@code microBatches} micro-batches; {@code computeSeconds} null to derive it from the FLOPs,
   * MFU and peak.
   */
  public static Estimate estimate(
      String label,
      OmniBioTAConfig model,
      long rowsPerGpu,
      int microBatches,
      int bytesPerGradient,
      Double computeSeconds,
      Assumptions a) {
    long p = parameters(model);
    double g = (double) p * bytesPerGradient;
    // DDP's buckets: at least bucketBytes each, the last one holding wte (V x N) at least.
    double wte = (double) model.vocabSize() * model.nEmbd() * bytesPerGradient;
    int buckets =
        (int) Math.max(1, Math.min(Math.ceil((g - wte) / a.bucketBytes()) + 1, (double) p));
    double ring = 2.0 * (a.gpus() - 1) / a.gpus() / (a.busGbps() * 1e9);
    double latency = a.latencyMicros() * 1e-6;
    double comm = buckets * latency + g * ring;
    double last = latency + wte * ring;
    double compute =
        computeSeconds != null
            ? computeSeconds
            : Flops.perStepFlops(model, rowsPerGpu, Math.round(0.15 * rowsPerGpu * model.ctxLen()))
                / (a.mfu() * a.peakTflops() * 1e12);
    double window = 2.0 / 3.0 * compute / microBatches;
    double exposed = Math.max(last, comm - a.overlap() * window);
    return new Estimate(
        label,
        model,
        rowsPerGpu,
        microBatches,
        bytesPerGradient,
        p,
        g,
        buckets,
        comm,
        last,
        compute,
        window,
        exposed);
  }

  /**
   * The smallest busbw (GB/s) at which {@link #estimate}'s overhead fraction is at most {@code
   * fraction}, other assumptions unchanged; NaN when no bandwidth gets there (latency or the
   * compute window alone exceed it).
   */
  public static double busGbpsFor(
      double fraction,
      OmniBioTAConfig model,
      long rowsPerGpu,
      int microBatches,
      int bytesPerGradient,
      Double computeSeconds,
      Assumptions a) {
    double lo = 1e-3;
    double hi = 1e6;
    if (overhead(hi, model, rowsPerGpu, microBatches, bytesPerGradient, computeSeconds, a)
        > fraction) {
      return Double.NaN;
    }
    for (int i = 0; i < 100; i++) {
      double mid = Math.sqrt(lo * hi); // bisection in log space: the range spans 9 decades
      if (overhead(mid, model, rowsPerGpu, microBatches, bytesPerGradient, computeSeconds, a)
          > fraction) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return hi;
  }

  private static double overhead(
      double busGbps,
      OmniBioTAConfig model,
      long rowsPerGpu,
      int microBatches,
      int bytesPerGradient,
      Double computeSeconds,
      Assumptions a) {
    Assumptions at =
        new Assumptions(
            a.gpus(),
            busGbps,
            a.latencyMicros(),
            a.peakTflops(),
            a.mfu(),
            a.overlap(),
            a.bucketBytes());
    return estimate("", model, rowsPerGpu, microBatches, bytesPerGradient, computeSeconds, at)
        .overheadFraction();
  }
}
