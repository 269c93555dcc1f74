package org.omnibiote.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.ReferencePython;

/**
 * A training checkpoint's weights part is what the numpy-only Python reader takes
 * (src/test/resources/omnibiota_reference.py: read, load_state_dict(strict=True) into its own
 * OmniBioTA, run, write back); what it writes back is our weights bit for bit.
 */
class TrainingCheckpointPythonTest {
  private static final String PYTHON = "/usr/bin/python3";

  @TempDir Path dir;

  @Test
  void pythonLoadsTheWeightsPartOfACheckpoint() throws Exception {
    requireTorch();
    torch.manual_seed(31);
    OmniBioTA model = new OmniBioTA(TrainingCheckpointTest.CONFIG);
    TrainingCheckpointTest.save(dir, model, "omnibiota_128", 128);
    Files.writeString(dir.resolve("ids.json"), "{\"ids\": [[4, 20, 21, 22, 3, 18, 30, 31, 32, 3, 1, 1]]}");
    Path script = Path.of(getClass().getResource("/omnibiota_reference.py").toURI());
    Path out = dir.resolve("out");
    ReferencePython.run(PYTHON, script.toString(), dir.resolve("omnibiota_128.safetensors").toString(),
        dir.resolve("ids.json").toString(), out.toString());
    OmniBioTA back = ModelWeights.load(out.resolve("rewritten.safetensors"));
    assertEquals(model.config(), back.config());
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> ours = model.stateDict();
      Map<String, Tensor> theirs = back.stateDict();
      for (String name : ours.keySet()) {
        assertTrue(torch.equal(ours.get(name), theirs.get(name)), name);
      }
    }
  }

  /** Fails (never skips) when Debian's torch is missing, saying what to install. */
  private static void requireTorch() throws IOException, InterruptedException {
    String advice = "the Python reference needs Debian's python3-torch under " + PYTHON
        + ": apt-get install -y python3-torch python3-numpy libopenblas0-openmp";
    if (!Files.isExecutable(Path.of(PYTHON))) {
      fail(PYTHON + " not found; " + advice);
    }
    Process p = new ProcessBuilder(PYTHON, "-c", "import torch, numpy").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      fail(advice + "\n" + out);
    }
  }
}
