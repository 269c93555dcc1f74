package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.model.AttentionKernels.Kernel.CHEAP_DROPOUT_MATH;
import static org.omnibiote.model.AttentionKernels.Kernel.FLASH;
import static org.omnibiote.model.AttentionKernels.Kernel.MATH;
import static org.omnibiote.model.AttentionKernels.Kernel.MEMORY_EFFICIENT;

import org.junit.jupiter.api.Test;
import org.omnibiote.model.AttentionKernels.Path;

/** Which attention path and kernel each device, dropout and mask leads to. */
class AttentionKernelsTest {

  @Test
  void cpuWithoutDropoutTakesSdpaOnItsMathKernel() {
    for (boolean mask : new boolean[] {false, true}) {
      assertEquals(Path.SDPA, AttentionKernels.path(false, false));
      for (boolean bf16 : new boolean[] {false, true}) {
        assertEquals(MATH, AttentionKernels.kernel(false, false, mask, bf16, true));
      }
    }
  }

  @Test
  void cpuWithDropoutKeepsTheCheapDropoutMathPathWithOrWithoutAMask() {
    assertEquals(Path.CHEAP_DROPOUT_MATH, AttentionKernels.path(false, true));
    for (boolean mask : new boolean[] {false, true}) {
      assertEquals(CHEAP_DROPOUT_MATH, AttentionKernels.kernel(false, true, mask, false, true));
    }
  }

  @Test
  void cudaWithDropoutGoesThroughSdpaWithDropoutP() {
    assertEquals(Path.SDPA_DROPOUT, AttentionKernels.path(true, true));
    assertEquals(Path.SDPA, AttentionKernels.path(true, false));
  }

  @Test
  void cudaWithoutAMaskTakesFlashInBf16AndMemoryEfficientInFp32OrWithFlashDisabled() {
    for (boolean dropout : new boolean[] {false, true}) {
      assertEquals(FLASH, AttentionKernels.kernel(true, dropout, false, true, true));
      assertEquals(MEMORY_EFFICIENT, AttentionKernels.kernel(true, dropout, false, false, true));
      assertEquals(MEMORY_EFFICIENT, AttentionKernels.kernel(true, dropout, false, true, false));
    }
  }

  @Test
  void cudaWithAMaskTakesTheMemoryEfficientKernelSinceFlashTakesNoMask() {
    for (boolean dropout : new boolean[] {false, true}) {
      for (boolean bf16 : new boolean[] {false, true}) {
        assertEquals(MEMORY_EFFICIENT, AttentionKernels.kernel(true, dropout, true, bf16, true));
      }
    }
  }

  @Test
  void theLogLineNamesBothCudaCases() {
    String line = AttentionKernels.describeCuda(true, true, true);
    assertTrue(
        line.contains("with dropout_p")
            && line.contains("flash kernel without a mask")
            && line.contains("memory-efficient with the PAD/block-diagonal mask"),
        line);
  }
}
