package org.omnibiote.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.omnibiote.UserError;
import org.omnibiote.bench.DistributedBenchRank;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote bench distributed}: what data parallelism costs on this machine, measured with
 * our parts (Gloo, the c10d Reducer) in separate JVMs, and what it would cost on 8 GPUs with NCCL
 * by formula.
 */
@Command(
    name = "distributed",
    mixinStandardHelpOptions = true,
    description = {
      "Data-parallel step cost, measured in one run with real rank JVMs on 127.0.0.1: 1 worker"
          + " (all cores) and 2 workers (cores split) computing the same per-worker share; for 2"
          + " workers the step with no communication, with the gradient all-reduce after backward"
          + " (no overlap) and with the c10d Reducer overlapping it with backward (as training"
          + " runs); and a raw Gloo all-reduce of the same gradient bytes in the same world.",
      "Prints step times, tokens/s, the time in all-reduce with and without overlap, the"
          + " communication overhead fraction, the Reducer's all-reduce GB/s against raw Gloo's,"
          + " and an estimate for 8 GPUs per node with NCCL (its assumptions printed).",
      "On 2 cores, 2 workers cannot be faster than 1: each has half the cores."
    })
final class BenchDistributedCommand implements Callable<Integer> {

  @Option(names = "--n_layer", defaultValue = "4", description = "Blocks (default: ${DEFAULT-VALUE}).")
  int nLayer;

  @Option(names = "--n_embd", defaultValue = "256", description = "Width (default: ${DEFAULT-VALUE}).")
  int nEmbd;

  @Option(names = "--n_head", defaultValue = "8", description = "Heads (default: ${DEFAULT-VALUE}).")
  int nHead;

  @Option(names = "--ctx_len", defaultValue = "256", description = "Tokens per row (default: ${DEFAULT-VALUE}).")
  int ctxLen;

  @Option(names = "--vocab", defaultValue = "65536", description = "Vocabulary (default: ${DEFAULT-VALUE}, the original's).")
  int vocab;

  @Option(names = "--mini_batch_size", defaultValue = "4", description = "Rows per micro-batch (default: ${DEFAULT-VALUE}).")
  int mini;

  @Option(names = "--micro-batches", defaultValue = "2", description = "Micro-batches per worker per step (default: ${DEFAULT-VALUE}).")
  int micro;

