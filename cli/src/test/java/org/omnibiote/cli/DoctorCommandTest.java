package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.omnibiote.model.TorchNatives;

/**
 * doctor reports what libtorch sees and exits 0 only when the devices asked for are usable. On a
 * host without CUDA (or with the CPU natives) cuda:0 is refused; on a GPU host the other branch is
 * tested: cuda:0 is accepted, an index past the last device is not.
 */
class DoctorCommandTest {
  private static boolean cuda;

  @BeforeAll
  static void loadLibtorch() {
    TorchNatives.load();
    cuda = torch.cuda_is_available();
  }

  @Test
  void theReportNamesTheBuildBlasThreadsAndCudaAndTheCpuIsReady() {
    CliRun r = run("doctor");
    assertEquals(0, r.exitCode(), r.out() + r.err());
    String folder = TorchNatives.loadedFolder();
    assertTrue(r.out().contains("Natives    " + folder + ": the "), r.out());
    assertTrue(r.out().contains("loaded from " + TorchNatives.loadedLibrary()), r.out());
    assertTrue(r.out().contains("libtorch   2.10.0 (commit "), r.out());
    assertTrue(r.out().contains("BLAS       OpenBLAS for the CPU (BLAS_INFO=open)"), r.out());
    assertTrue(
        r.out().contains("Threads    intra-op " + torch.get_num_threads() + " (OMP_NUM_THREADS="),
        r.out());
    assertTrue(r.out().contains("Checks a GPU run needs"), r.out());
    assertTrue(r.out().contains("libcudnn.so.9"), "every CUDA library is listed: " + r.out());
    if (cuda) {
      assertTrue(r.out().contains("CUDA       available, " + torch.cuda_device_count()), r.out());
    } else {
      assertTrue(r.out().contains("CUDA       not available"), r.out());
      assertTrue(r.out().contains("MISSING  libtorch sees CUDA devices"), r.out());
    }
    assertTrue(r.out().endsWith("ready: --devices cpu can run here\n"), r.out());
    assertEquals("", r.err());
  }

  @Test
  void aGpuThisHostCannotServeExitsOneWithOneLineSayingWhy() {
    if (!cuda) { // a CPU host, or the CPU natives
      CliRun r = run("doctor", "--devices", "cuda:0");
      assertEquals(1, r.exitCode(), r.out() + r.err());
      assertTrue(r.out().contains("MISSING  cuda:0: "), r.out());
      List<String> err = r.err().lines().toList();
      assertEquals(1, err.size(), r.err());
      assertTrue(
          err.get(0).startsWith("doctor: --devices cuda:0 cannot run here: cuda:0: "), r.err());
    } else { // a GPU host: its devices are ready, one past the last is not
      int count = torch.cuda_device_count();
      CliRun ok = run("doctor", "--devices", "cuda:0");
      assertEquals(0, ok.exitCode(), ok.out() + ok.err());
      assertTrue(ok.out().contains("  OK       cuda:0"), ok.out());
      CliRun past = run("doctor", "--devices", "cuda:" + count);
      assertEquals(1, past.exitCode(), past.out() + past.err());
      assertTrue(past.err().contains("this host has " + count + " CUDA device(s)"), past.err());
    }
  }

  @Test
  void twoGpusAlsoNeedNccl() {
    CliRun r = run("doctor", "--devices", "cuda:0,cuda:1");
    assertTrue(r.out().contains("NCCL for 2 GPUs"), r.out());
    if (!cuda || torch.cuda_device_count() < 2) {
      assertEquals(1, r.exitCode(), r.out() + r.err());
    }
  }

  @Test
  void aMalformedDeviceListIsAUserError() {
    CliRun r = run("doctor", "--devices", "gpu0");
    assertEquals(2, r.exitCode(), r.err());
    assertEquals(
        "error: --devices gpu0: give cpu, or cuda:N (a comma-separated list for several)",
        r.err().strip());
  }

  @Test
  void whenLibtorchCannotLoadDoctorStillReportsAndNothingIsReady() {
    DoctorCommand d = new DoctorCommand();
    d.devices = "cpu";
    assertTrue(d.runsWithoutLibtorch(new TorchNatives.Unavailable("libcublas.so.13 is missing")));
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      code = d.call();
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
    String o = out.toString(StandardCharsets.UTF_8);
    assertEquals(1, code, o);
    assertTrue(o.contains("libtorch   did not load: libcublas.so.13 is missing"), o);
    assertTrue(o.contains("MISSING  cpu: libtorch did not load"), o);
    assertEquals(
        "doctor: --devices cpu cannot run here: libtorch loads ("
            + TorchNatives.nativesFolder()
            + "): libcublas.so.13 is missing",
        err.toString(StandardCharsets.UTF_8).strip());
  }

  @Test
  void otherLibtorchCommandsDoNotRunWithoutIt() {
    NeedsLibtorch encode = new EncodeCommand();
    assertTrue(!encode.runsWithoutLibtorch(new TorchNatives.Unavailable("x")));
  }

  @Test
  void helpNeedsNoLibtorchAndNamesTheExitCodes() {
    CliRun r = run("doctor", "--help");
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.out().contains("--devices=cpu|cuda:N[,cuda:M...]"), r.out());
    assertTrue(r.out().contains("Exit 0 when every device of --devices is usable"), r.out());
  }

  @Test
  void nvidiaSmiRowsAreParsed() {
    List<HostProbes.Gpu> gpus =
        HostProbes.parseNvidiaSmi(
            "0, NVIDIA A100-SXM4-80GB, 81920, 8.0, 580.65.06\n"
                + "1, Tesla V100-SXM2-16GB, 16384, 7.0, 580.65.06\n"
                + "No devices were found\n");
    assertEquals(
        List.of(
            new HostProbes.Gpu(0, "NVIDIA A100-SXM4-80GB", "81920", "8.0", "580.65.06"),
            new HostProbes.Gpu(1, "Tesla V100-SXM2-16GB", "16384", "7.0", "580.65.06")),
        gpus);
  }

  @Test
  void buildSettingsAreReadPastTheCommasOfTheCompilerFlags() {
    Map<String, String> s = HostProbes.buildSettings(torch.show_config().getString());
    assertEquals("2.10.0", s.get("TORCH_VERSION"));
    assertEquals("open", s.get("BLAS_INFO"));
    // The CPU natives say USE_CUDA=0; the CUDA ones something else (1 or ON).
    assertEquals(TorchNatives.loadedFolder().endsWith("-gpu"), !"0".equals(s.get("USE_CUDA")));
    Map<String, String> t =
        HostProbes.buildSettings(
            "PyTorch built with:\n  - Build settings: BLAS_INFO=mkl, CXX_FLAGS=-O2 -DA=1,"
                + " -fPIC, TORCH_VERSION=2.10.0, USE_NCCL=1, \n  - other\n");
    assertEquals(
        Map.of(
            "BLAS_INFO", "mkl",
            "CXX_FLAGS", "-O2 -DA=1, -fPIC",
            "TORCH_VERSION", "2.10.0",
            "USE_NCCL", "1"),
        t);
    assertEquals("MKL", HostProbes.blasName(t.get("BLAS_INFO")));
  }

  @Test
  void versionCodesReadAsCudaAndCudnnVersions() {
    assertEquals("13.1", HostProbes.cudaVersion(13010));
    assertEquals("9.19.0", HostProbes.cudnnVersion(91900));
  }
}
