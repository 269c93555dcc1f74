package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** bench distributed runs real rank JVMs and reports finite, positive numbers for every mode. */
class BenchDistributedCommandTest {

  private static double number(String out, String regex) {
    Matcher m = Pattern.compile(regex).matcher(out);
    assertTrue(m.find(), "no " + regex + " in\n" + out);
    return Double.parseDouble(m.group(1).replace(",", ""));
  }

  @Test
  void aTinyRunReportsStepTimesOverlapAndBandwidthAgainstRawGloo() {
    CliRun r = CliRun.run("bench", "distributed", "--n_layer", "1", "--n_embd", "32", "--n_head", "2",
        "--ctx_len", "32", "--vocab", "4096", "--steps", "2", "--warmup", "1");
    assertEquals(0, r.exitCode(), r.err() + r.out());
    String out = r.out();
    assertTrue(number(out, "1 worker .*step +([0-9.]+) ms") > 0, out);
    assertTrue(number(out, "2 workers, no communication: +([0-9.]+) ms") > 0, out);
    assertTrue(number(out, "after backward: +([0-9.]+) ms") > 0, out);
    assertTrue(number(out, "c10d Reducer \\(overlap\\): +([0-9.]+) ms") > 0, out);
    double raw = number(out, "raw Gloo ([0-9.]+) GB/s");
    assertTrue(raw > 0 && Double.isFinite(raw), out);
    assertTrue(Double.isFinite(number(out, "ratio ([0-9.]+)")), out);
    assertTrue(out.contains("estimate, 8 GPUs per node with NCCL"), out);
    assertTrue(number(out, "all-reduce time .* = ([0-9.]+) ms") > 0, out);
  }
}
