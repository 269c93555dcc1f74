package org.omnibiote.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.Context;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.model.HostLibraries;
import org.omnibiote.model.TorchNatives;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote doctor}: what libtorch sees on this host (build, BLAS, threads, CUDA devices,
 * cuDNN, NCCL) and whether the devices a run would ask for are usable, each check OK or MISSING
 * with what to install.
 */
@Command(
    name = "doctor",
    mixinStandardHelpOptions = true,
    description = {
      "Report what libtorch sees on this host: Java, the natives in use (the CPU build or the"
          + " CUDA one of -Pgpu), libtorch's version, BLAS, intra-op threads, the NVIDIA driver,"
          + " CUDA devices, cuDNN and NCCL; then the checks a GPU run needs, each OK or MISSING"
          + " with what to install (docs/gpu.md).",
      "Exit 0 when every device of --devices is usable here (with two or more GPUs, NCCL"
          + " too), 1 when not (the last line says why)."
    },
    footer = {
      "",
      "Examples:",
      "  bin/omnibiote doctor                             # a CPU run",
      "  bin/omnibiote doctor --devices cuda:0,cuda:1     # a 2-GPU run (NCCL)"
    })
public final class DoctorCommand implements Callable<Integer>, NeedsLibtorch {
  private static final Pattern CUDA = Pattern.compile("cuda:(\\d+)");

  @Option(
      names = "--devices",
      paramLabel = "cpu|cuda:N[,cuda:M...]",
      defaultValue = "cpu",
      description =
          "The devices a run would use, as train's --devices (a list: one per local worker);"
              + " the exit code says whether they are usable (default: ${DEFAULT-VALUE}).")
  String devices;

  /** Why libtorch did not load (Main hands it over instead of failing); null when it loaded. */
  private TorchNatives.Unavailable unavailable;

  @Override
  public boolean runsWithoutLibtorch(TorchNatives.Unavailable e) {
    unavailable = e;
    return true;
  }

