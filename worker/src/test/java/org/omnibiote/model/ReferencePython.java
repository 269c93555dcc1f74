package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Debian's Python with torch and numpy, as the reference tests run it. */
public final class ReferencePython {
  public static final String PYTHON = "/usr/bin/python3";

  private ReferencePython() {}

  /** Fails (never skips) when Debian's torch is missing, saying what to install. */
  public static void requireTorch() throws Exception {
    String advice =
        "the Python reference needs Debian's python3-torch under "
            + PYTHON
            + ": apt-get install -y python3-torch python3-numpy libopenblas0-openmp";
    if (!Files.isExecutable(Path.of(PYTHON))) {
      fail(PYTHON + " not found; " + advice);
    }
    Process p =
        new ProcessBuilder(PYTHON, "-c", "import torch, numpy").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      fail(advice + "\n" + out);
    }
  }

  /**
   * Runs {@code command} (one torch thread), failing with its output unless it exits 0 within 2
   * min.
   */
  public static String run(String... command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("OMP_NUM_THREADS", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("python reference timed out");
    }
    assertEquals(0, p.exitValue(), "python reference failed:\n" + out);
    return out;
  }
}
