package org.omnibiote.model;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.Tensor;

/** Test helpers: tensors to Java arrays, float32 .npy files, and close-enough comparisons. */
final class TestTensors {
  private TestTensors() {}

  /** Values and shape of a tensor, copied out of native memory. */
  record Floats(long[] shape, float[] values) {}

  static Floats floats(Tensor t) {
    Tensor c = t.detach().to(Float).contiguous();
    float[] values = new float[(int) c.numel()];
    c.data_ptr_float().capacity(values.length).get(values);
    return new Floats(c.shape(), values);
  }

  static Tensor ids(long[][] rows) {
    long[] flat = Arrays.stream(rows).flatMapToLong(Arrays::stream).toArray();
    return Tensor.create(flat, rows.length, rows[0].length);
  }

  private static final Pattern SHAPE = Pattern.compile("'shape': \\(([0-9, ]*)\\)");

  /** A C-order little-endian float32 .npy file, as numpy.save writes it. */
  static Floats readNpy(Path path) throws IOException {
    ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
    buf.position(8);
    int headerLength = Short.toUnsignedInt(buf.getShort());
    byte[] header = new byte[headerLength];
    buf.get(header);
    String dict = new String(header, StandardCharsets.US_ASCII);
    if (!dict.contains("'descr': '<f4'") || !dict.contains("'fortran_order': False")) {
      throw new IOException(path + ": not a C-order float32 npy: " + dict);
    }
    Matcher m = SHAPE.matcher(dict);
    if (!m.find()) {
      throw new IOException(path + ": no shape in " + dict);
    }
    long[] shape =
        Arrays.stream(m.group(1).split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .mapToLong(Long::parseLong)
            .toArray();
    float[] values = new float[buf.remaining() / 4];
    buf.asFloatBuffer().get(values);
    return new Floats(shape, values);
  }

  /**
   * Elementwise |actual - expected| <= rel * max|expected| (relative to the tensor's scale, so
   * values near zero are not held to an impossible relative bound).
   */
  static void assertClose(Floats expected, Floats actual, double rel, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
    double scale = 0;
    for (float v : expected.values()) {
      scale = Math.max(scale, Math.abs(v));
    }
    double worst = 0;
    int worstAt = -1;
    for (int i = 0; i < expected.values().length; i++) {
      double diff = Math.abs(expected.values()[i] - actual.values()[i]);
      if (!(diff <= worst)) {
        worst = diff;
        worstAt = i;
      }
    }
    if (!(worst <= rel * scale)) {
      fail(
          String.format(
              "%s: max difference %.3g at flat index %d (expected %g, got %g) exceeds %.1g x scale %.3g",
              what,
              worst,
              worstAt,
              expected.values()[worstAt],
              actual.values()[worstAt],
              rel,
              scale));
    }
  }
}
