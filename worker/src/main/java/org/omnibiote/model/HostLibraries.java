package org.omnibiote.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shared libraries the CUDA build of libtorch (the -Pgpu natives) takes from the host, and
 * where this host has them, looked up without loading anything.
 *
 * <p>Why before loading: the -gpu jar carries libtorch's CUDA build but none of CUDA's libraries.
 * Where one is missing, libtorch.so fails to load and JavaCPP falls back to the system's
 * libtorch.so: on Debian with python3-torch installed that is torch 1.13, and the JVM dies in the
 * dynamic loader (SIGSEGV in pthread_mutex_lock, seen here with the -gpu natives and no cuBLAS). A
 * list of what is missing, before anything is loaded, is the error the user can act on.
 */
public final class HostLibraries {
  /** A library by its soname, and what provides it. */
  public record Library(String soname, String providedBy) {}

  /**
   * What the linux-x86_64-gpu natives of pytorch 2.10.0-1.5.13 need from the host: the DT_NEEDED
   * entries of libtorch_cpu, libtorch_cuda, libtorch_cuda_linalg, libc10_cuda, libjnitorch_cuda and
   * libjnitorch_nccl (readelf -d) that the jar does not hold, plus libnvJitLink, which cuSPARSE and
   * cuSOLVER need. Check again when the presets' version changes.
   */
  public static final List<Library> CUDA_BUILD =
      List.of(
          new Library("libcudart.so.13", "CUDA 13 runtime (cuda-cudart-13-1)"),
          new Library("libcupti.so.13", "CUPTI (cuda-cupti-13-1)"),
          new Library("libcublas.so.13", "cuBLAS (libcublas-13-1)"),
          new Library("libcublasLt.so.13", "cuBLAS (libcublas-13-1)"),
          new Library("libcufft.so.12", "cuFFT (libcufft-13-1)"),
          new Library("libcurand.so.10", "cuRAND (libcurand-13-1)"),
          new Library("libcusparse.so.12", "cuSPARSE (libcusparse-13-1)"),
          new Library("libcusolver.so.12", "cuSOLVER (libcusolver-13-1)"),
          new Library("libnvJitLink.so.13", "nvJitLink (libnvjitlink-13-1)"),
          new Library("libcufile.so.0", "cuFile (libcufile-13-1)"),
          new Library("libcudnn.so.9", "cuDNN 9 for CUDA 13 (libcudnn9-cuda-13)"),
          new Library("libcudnn_graph.so.9", "cuDNN 9 for CUDA 13 (libcudnn9-cuda-13)"),
          new Library("libcudnn_ops.so.9", "cuDNN 9 for CUDA 13 (libcudnn9-cuda-13)"),
          new Library("libcudnn_cnn.so.9", "cuDNN 9 for CUDA 13 (libcudnn9-cuda-13)"),
          new Library("libcudnn_adv.so.9", "cuDNN 9 for CUDA 13 (libcudnn9-cuda-13)"),
          new Library("libnccl.so.2", "NCCL 2 built for CUDA 13 (libnccl2)"));

  /** The NVIDIA driver's CUDA library: not needed to load libtorch, needed to see any GPU. */
  public static final Library DRIVER =
      new Library("libcuda.so.1", "the NVIDIA driver, R580 or newer for CUDA 13");

  /** The dynamic linker's default folders (searched even when ldconfig's cache lacks them). */
  static final List<Path> TRUSTED =
      List.of(
          Path.of("/lib/x86_64-linux-gnu"),
          Path.of("/usr/lib/x86_64-linux-gnu"),
          Path.of("/lib64"),
          Path.of("/usr/lib64"),
          Path.of("/lib"),
          Path.of("/usr/lib"));

  private static final Pattern COLON = Pattern.compile(":");
  private static final Pattern LDCONFIG_LINE =
      Pattern.compile("^\\s*(\\S+)\\s+\\(([^)]*)\\)\\s+=>\\s+(\\S+)\\s*$");

  private final List<Path> folders;
  private final Map<String, Path> ldconfig;

  /**
   * @param folders searched in order: LD_LIBRARY_PATH's, JavaCPP's preload paths (it loads a
   *     library found there before libtorch, which then links to it), the linker's defaults
   * @param ldconfig soname to path, from ldconfig's cache
   */
  HostLibraries(List<Path> folders, Map<String, Path> ldconfig) {
    this.folders = List.copyOf(folders);
    this.ldconfig = Map.copyOf(ldconfig);
  }

  /** This host's view: LD_LIBRARY_PATH, then {@code preloadPaths}, the defaults and ldconfig -p. */
  public static HostLibraries ofThisHost(List<String> preloadPaths) {
    List<Path> folders = new ArrayList<>();
    String ldPath = System.getenv("LD_LIBRARY_PATH");
    if (ldPath != null) {
      COLON.splitAsStream(ldPath).filter(p -> !p.isBlank()).map(Path::of).forEach(folders::add);
    }
    for (String p : preloadPaths) {
      folders.add(Path.of(p));
    }
    folders.addAll(TRUSTED);
    return new HostLibraries(folders, parseLdconfig(runLdconfig()));
  }

  /** Where the dynamic linker (or JavaCPP's preloading) would find {@code soname}, if anywhere. */
  public Optional<Path> find(String soname) {
    for (Path folder : folders) {
      Path p = folder.resolve(soname);
      if (Files.exists(p)) {
        return Optional.of(p);
      }
    }
    Path cached = ldconfig.get(soname);
    return cached != null && Files.exists(cached) ? Optional.of(cached) : Optional.empty();
  }

  /** Those of {@code libraries} this host lacks, in order. */
  public List<Library> missing(List<Library> libraries) {
    List<Library> out = new ArrayList<>();
    for (Library l : libraries) {
      if (find(l.soname()).isEmpty()) {
        out.add(l);
      }
    }
    return out;
  }

  /** The 64-bit entries of {@code ldconfig -p}'s output, soname to path (the first one wins). */
  static Map<String, Path> parseLdconfig(String output) {
    Map<String, Path> out = new LinkedHashMap<>();
    for (String line : output.lines().toList()) {
      Matcher m = LDCONFIG_LINE.matcher(line);
      if (m.matches() && m.group(2).contains("x86-64")) {
        out.putIfAbsent(m.group(1), Path.of(m.group(3)));
      }
    }
    return out;
  }

  /** ldconfig -p's output, or "" where there is no ldconfig (the folders still count). */
  private static String runLdconfig() {
    for (String exe : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig")) {
      if (exe.startsWith("/") && !Files.isExecutable(Path.of(exe))) {
        continue;
      }
      try {
        Process p = new ProcessBuilder(exe, "-p").redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
          out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
          return out;
        }
        p.destroyForcibly();
      } catch (IOException e) {
        // try the next one
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "";
      }
    }
    return "";
  }
}
