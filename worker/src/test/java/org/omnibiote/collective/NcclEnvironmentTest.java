package org.omnibiote.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.omnibiote.collective.NcclEnvironment.Change;

/**
 * What the worker sets for ProcessGroupNCCL before its first NCCL group, and that libtorch sees it.
 */
class NcclEnvironmentTest {

  @Test
  void anEmptyEnvironmentGetsEveryValue() {
    assertEquals(
        List.of(
            new Change("TORCH_NCCL_ASYNC_ERROR_HANDLING", null, "2"),
            new Change("TORCH_NCCL_BLOCKING_WAIT", null, "0"),
            new Change("TORCH_NCCL_DUMP_ON_TIMEOUT", null, "0")),
        NcclEnvironment.changes(name -> Optional.empty()));
  }

  @Test
  void aUsersTearDownOrBlockingWaitIsOverriddenButTheirDumpSettingKept() {
    Map<String, String> env =
        Map.of(
            "TORCH_NCCL_ASYNC_ERROR_HANDLING", "1",
            "TORCH_NCCL_BLOCKING_WAIT", "1",
            "TORCH_NCCL_DUMP_ON_TIMEOUT", "1");
    assertEquals(
        List.of(
            new Change("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", "2"),
            new Change("TORCH_NCCL_BLOCKING_WAIT", "1", "0")),
        NcclEnvironment.changes(name -> Optional.ofNullable(env.get(name))));
  }

  @Test
  void anEnvironmentThatAgreesIsLeftAlone() {
    Map<String, String> env =
        Map.of(
            "TORCH_NCCL_ASYNC_ERROR_HANDLING", " 2",
            "TORCH_NCCL_BLOCKING_WAIT", "0",
            "TORCH_NCCL_DUMP_ON_TIMEOUT", "0");
    assertTrue(NcclEnvironment.changes(name -> Optional.ofNullable(env.get(name))).isEmpty());
  }

  /**
   * The values are set where ProcessGroupNCCL reads them: libtorch's own view of the environment.
   */
  @Test
  void afterApplyLibtorchReadsTheValues() {
    NcclEnvironment.apply();
    assertEquals(Optional.of("2"), NcclEnvironment.get("TORCH_NCCL_ASYNC_ERROR_HANDLING"));
    assertEquals(Optional.of("0"), NcclEnvironment.get("TORCH_NCCL_BLOCKING_WAIT"));
    assertTrue(NcclEnvironment.get("TORCH_NCCL_DUMP_ON_TIMEOUT").isPresent());
    assertTrue(
        NcclEnvironment.changes(NcclEnvironment::get).isEmpty(), "a second apply is a no-op");
  }
}
