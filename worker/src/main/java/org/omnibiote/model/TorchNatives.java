package org.omnibiote.model;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.bytedeco.javacpp.ClassProperties;
import org.bytedeco.javacpp.Loader;
import org.omnibiote.UserError;

/**
 * Loads libtorch (and its Gloo part) once per process, holding an exclusive lock on a file in
 * JavaCPP's cache while doing it.
 *
 * <p>Why: on a fresh machine the first load unpacks about 450 MB of natives into the cache
 * (~/.javacpp/cache; about 870 MB for the CUDA build). JavaCPP unpacks and loads them one at a
 * time, libtorch.so before the libtorch_cpu.so it needs, so the dynamic loader looks for
 * libtorch_cpu.so elsewhere: where Debian's libtorch-dev is installed (python3-torch recommends it)
 * it finds torch 1.13, and two libtorch in one process die in the loader (SIGSEGV in
 * pthread_mutex_lock, every first run here). So every native of the folder JavaCPP is about to load
 * from is unpacked first, then loaded. JVMs that start together (a coordinator and its workers, the
 * ranks of a test) would also write the same files at once: the lock makes the first unpack and the
 * others wait. Call it before anything touches a libtorch class, and in a parent before it starts
 * child JVMs.
 *
 * <p>Which folder: the CPU jar (classifier linux-x86_64) holds its natives under
 * org/bytedeco/pytorch/linux-x86_64/, the CUDA jar (linux-x86_64-gpu, the -Pgpu build) under
 * org/bytedeco/pytorch/linux-x86_64-gpu/. JavaCPP's Loader looks in platform + extension for each
 * extension the presets declare ("-gpu"), last first, then in the plain platform folder; {@link
 * #nativesFolder()} makes the same choice, so the folder unpacked is the one loaded.
 */
public final class TorchNatives {
  private static final String GPU_EXTENSION = "-gpu";

  /** Where the presets keep their natives, one folder per platform (+ extension). */
  static final String RESOURCE_ROOT = "org/bytedeco/pytorch/";

  private static volatile boolean loaded;
  private static volatile String folder;
  private static volatile Path library;

  private TorchNatives() {}

  public static void load() {
    if (loaded) {
      return;
    }
    synchronized (TorchNatives.class) {
      if (loaded) {
        return;
      }
      File lockFile;
      try {
        lockFile = new File(Loader.getCacheDir(), "omnibiote-natives.lock");
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create JavaCPP's cache folder", e);
      }
      ClassProperties presets = presetsProperties();
      String use = nativesFolder(presets);
      if (use.endsWith(GPU_EXTENSION)) {
        requireCudaLibraries(use, HostLibraries.ofThisHost(presets.get("platform.preloadpath")));
      }
      try (FileChannel channel =
              FileChannel.open(
                  lockFile.toPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock lock = channel.lock()) {
        // The class literal does not initialise Tensor (which would load the natives already).
        Loader.cacheResources(org.bytedeco.pytorch.Tensor.class, use + "/");
        String jni = Loader.load(org.bytedeco.pytorch.global.torch.class);
        Loader.load(org.bytedeco.pytorch.global.torch_gloo.class);
        library = jni == null ? null : Path.of(jni);
      } catch (UnsatisfiedLinkError e) {
        throw new Unavailable(
            "libtorch's natives (" + use + ") did not load: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot lock " + lockFile + " to load libtorch", e);
      }
      folder = use;
      loaded = true;
    }
  }

  /**
   * The folder under org/bytedeco/pytorch/ whose natives this JVM loads: linux-x86_64 for the CPU
   * build, linux-x86_64-gpu for the CUDA one.
   */
  public static String nativesFolder() {
    return nativesFolder(presetsProperties());
  }

  private static String nativesFolder(ClassProperties presets) {
    return nativesFolder(
        Loader.getPlatform(),
        presets.get("platform.extension"),
        org.bytedeco.pytorch.Tensor.class.getClassLoader(),
        System.mapLibraryName("jnitorch"));
  }

  /**
   * The first of platform + extension (extensions last first) and platform whose folder holds
   * {@code jniLibrary}, as JavaCPP's Loader searches them.
   *
   * @throws IllegalStateException when no folder has it (no natives jar for this platform)
   */
  static String nativesFolder(
      String platform, List<String> extensions, ClassLoader loader, String jniLibrary) {
    for (int i = extensions.size() - 1; i >= -1; i--) {
      String candidate = platform + (i >= 0 ? extensions.get(i) : "");
      if (loader.getResource(RESOURCE_ROOT + candidate + "/" + jniLibrary) != null) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "no libtorch natives for "
            + platform
            + " on the class path: the build needs org.bytedeco:pytorch with classifier "
            + platform
            + " (or "
            + platform
            + "-gpu with -Pgpu)");
  }

  /**
   * The platform extensions JavaCPP tries for the presets: the one the system property
   * org.bytedeco.javacpp.platform.extension names, else those the presets declare (-gpu). Reads
   * annotations only: no native is loaded.
   */
  static List<String> extensions() {
    return List.copyOf(presetsProperties().get("platform.extension"));
  }

  /** JavaCPP's folders to preload CUDA's libraries from (/usr/local/cuda/lib64/, ...). */
  public static List<String> preloadPaths() {
    return List.copyOf(presetsProperties().get("platform.preloadpath"));
  }

  /** The presets' JavaCPP properties for this platform, read from annotations (nothing loads). */
  private static ClassProperties presetsProperties() {
    return Loader.loadProperties(
        org.bytedeco.pytorch.global.torch.class, Loader.loadProperties(), true);
  }

  /**
   * Refuses, naming every library the CUDA natives of {@code folder} would miss on this host,
   * before any is loaded (see {@link HostLibraries} for why before).
   */
  static void requireCudaLibraries(String folder, HostLibraries host) {
    List<HostLibraries.Library> missing = host.missing(HostLibraries.CUDA_BUILD);
    if (missing.isEmpty()) {
      return;
    }
    StringBuilder names = new StringBuilder();
    for (HostLibraries.Library l : missing) {
      names.append(names.length() == 0 ? "" : ", ").append(l.soname());
    }
    throw new Unavailable(
        "the CUDA build of libtorch ("
            + folder
            + ", built with -Pgpu) cannot load on this host: "
            + missing.size()
            + " of its libraries are missing ("
            + names
            + "). Install CUDA 13.1's libraries, cuDNN 9 and NCCL 2 for CUDA 13 (or put them on"
            + " LD_LIBRARY_PATH); `bin/omnibiote doctor` lists each one. Without a GPU, build"
            + " without -Pgpu.");
  }

  /** libtorch cannot load here: one line for the user, who can install or rebuild. */
  public static final class Unavailable extends UserError {
    public Unavailable(String message) {
      super(message);
    }

    Unavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The folder {@link #load()} unpacked and loaded from; null before it ran. */
  public static String loadedFolder() {
    return folder;
  }

  /** The JNI library JavaCPP loaded (in its cache); null before {@link #load()} or if unknown. */
  public static Path loadedLibrary() {
    return library;
  }
}