  @Override
  public Integer call() {
    List<Integer> cuda = parseDevices(devices);
    PrintStream out = System.out;
    Report r = new Report(out);

    r.line(
        "Java",
        String.format(
            Locale.ROOT,
            "%s (%s), %s %s %s, %d processors",
            System.getProperty("java.version"),
            System.getProperty("java.vendor"),
            System.getProperty("os.name"),
            System.getProperty("os.version"),
            System.getProperty("os.arch"),
            Runtime.getRuntime().availableProcessors()));

    String folder = unavailable == null ? TorchNatives.loadedFolder() : folderOrNull();
    boolean gpuBuild = folder != null && folder.endsWith("-gpu");
    r.line(
        "Natives",
        (folder == null ? "none found" : folder)
            + (gpuBuild ? ": the CUDA build of -Pgpu" : ": the CPU build")
            + String.format(
                Locale.ROOT,
                " (Bytedeco pytorch %s, JavaCPP %s)",
                version("org.bytedeco", "pytorch"),
                version("org.bytedeco", "javacpp")));
    if (TorchNatives.loadedLibrary() != null) {
      r.line("", "loaded from " + TorchNatives.loadedLibrary());
    }

    boolean loaded = unavailable == null;
    Torch t = loaded ? Torch.read(gpuBuild) : null;
    if (t == null) {
      r.line("libtorch", "did not load: " + unavailable.getMessage());
    } else {
      r.line(
          "libtorch",
          t.version()
              + "; built with USE_CUDA="
              + t.settings().getOrDefault("USE_CUDA", "?")
              + ", USE_CUDNN="
              + t.settings().getOrDefault("USE_CUDNN", "?")
              + ", USE_NCCL="
              + t.settings().getOrDefault("USE_NCCL", "?"));
      r.line(
          "BLAS",
          HostProbes.blasName(t.settings().get("BLAS_INFO"))
              + " for the CPU (BLAS_INFO="
              + t.settings().getOrDefault("BLAS_INFO", "?")
              + "), LAPACK "
              + yesNo(t.lapack())
              + ", MKL "
              + yesNo(t.mkl())
              + ", OpenMP "
              + yesNo(t.openMp())
              + (t.cudaAvailable() ? "; cuBLAS on the GPUs" : ""));
      r.line(
          "Threads",
          String.format(
              Locale.ROOT,
              "intra-op %d (OMP_NUM_THREADS=%s, OPENBLAS_NUM_THREADS=%s)",
              t.threads(),
              envOrUnset("OMP_NUM_THREADS"),
              envOrUnset("OPENBLAS_NUM_THREADS")));
    }

    List<HostProbes.Gpu> smi =
        HostProbes.run(HostProbes.NVIDIA_SMI_QUERY)
            .map(HostProbes::parseNvidiaSmi)
            .orElse(List.of());
    HostLibraries host = HostLibraries.ofThisHost(TorchNatives.preloadPaths());
    Optional<Path> libcuda = host.find(HostLibraries.DRIVER.soname());
    r.line(
        "Driver",
        (smi.isEmpty()
                ? "nvidia-smi lists no GPU (or is not installed)"
                : "NVIDIA " + smi.get(0).driver() + ", " + smi.size() + " GPU(s)")
            + "; "
            + HostLibraries.DRIVER.soname()
            + libcuda.map(p -> " at " + p).orElse(" not found"));
    if (t == null) {
      r.line("CUDA", "unknown: libtorch did not load");
    } else if (!gpuBuild) {
      r.line("CUDA", "not available: this is the CPU build; a GPU run needs the -Pgpu build");
    } else {
      r.line(
          "CUDA",
          t.cudaAvailable()
              ? "available, " + t.deviceCount() + " device(s), runtime " + t.cudart()
              : "not available: libtorch sees no CUDA device (driver? see the checks)");
      r.line("cuDNN", t.cudnn());
      r.line("NCCL", t.nccl());
    }
    List<String> devicesSeen = new ArrayList<>(List.of("cpu"));
    for (int i = 0; t != null && i < t.deviceCount(); i++) {
      String name = i < smi.size() ? smi.get(i).name() : "?";
      String cc = i < smi.size() ? ", compute capability " + smi.get(i).computeCapability() : "";
      String mem = i < smi.size() ? ", " + smi.get(i).memoryMib() + " MiB" : "";
      devicesSeen.add("cuda:" + i + " (" + name + mem + cc + ")");
    }
    r.line("Devices", String.join("; ", devicesSeen));

    // The checks a GPU run needs, whatever --devices asks (so a CPU host learns what to install).
    out.println();
    out.println("Checks a GPU run needs");
    Checks gpu = new Checks(out);
    gpu.check(
        gpuBuild,
        "the CUDA build of the natives (linux-x86_64-gpu)",
        "this is the CPU build: build with `mvn -Pgpu -DskipTests package` (docs/gpu.md)");
    gpu.check(
        !smi.isEmpty() && libcuda.isPresent(),
        "the NVIDIA driver (nvidia-smi, libcuda.so.1)",
        "install the NVIDIA driver, R580 or newer (CUDA 13); `nvidia-smi` must list the GPUs");
    for (HostLibraries.Library l : HostLibraries.CUDA_BUILD) {
      Optional<Path> at = host.find(l.soname());
      gpu.check(
          at.isPresent(),
          l.soname() + at.map(p -> " at " + resolved(p)).orElse(""),
          "install " + l.providedBy() + ", or put its folder on LD_LIBRARY_PATH");
    }
    gpu.check(
        t != null && t.cudaAvailable(),
        "libtorch sees CUDA devices"
            + (t != null && t.cudaAvailable() ? ": " + t.deviceCount() : ""),
        t == null ? "libtorch did not load (above)" : "needs all of the above");
    gpu.check(
        t != null && t.ncclLoaded(),
        "NCCL loads (runs on 2+ GPUs)",
        t == null ? "libtorch did not load" : !gpuBuild ? "needs the CUDA build" : t.nccl());
    for (int i = 0; t != null && i < Math.min(t.deviceCount(), smi.size()); i++) {
      String cc = smi.get(i).computeCapability();
      if (cc.matches("\\d+\\.\\d+") && Double.parseDouble(cc) < 8.0) {
        out.printf(
            Locale.ROOT,
            "  WARN     cuda:%d has compute capability %s: --precision bf16 needs 8.0 or newer%n",
            i,
            cc);
      }
    }

    // What --devices asks for.
    out.println();
    out.println("Checks for --devices " + devices);
    Checks asked = new Checks(out);
    asked.check(
        t != null,
        "libtorch loads" + (folder == null ? "" : " (" + folder + ")"),
        unavailable == null ? "see above" : unavailable.getMessage());
    if (cuda.isEmpty()) {
      asked.check(t != null, "cpu", "libtorch did not load");
    }
    for (int index : cuda) {
      String reason =
          t == null
              ? "libtorch did not load"
              : !gpuBuild
                  ? "this is the CPU build: build with -Pgpu on a host with CUDA 13.1 (docs/gpu.md)"
                  : !t.cudaAvailable()
                      ? "libtorch sees no CUDA device (check the driver above)"
                      : "this host has " + t.deviceCount() + " CUDA device(s)";
      asked.check(
          t != null && t.cudaAvailable() && index < t.deviceCount(), "cuda:" + index, reason);
    }
    if (cuda.size() >= 2) {
      asked.check(
          t != null && t.ncclLoaded(),
          "NCCL for " + cuda.size() + " GPUs",
          t == null ? "libtorch did not load" : !gpuBuild ? "needs the CUDA build" : t.nccl());
    }
    if (asked.firstMissing == null) {
      out.println("ready: --devices " + devices + " can run here");
      return 0;
    }
    System.err.println("doctor: --devices " + devices + " cannot run here: " + asked.firstMissing);
    return 1;
  }

