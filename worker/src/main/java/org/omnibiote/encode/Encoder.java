package org.omnibiote.encode;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import java.io.IOException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.Pooling;

/**
 * Encodes many sequences with one model: sorted by length so a batch holds similar lengths (little
 * padding), right-padded with PAD (pooling and attention ignore it, so a sequence encodes the same
 * alone or in any batch), block-diagonal mask on (documents within one sequence, e.g. a protein
 * followed by its DNA, stay separate), model in eval mode, no autograd, native memory freed per
 * batch. Results go to the sink by input index.
 */
public final class Encoder {
  /**
   * Receives the encoding of input {@code index}: N floats, or length*N for {@link Pooling#ALL}.
   */
  @FunctionalInterface
  public interface Sink {
    void accept(int index, float[] values) throws IOException;
  }

  /** Told the number of sequences done after each batch. */
  @FunctionalInterface
  public interface Progress {
    void done(int sequences, long tokens);
  }

  private final OmniBioTA model;
  private final Device device;
  private final int batchSize;
  private final int maxLength;

  /**
   * @param model built and loaded outside any PointerScope; moved to {@code device}
   * @param maxLength longer sequences keep their first {@code maxLength} tokens
   */
  public Encoder(OmniBioTA model, Device device, int batchSize, int maxLength) {
    if (batchSize < 1 || maxLength < 1) {
      throw new IllegalArgumentException("batch size and max length must be positive");
    }
    this.model = model;
    this.device = device;
    this.batchSize = batchSize;
    this.maxLength = maxLength;
    model.eval();
    if (!device.is_cpu()) {
      model.to(device, false);
    }
  }

  /** The number of tokens of {@code s} the model sees. */
  public int encodedLength(Sequence s) {
    return Math.min(s.ids().length, maxLength);
  }

  /** How many of {@code sequences} are longer than the max length (and get truncated). */
  public int truncatedCount(List<Sequence> sequences) {
    return (int) sequences.stream().filter(s -> s.ids().length > maxLength).count();
  }

  public void encode(List<Sequence> sequences, Pooling method, Sink sink, Progress progress)
      throws IOException {
    Integer[] order = IntStream.range(0, sequences.size()).boxed().toArray(Integer[]::new);
    // Stable sort: equal lengths keep input order, so batches are reproducible.
    Arrays.sort(order, Comparator.comparingInt(i -> encodedLength(sequences.get(i))));
    int n = model.config().nEmbd();
    int done = 0;
    long tokens = 0;
    for (int start = 0; start < order.length; start += batchSize) {
      int b = Math.min(batchSize, order.length - start);
      int t = 0;
      for (int k = 0; k < b; k++) {
        t = Math.max(t, encodedLength(sequences.get(order[start + k])));
      }
      long[] flat = new long[b * t];
      Arrays.fill(flat, OmniBioTA.PAD);
      for (int k = 0; k < b; k++) {
        int[] ids = sequences.get(order[start + k]).ids();
        int length = encodedLength(sequences.get(order[start + k]));
        for (int j = 0; j < length; j++) {
          flat[k * t + j] = ids[j];
        }
      }
      float[] out = run(flat, b, t, method);
      int row = method == Pooling.ALL ? t * n : n;
      for (int k = 0; k < b; k++) {
        int index = order[start + k];
        int keep = method == Pooling.ALL ? encodedLength(sequences.get(index)) * n : n;
        sink.accept(index, Arrays.copyOfRange(out, k * row, k * row + keep));
        tokens += encodedLength(sequences.get(index));
      }
      done += b;
      progress.done(done, tokens);
    }
  }

  /** One batch through the model; the result copied to the Java heap before the scope ends. */
  private float[] run(long[] flat, int b, int t, Pooling method) {
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Tensor ids = Tensor.create(flat, b, t); // cpu-only: host data, moved to the device below
      if (!device.is_cpu()) {
        ids = ids.to(device, ids.scalar_type());
      }
      Tensor encoded = model.encode(ids, method, true).to(Float).cpu().contiguous();
      float[] values = new float[(int) encoded.numel()];
      encoded.data_ptr_float().capacity(values.length).get(values);
      return values;
    }
  }
}
