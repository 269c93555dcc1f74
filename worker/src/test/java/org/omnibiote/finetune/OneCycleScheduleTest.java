package org.omnibiote.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.ReferencePython;

/**
 * The default schedule is PyTorch's OneCycleLR as the original builds it (three groups, pct_start
 * 0.05, cycle_momentum on AdamW's beta1): the lr of every group and beta1 at every step equal torch
 * 1.13's, for a long and a short run (where the warm-up is under one step).
 */
class OneCycleScheduleTest {
  @TempDir Path dir;

  @Test
  void lrAndBeta1EqualTorchOneCycleLrAtEveryStep() throws Exception {
    ReferencePython.requireTorch();
    double[] peaks = {1e-3, 1e-4, 1e-2};
    for (int total : new int[] {300, 10}) {
      Path script =
          Files.writeString(
              dir.resolve("onecycle" + total + ".py"),
              "import torch\n"
                  + "ps = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]\n"
                  + "opt = torch.optim.AdamW([{'params': [p], 'lr': lr} for p, lr in zip(ps, "
                  + "[1e-3, 1e-4, 1e-2])])\n"
                  + "s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[1e-3, 1e-4, 1e-2],"
                  + " total_steps="
                  + total
                  + ", pct_start=0.05)\n"
                  + "for k in range("
                  + total
                  + "):\n"
                  + "    print(' '.join(repr(g['lr']) for g in opt.param_groups),"
                  + " repr(opt.param_groups[0]['betas'][0]))\n"
                  + "    opt.step(); s.step()\n");
      String[] lines =
          ReferencePython.run(ReferencePython.PYTHON, script.toString()).strip().split("\n");
      assertEquals(total, lines.length);
      OneCycle ours = new OneCycle(OneCycle.Kind.ONE_CYCLE, total, 0.05, 0.9);
      for (int k = 0; k < total; k++) {
        String[] v = lines[k].trim().split(" ");
        for (int g = 0; g < 3; g++) {
          double want = Double.parseDouble(v[g]);
          assertEquals(
              want, peaks[g] * ours.lrFactor(k), 1e-15 + 1e-12 * want, "step " + k + " group " + g);
        }
        assertEquals(Double.parseDouble(v[3]), ours.beta1(k), 1e-12, "beta1 at step " + k);
      }
    }
  }
}
