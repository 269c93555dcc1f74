package org.omnibiote.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * Measures the peak resident memory of one training micro-batch (forward, backward and, with
 * checkpointing, finishBackward) for a given checkpoint_freq: run it once per setting, each in its
 * own JVM, so one run's freed-but-cached memory cannot hide another's. Prints one line.
 *
 * <p>Usage: {@code MALLOC_MMAP_THRESHOLD_=131072 java -cp ... CheckpointMemoryProbe K [n_layer
 * n_embd n_head ctx_len batch]}; the fixed mmap threshold makes glibc return large tensors to the
 * system on free, so resident memory follows live tensors.
 */
public final class CheckpointMemoryProbe {
  private CheckpointMemoryProbe() {}

  public static void main(String[] args) throws IOException {
    int k = Integer.parseInt(args[0]);
    int layers = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    int width = args.length > 2 ? Integer.parseInt(args[2]) : 512;
    int heads = args.length > 3 ? Integer.parseInt(args[3]) : 8;
    int ctx = args.length > 4 ? Integer.parseInt(args[4]) : 512;
    int batch = args.length > 5 ? Integer.parseInt(args[5]) : 4;
    OmniBioTAConfig config = new OmniBioTAConfig(4096, width, layers, heads, ctx, 0.1);
    torch.manual_seed(1);
    OmniBioTA model = new OmniBioTA(config);
    model.setCheckpointFreq(k);
    model.train(true);
    try (PointerScope scope = new PointerScope()) {
      Tensor ids =
          torch.randint(
              20, 4096, new long[] {batch, ctx}, new TensorOptions(torch.ScalarType.Long));
      for (long at = 100; at < ctx; at += 150) {
        ids.select(1, at).fill_(new Scalar(OmniBioTA.EOS)); // packed documents: the mask is in play
      }
      MaskedLm.Batch b = MaskedLm.mask(ids, 0.15);
      // Peak since here: the step's own memory on top of the model and its inputs.
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      long before = status("VmRSS");
      double loss = Steps.accumulate(model, List.of(b), LossNorm.GLOBAL, true);
      long peak = status("VmHWM");
      System.out.printf(
          "checkpoint_freq %d  L%d N%d H%d T%d B%d: resident before %d MB, step peak +%d MB (loss %.4f)%n",
          k, layers, width, heads, ctx, batch, before >> 10, (peak - before) >> 10, loss);
    }
  }

  /** A kB field of /proc/self/status. */
  private static long status(String field) throws IOException {
    for (String line :
        Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no " + field + " in /proc/self/status");
  }
}
