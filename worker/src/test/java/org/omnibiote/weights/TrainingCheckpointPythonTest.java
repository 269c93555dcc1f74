package org.omnibiote.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    ReferencePython.requireTorch();
    torch.manual_seed(31);
    OmniBioTA model = new OmniBioTA(TrainingCheckpointTest.CONFIG);
    TrainingCheckpointTest.save(dir, model, "omnibiota_128", 128);
    Files.writeString(
        dir.resolve("ids.json"), "{\"ids\": [[4, 20, 21, 22, 3, 18, 30, 31, 32, 3, 1, 1]]}");
    Path script = Path.of(getClass().getResource("/omnibiota_reference.py").toURI());
    Path out = dir.resolve("out");
    ReferencePython.run(
        PYTHON,
        script.toString(),
        dir.resolve("omnibiota_128.safetensors").toString(),
        dir.resolve("ids.json").toString(),
        out.toString());
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
}
