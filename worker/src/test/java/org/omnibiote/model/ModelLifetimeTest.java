package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * A model keeps working after garbage collections: libtorch calls back into the Java peers of
 * registered modules (train(), eval()), so none of them may be collected while the model lives. (A
 * collected peer once made the trainer fail at a random step.)
 */
class ModelLifetimeTest {
  @Test
  void aModelStillTrainsAndEvaluatesAfterGarbageCollections() throws InterruptedException {
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(64, 16, 2, 2, 8, 0.1));
    for (int i = 0; i < 5; i++) {
      byte[][] garbage = new byte[256][];
      for (int j = 0; j < garbage.length; j++) {
        garbage[j] = new byte[64 * 1024];
      }
      System.gc();
      Thread.sleep(50);
    }
    model.train(true);
    model.eval();
    model.train(true);
    try (PointerScope scope = new PointerScope()) {
      Tensor ids = torch.randint(4, 64, new long[] {2, 8});
      assertEquals(64, model.forward(ids, true).size(2));
    }
  }
}
