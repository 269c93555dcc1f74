package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.omnibiote.settings.OmniBioTAConfig;

class ActivationCheckpointsTest {
  /** 4 blocks: k = 1, 2, 3 give 4, 2 and 2 segments (the last one shorter for k = 3). */
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(64, 32, 4, 4, 16, 0.2);

  /**
   * With dropout, the recomputation replays the same masks: parameter gradients equal a run that
   * keeps every activation, bit for bit (same ops on the same values in the same order; only where
   * the graph is cut differs), and the random stream continues identically.
   */
  @Test
  void gradientsWithCheckpointingEqualThoseWithout() {
    Result plain = run(0);
    for (int k : new int[] {1, 2, 3}) {
      Result checkpointed = run(k);
      assertEquals(plain.loss, checkpointed.loss, 0.0, "loss, checkpoint_freq " + k);
      for (int i = 0; i < plain.grads.size(); i++) {
        float[] want = plain.grads.get(i);
        float[] got = checkpointed.grads.get(i);
        for (int j = 0; j < want.length; j++) {
          assertEquals(
              want[j], got[j], 0f, "checkpoint_freq " + k + ", parameter " + i + " [" + j + "]");
        }
      }
      assertEquals(
          plain.nextRandom, checkpointed.nextRandom, 0f, "random stream after the step, k " + k);
    }
  }

  /**
   * bf16 autocast around the forward only (backward outside it, as torch.autocast is used): the
   * recomputation runs under the forward's autocast state, so gradients again equal those without
   * checkpointing, and the caller's autocast state is left as it was.
   */
  @Test
  void recomputationRunsUnderTheForwardsAutocast() {
    Result plain = run(0, true);
    Result checkpointed = run(1, true);
    assertEquals(plain.loss, checkpointed.loss, 0.0, "loss");
    for (int i = 0; i < plain.grads.size(); i++) {
      assertArrayEquals(plain.grads.get(i), checkpointed.grads.get(i), 0f, "parameter " + i);
    }
    assertFalse(torch.is_autocast_enabled(DeviceType.CPU));
    // And bf16 did change the numbers (the state mattered).
    assertNotEquals(plain.loss, run(0).loss);
  }

  @Test
  void aSecondForwardBeforeFinishBackwardIsRefused() {
    torch.manual_seed(5);
    OmniBioTA model = new OmniBioTA(CONFIG);
    model.setCheckpointFreq(2);
    model.train(true);
    try (PointerScope scope = new PointerScope()) {
      Tensor ids = ids();
      Tensor first = model.hidden(ids, true);
      assertThrows(IllegalStateException.class, () -> model.hidden(ids, true));
      first.sum().backward();
      model.finishBackward();
      // Every parameter got its gradient, the first blocks' through the recomputation.
      for (var e : model.stateDict().entrySet()) {
        if (!e.getKey().equals("lm_head.weight")) {
          assertTrue(e.getValue().grad().defined(), e.getKey());
        }
      }
      model.hidden(ids, true).sum().backward(); // accepted again
      model.finishBackward();
    }
  }

  @Test
  void negativeFrequencyIsRefused() {
    OmniBioTA model = new OmniBioTA(new OmniBioTAConfig(16, 8, 1, 1, 4, 0.0));
    assertThrows(org.omnibiote.UserError.class, () -> model.setCheckpointFreq(-1));
  }

  private record Result(double loss, List<float[]> grads, float nextRandom) {}

  private static Result run(int checkpointFreq) {
    return run(checkpointFreq, false);
  }

  /** Two micro-batches' forward and backward from the same weights, seed and ids. */
  private static Result run(int checkpointFreq, boolean bf16) {
    torch.manual_seed(3);
    OmniBioTA model = new OmniBioTA(CONFIG);
    model.setCheckpointFreq(checkpointFreq);
    model.train(true);
    double loss = 0;
    Tensor ids = ids();
    for (int micro = 0; micro < 2; micro++) {
      try (PointerScope scope = new PointerScope()) {
        torch.set_autocast_dtype(DeviceType.CPU, ScalarType.BFloat16);
        torch.set_autocast_enabled(DeviceType.CPU, bf16);
        Tensor logits = model.forward(ids, true);
        Tensor l = torch.cross_entropy_loss(logits.view(-1, CONFIG.vocabSize()), ids.view(-1));
        torch.set_autocast_enabled(DeviceType.CPU, false);
        torch.clear_cache();
        l.backward();
        model.finishBackward();
        loss += l.item_double();
      }
    }
    List<float[]> grads = new ArrayList<>();
    try (PointerScope scope = new PointerScope()) {
      for (Tensor p : model.stateDict().values()) {
        grads.add(TestTensors.floats(p.grad()).values());
      }
      return new Result(loss, grads, torch.rand(1).item_float());
    }
  }

  /** Two rows of packed documents (the block-diagonal mask is in play). */
  private static Tensor ids() {
    torch.manual_seed(4);
    Tensor ids =
        torch.randint(20, 64, new long[] {2, 16}, new TensorOptions(torch.ScalarType.Long));
    ids.select(1, 6).fill_(new Scalar(OmniBioTA.EOS));
    return ids;
  }
}
