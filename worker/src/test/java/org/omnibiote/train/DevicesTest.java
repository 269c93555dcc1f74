package org.omnibiote.train;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;

class DevicesTest {
  @Test
  void cpuIsAccepted() {
    assertTrue(Devices.parse("cpu").is_cpu());
  }

  @Test
  void cudaIsRefusedWhereTheHostCannotServeIt() {
    if (!torch.cuda_is_available()) { // CPU hosts and the CPU natives: say what to do instead
      UserError e = assertThrows(UserError.class, () -> Devices.parse("cuda:0"));
      assertTrue(
          e.getMessage().contains("no usable CUDA") && e.getMessage().contains("--devices cpu"),
          e.getMessage());
    } else { // a GPU host: its devices are accepted, an index past the last one is not
      int count = torch.cuda_device_count();
      assertTrue(Devices.parse("cuda:0").is_cuda());
      assertTrue(Devices.parse("cuda:" + (count - 1)).is_cuda());
      UserError e = assertThrows(UserError.class, () -> Devices.parse("cuda:" + count));
      assertTrue(e.getMessage().contains("has " + count + " CUDA device(s)"), e.getMessage());
    }
  }

  @Test
  void malformedSpecIsRefused() {
    UserError e = assertThrows(UserError.class, () -> Devices.parse("gpu0"));
    assertTrue(e.getMessage().contains("neither cpu nor cuda:N"), e.getMessage());
  }
}
