package org.omnibiote.metrics;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TrainProgressTest {

  private static String firstLine(double gpuMb) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      TrainProgress p = new TrainProgress(100, 0, 3600, out);
      p.update(1, 4096, 9.5, 1e-3, 8, 12_345, gpuMb); // the first step always prints
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void gpuWorkersShowTheirPeakMemory() {
    String line = firstLine(30_517.6);
    assertTrue(line.contains("| 12,345 tokens/s | gpu 30,518 MB | ETA"), line);
  }

  @Test
  void cpuWorkersShowNoGpuField() {
    String line = firstLine(0);
    assertFalse(line.contains("gpu"), line);
    assertTrue(line.contains("| 12,345 tokens/s | ETA"), line);
  }
}
