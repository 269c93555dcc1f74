package org.omnibiote.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What {@code doctor} reads off the host and off libtorch's own description of its build. */
final class HostProbes {
  private HostProbes() {}

  /** A GPU as nvidia-smi lists it. */
  record Gpu(int index, String name, String memoryMib, String computeCapability, String driver) {}

  static final List<String> NVIDIA_SMI_QUERY =
      List.of(
          "nvidia-smi",
          "--query-gpu=index,name,memory.total,compute_cap,driver_version",
          "--format=csv,noheader,nounits");

  private static final Pattern BUILD_SETTING =
      Pattern.compile("(?:^|,)\\s*([A-Z][A-Z0-9_]*)=(.*?)(?=,\\s*[A-Z][A-Z0-9_]*=|,?\\s*$)");
  private static final Pattern CSV_FIELD = Pattern.compile("\\s*,\\s*");

  /** nvidia-smi's rows ({@link #NVIDIA_SMI_QUERY}); lines that do not parse are skipped. */
  static List<Gpu> parseNvidiaSmi(String output) {
    List<Gpu> gpus = new ArrayList<>();
    for (String line : output.lines().toList()) {
      List<String> f = CSV_FIELD.splitAsStream(line.trim()).toList();
      if (f.size() == 5 && f.get(0).matches("\\d+")) {
        gpus.add(new Gpu(Integer.parseInt(f.get(0)), f.get(1), f.get(2), f.get(3), f.get(4)));
      }
    }
    return gpus;
  }

  /**
   * The "Build settings" of torch's show_config(): KEY=VALUE pairs (TORCH_VERSION, BLAS_INFO,
   * USE_CUDA, USE_NCCL, ...). CXX_FLAGS holds commas of its own, so a pair starts only where a
   * comma is followed by an upper-case KEY=.
   */
  static Map<String, String> buildSettings(String showConfig) {
    Map<String, String> out = new LinkedHashMap<>();
    int at = showConfig.indexOf("Build settings:");
    if (at < 0) {
      return out;
    }
    String line =
        showConfig.substring(at + "Build settings:".length()).lines().findFirst().orElse("");
    Matcher m = BUILD_SETTING.matcher(line);
    while (m.find()) {
      out.put(m.group(1), m.group(2).trim());
    }
    return out;
  }

  /** BLAS_INFO as a library's name: open is OpenBLAS, mkl is MKL. */
  static String blasName(String blasInfo) {
    if (blasInfo == null) {
      return "unknown";
    }
    return switch (blasInfo.toLowerCase(Locale.ROOT)) {
      case "open" -> "OpenBLAS";
      case "mkl" -> "MKL";
      case "flexi" -> "FlexiBLAS";
      default -> blasInfo;
    };
  }

  /** cuDNN's version code (major*10000 + minor*100 + patch since cuDNN 9) as text. */
  static String cudnnVersion(long code) {
    return String.format(Locale.ROOT, "%d.%d.%d", code / 10000, (code / 100) % 100, code % 100);
  }

  /** CUDART_VERSION (major*1000 + minor*10) as text. */
  static String cudaVersion(long code) {
    return String.format(Locale.ROOT, "%d.%d", code / 1000, (code % 1000) / 10);
  }

  /**
   * What a command printed, when it ran and exited 0 within 20 s; empty when it is absent, failed
   * or hung (nvidia-smi can hang on a broken driver: its output goes to a file, so the wait is
   * bounded).
   */
  static Optional<String> run(List<String> command) {
    Path out = null;
    try {
      out = Files.createTempFile("omnibiote-doctor", ".out");
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .start();
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return Optional.empty();
      }
      return p.exitValue() == 0
          ? Optional.of(Files.readString(out, StandardCharsets.UTF_8))
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // not installed
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    } finally {
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException e) {
          // a temp file left behind
        }
      }
    }
  }
}