  /** The CUDA device indices of --devices ({@code cpu}: none); a malformed list is refused. */
  static List<Integer> parseDevices(String spec) {
    String s = spec.trim();
    if (s.equals("cpu")) {
      return List.of();
    }
    Set<Integer> out = new LinkedHashSet<>();
    for (String d : Pattern.compile(",").splitAsStream(s).map(String::trim).toList()) {
      Matcher m = CUDA.matcher(d);
      if (!m.matches()) {
        throw new UserError(
            "--devices " + spec + ": give cpu, or cuda:N (a comma-separated list for several)");
      }
      out.add(Integer.parseInt(m.group(1)));
    }
    return List.copyOf(out);
  }

  /** An artifact's version from its jar's Maven metadata ("?" where that is unreadable). */
  private static String version(String group, String artifact) {
    try {
      String v = Loader.getVersion(group, artifact);
      return v == null ? "?" : v;
    } catch (IOException e) {
      return "?";
    }
  }

  private static String folderOrNull() {
    try {
      return TorchNatives.nativesFolder();
    } catch (IllegalStateException e) {
      return null;
    }
  }

  /** A library's path, and the file it links to (its version is often in that name). */
  private static String resolved(Path p) {
    try {
      Path real = p.toRealPath();
      return real.equals(p) ? p.toString() : p + " -> " + real;
    } catch (IOException e) {
      return p.toString();
    }
  }

  private static String yesNo(boolean b) {
    return b ? "yes" : "no";
  }

  private static String envOrUnset(String name) {
    String v = System.getenv(name);
    return v == null ? "(unset)" : v;
  }

  /** What libtorch says about itself, read once it is loaded. */
  private record Torch(
      String version,
      Map<String, String> settings,
      boolean lapack,
      boolean mkl,
      boolean openMp,
      int threads,
      boolean cudaAvailable,
      int deviceCount,
      String cudart,
      String cudnn,
      boolean ncclLoaded,
      String nccl) {

    static Torch read(boolean gpuBuild) {
      Map<String, String> settings = HostProbes.buildSettings(torch.show_config().getString());
      boolean cuda = torch.cuda_is_available();
      int count = cuda ? torch.cuda_device_count() : 0;
      String cudart = "?";
      String cudnn = "not in this build";
      boolean ncclLoaded = false;
      String nccl = "not in this build";
      if (gpuBuild) {
        cudart = Context.hasCUDART() ? HostProbes.cudaVersion(Context.versionCUDART()) : "none";
        cudnn =
            Context.hasCuDNN()
                ? HostProbes.cudnnVersion(Context.versionRuntimeCuDNN())
                    + " (built with "
                    + HostProbes.cudnnVersion(Context.versionCuDNN())
                    + ")"
                : "not available (libcudnn.so.9 missing, or no CUDA)";
        try {
          // torch_nccl and its CUDA presets load on first use, like ProcessGroupNCCL's.
          Loader.load(org.bytedeco.pytorch.global.torch_nccl.class);
          org.bytedeco.pytorch.T_IntIntInt_T v =
              org.bytedeco.pytorch.global.torch_nccl.getNcclVersionTuple();
          nccl = v.get0() + "." + v.get1() + "." + v.get2();
          ncclLoaded = true;
        } catch (LinkageError | RuntimeException e) {
          nccl =
              "does not load ("
                  + firstLine(e.getMessage())
                  + "): install NCCL 2 for CUDA 13 (libnccl2); check with"
                  + " `ldconfig -p | grep libnccl`";
        }
      }
      String version = settings.getOrDefault("TORCH_VERSION", "?");
      String commit = settings.get("COMMIT_SHA");
      if (commit != null && commit.length() >= 7) {
        version += " (commit " + commit.substring(0, 7) + ")";
      }
      return new Torch(
          version,
          settings,
          torch.hasLAPACK(),
          torch.hasMKL(),
          torch.hasOpenMP(),
          torch.get_num_threads(),
          cuda,
          count,
          cudart,
          cudnn,
          ncclLoaded,
          nccl);
    }

    private static String firstLine(String s) {
      if (s == null) {
        return "no message";
      }
      int nl = s.indexOf('\n');
      return nl < 0 ? s : s.substring(0, nl);
    }
  }

  /** "Label value" lines. */
  private record Report(PrintStream out) {
    void line(String label, String value) {
      out.printf(Locale.ROOT, "%-10s %s%n", label, value);
    }
  }

  /** OK / MISSING lines; remembers the first MISSING for the verdict. */
  private static final class Checks {
    private final PrintStream out;
    String firstMissing;

    Checks(PrintStream out) {
      this.out = out;
    }

    void check(boolean ok, String what, String fix) {
      if (ok) {
        out.printf(Locale.ROOT, "  OK       %s%n", what);
      } else {
        out.printf(Locale.ROOT, "  MISSING  %s: %s%n", what, fix);
        if (firstMissing == null) {
          firstMissing = what + ": " + fix;
        }
      }
    }
  }
}