  @Option(names = "--steps", defaultValue = "5", description = "Timed steps per mode; the median is reported (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--warmup", defaultValue = "2", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--gpus", defaultValue = "8", description = "GPUs per node for the NCCL estimate (default: ${DEFAULT-VALUE}).")
  int gpus;

  @Option(names = "--gpu-busbw-gbps", defaultValue = "150",
      description = "NCCL all-reduce bus bandwidth assumed (default: ${DEFAULT-VALUE} GB/s, NVLink A100 class, as nccl-tests report).")
  double busbw;

  @Option(names = "--gpu-tflops", defaultValue = "312", description = "Peak bf16 TFLOP/s per GPU assumed (default: ${DEFAULT-VALUE}, A100).")
  double tflops;

  @Option(names = "--gpu-mfu", defaultValue = "0.4", description = "Model FLOPs utilisation assumed (default: ${DEFAULT-VALUE}).")
  double mfu;

  @Override
  public Integer call() throws Exception {
    if (steps < 1 || warmup < 0 || micro < 1 || mini < 1 || nEmbd % nHead != 0) {
      throw new UserError("--steps >= 1, --warmup >= 0, --micro-batches >= 1, --mini_batch_size >= 1,"
          + " and --n_embd divisible by --n_head, please");
    }
    int cores = Runtime.getRuntime().availableProcessors();
    System.err.printf("bench distributed: 1 worker, %d + %d steps ...%n", warmup, steps);
    Map<String, Double> one = world(1, cores, "local");
    System.err.printf("bench distributed: 2 workers, 4 modes of %d + %d steps ...%n", warmup, steps);
    Map<String, Double> two = world(2, Math.max(1, cores / 2), "local,after,overlap,raw");
    report(cores, one, two);
    return 0;
  }

  /** Runs a world of {@code size} rank JVMs and returns rank 0's RESULT lines. */
  private Map<String, Double> world(int size, int threads, String modes) throws IOException, InterruptedException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    List<Process> ranks = new ArrayList<>();
    for (int r = 0; r < size; r++) {
      ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx4g", "-cp", System.getProperty("java.class.path"), DistributedBenchRank.class.getName(),
          Integer.toString(r), Integer.toString(size), Integer.toString(port), Integer.toString(nLayer),
          Integer.toString(nEmbd), Integer.toString(nHead), Integer.toString(ctxLen), Integer.toString(vocab),
          Integer.toString(mini), Integer.toString(micro), Integer.toString(steps), Integer.toString(warmup), modes);
      pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
      pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
      pb.environment().putIfAbsent("OPENBLAS_THREAD_TIMEOUT", "4");
      pb.redirectErrorStream(true);
      ranks.add(pb.start());
    }
    Map<String, Double> results = new HashMap<>();
    StringBuilder log = new StringBuilder();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(ranks.get(0).getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        log.append(line).append('\n');
        String[] f = line.split(" ");
        if (f.length == 3 && f[0].equals("RESULT")) {
          results.put(f[1], Double.parseDouble(f[2]));
        }
      }
    }
    for (Process p : ranks) {
      if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IllegalStateException("a benchmark rank of a world of " + size + " failed:\n" + log);
      }
    }
    return results;
  }

  private void report(int cores, Map<String, Double> one, Map<String, Double> two) {
    double tokens = one.get("tokens_per_step");
    double bytes = one.get("grad_bytes");
    double t1 = one.get("local_ms");
    double local = two.get("local_ms");
    double after = two.get("after_ms");
    double overlap = two.get("overlap_ms");
    double raw = two.get("raw_ms");
    double commNoOverlap = Math.max(after - local, 1e-9);
    double exposed = Math.max(overlap - local, 0);
    System.out.printf(Locale.ROOT, "model L%d N%d H%d T%d V%d: %.1f M parameters, %.1f MB of fp32 gradients;"
        + " per worker per step %d micro-batches x %d rows = %.0f tokens%n", nLayer, nEmbd, nHead, ctxLen,
        vocab, bytes / 4 / 1e6, bytes / 1e6, micro, mini, tokens);
    System.out.printf(Locale.ROOT, "1 worker  (%d threads):  step %8.1f ms, %,8.0f tokens/s%n", cores, t1, tokens / t1 * 1e3);
    System.out.printf(Locale.ROOT, "2 workers (%d thread each): step %8.1f ms, %,8.0f tokens/s (overlapped all-reduce;"
        + " each worker trains its own share, 2x the tokens of one)%n", Math.max(1, cores / 2), overlap, 2 * tokens / overlap * 1e3);
    System.out.printf(Locale.ROOT, "  2 workers, no communication:          %8.1f ms%n", local);
    System.out.printf(Locale.ROOT, "  2 workers, all-reduce after backward: %8.1f ms  -> all-reduce %.1f ms%n", after, commNoOverlap);
    System.out.printf(Locale.ROOT, "  2 workers, c10d Reducer (overlap):    %8.1f ms  -> exposed all-reduce %.1f ms;"
        + " overlap hides %.0f%% of it%n", overlap, exposed, 100 * (1 - exposed / commNoOverlap));
    System.out.printf(Locale.ROOT, "communication overhead: %.1f%% of the 2-worker step with overlap, %.1f%% without%n",
        100 * exposed / overlap, 100 * commNoOverlap / after);
    double reducerGbps = bytes / (commNoOverlap / 1e3) / 1e9;
    double rawGbps = bytes / (raw / 1e3) / 1e9;
    System.out.printf(Locale.ROOT, "all-reduce of %.1f MB: after backward %.2f GB/s vs raw Gloo %.2f GB/s (%.1f ms) in"
        + " the same run: ratio %.2f; bus bandwidth (x 2(n-1)/n = 1 for 2 ranks) the same%n",
        bytes / 1e6, reducerGbps, rawGbps, raw, reducerGbps / rawGbps);
    System.out.printf(Locale.ROOT, "c10d Reducer: %.1f MB in %.1f ms of exposed all-reduce = %.2f GB/s effective"
        + " (%.2fx raw Gloo)%n", bytes / 1e6, exposed, exposed > 0 ? bytes / (exposed / 1e3) / 1e9 : Double.POSITIVE_INFINITY,
        exposed > 0 ? (bytes / (exposed / 1e3) / 1e9) / rawGbps : Double.POSITIVE_INFINITY);
    System.out.printf(Locale.ROOT, "2 workers vs 1 on %d cores: %.2fx the tokens/s. The machine has no more cores for"
        + " the second worker: any gain is one thread per process working better than %d threads in one;"
        + " the communication numbers above are the cost data parallelism adds.%n",
        cores, (2 * tokens / overlap) / (tokens / t1), cores);
    nccl();
  }

  /** The estimate for 8 GPUs per node with NCCL, for the original's default model and batch. */
  private void nccl() {
    int l = 8;
    int n = 1024;
    int t = 2048;
    int v = 65_536;
    int batch = 1024;
    int miniBatch = 8;
    double p = 12.0 * l * n * n + 13.0 * l * n + 2 * n; // blocks and final LayerNorm, wte not counted
    double params = p + (double) v * n;
    double gradBytes = params * 4;
    double flopsPerToken = 6 * p + 12.0 * l * n * t; // the recipe's count
    double tokens = (double) batch * t;
    double compute = flopsPerToken * tokens / (gpus * tflops * 1e12 * mfu);
    double comm = gradBytes * 2 * (gpus - 1) / gpus / (busbw * 1e9);
    int microPerGpu = batch / miniBatch / gpus;
    double lastBackward = compute / microPerGpu * 2 / 3; // backward is ~2/3 of a micro-batch
    double exposed = Math.max(0, comm - lastBackward);
    System.out.printf(Locale.ROOT, "%nestimate, %d GPUs per node with NCCL, the original's default run (L%d N%d T%d"
        + " V%d, batch %d of mini_batch %d, fp32 gradients):%n", gpus, l, n, t, v, batch, miniBatch);
    System.out.printf(Locale.ROOT, "  gradient bytes per step  G = 4 x %.0f M params = %.0f MB (one all-reduce per step:"
        + " accumulation does not sync)%n", params / 1e6, gradBytes / 1e6);
    System.out.printf(Locale.ROOT, "  all-reduce time          G x 2(n-1)/n / busbw = %.0f MB x %.2f / %.0f GB/s = %.1f ms%n",
        gradBytes / 1e6, 2.0 * (gpus - 1) / gpus, busbw, comm * 1e3);
    System.out.printf(Locale.ROOT, "  compute per step         (6P + 12LNT) x tokens / (GPUs x peak x MFU) = %.3g FLOP"
        + " / (%d x %.0f TFLOP/s x %.2f) = %.0f ms%n", flopsPerToken * tokens, gpus, tflops, mfu, compute * 1e3);
    System.out.printf(Locale.ROOT, "  overlap                  the Reducer hides it behind the last micro-batch's backward"
        + " (%d micro-batches per GPU, ~2/3 of one is backward: %.0f ms)%n", microPerGpu, lastBackward * 1e3);
    System.out.printf(Locale.ROOT, "  exposed communication    max(0, %.1f - %.0f) ms = %.1f ms: overhead %.2f%% of the step"
        + " (%.2f%% with no overlap)%n", comm * 1e3, lastBackward * 1e3, exposed * 1e3,
        100 * exposed / (compute + exposed), 100 * comm / (compute + comm));
    System.out.println("  assumptions: ring all-reduce at the stated bus bandwidth (nccl-tests' busbw), one node,"
        + " compute at the stated MFU, fp32 gradients (bf16 gradients halve G); change them with --gpus,"
        + " --gpu-busbw-gbps, --gpu-tflops, --gpu-mfu.");
  }
}
