package org.omnibiote.model;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.StandardOpenOption;
import org.bytedeco.javacpp.Loader;

/**
 * Loads libtorch (and its Gloo part) once per process, holding an exclusive lock on a file in
 * JavaCPP's cache while doing it.
 *
 * <p>Why: on a fresh machine the first load unpacks about 450 MB of natives into the cache
 * (~/.javacpp/cache). JavaCPP unpacks and loads them one at a time, libtorch.so before the
 * libtorch_cpu.so it needs, so the dynamic loader looks for libtorch_cpu.so elsewhere: where
 * Debian's libtorch-dev is installed (python3-torch recommends it) it finds torch 1.13, and two
 * libtorch in one process die in the loader (SIGSEGV in pthread_mutex_lock, every first run here).
 * So every native of the presets is unpacked first, then loaded. JVMs that start together (a
 * coordinator and its workers, the ranks of a test) would also write the same files at once: the
 * lock makes the first unpack and the others wait. Call it before anything touches a libtorch
 * class, and in a parent before it starts child JVMs.
 */
public final class TorchNatives {
  private static volatile boolean loaded;

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
      try (FileChannel channel =
              FileChannel.open(
                  lockFile.toPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileLock lock = channel.lock()) {
        // The class literal does not initialise Tensor (which would load the natives already).
        Loader.cacheResources(org.bytedeco.pytorch.Tensor.class, Loader.getPlatform() + "/");
        Loader.load(org.bytedeco.pytorch.global.torch.class);
        Loader.load(org.bytedeco.pytorch.global.torch_gloo.class);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot lock " + lockFile + " to load libtorch", e);
      }
      loaded = true;
    }
  }
}
