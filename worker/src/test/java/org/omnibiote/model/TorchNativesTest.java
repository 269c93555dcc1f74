package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The natives folder TorchNatives unpacks is the one JavaCPP loads from: the CPU jar's
 * linux-x86_64, or the CUDA jar's linux-x86_64-gpu when that jar is on the class path (the -Pgpu
 * build). Fake natives jars stand in for the two real ones (437 MB for the CUDA one).
 */
class TorchNativesTest {
  private static final String JNI = "libjnitorch.so";
  private static final List<String> GPU = List.of("-gpu");

  @TempDir Path dir;

  @Test
  void theCpuJarAloneGivesThePlainPlatformFolder() throws IOException {
    try (URLClassLoader cp = classPath(jar("cpu.jar", "linux-x86_64"))) {
      assertEquals("linux-x86_64", TorchNatives.nativesFolder("linux-x86_64", GPU, cp, JNI));
    }
  }

  @Test
  void theGpuJarGivesTheGpuFolderAsJavaCppSearchesItFirst() throws IOException {
    try (URLClassLoader gpuOnly = classPath(jar("gpu.jar", "linux-x86_64-gpu"));
        URLClassLoader both =
            classPath(jar("c.jar", "linux-x86_64"), jar("g.jar", "linux-x86_64-gpu"))) {
      assertEquals(
          "linux-x86_64-gpu", TorchNatives.nativesFolder("linux-x86_64", GPU, gpuOnly, JNI));
      assertEquals("linux-x86_64-gpu", TorchNatives.nativesFolder("linux-x86_64", GPU, both, JNI));
    }
  }

  @Test
  void withoutTheGpuExtensionTheGpuFolderIsIgnored() throws IOException {
    // -Dorg.bytedeco.javacpp.platform.extension= (empty) leaves JavaCPP no extension to try.
    try (URLClassLoader both =
        classPath(jar("c.jar", "linux-x86_64"), jar("g.jar", "linux-x86_64-gpu"))) {
      assertEquals(
          "linux-x86_64", TorchNatives.nativesFolder("linux-x86_64", List.of(), both, JNI));
    }
  }

  @Test
  void aFolderWithoutTheJniLibraryDoesNotCount() throws IOException {
    // Another platform's jar, and a -gpu folder holding only other files.
    try (URLClassLoader cp =
        classPath(jar("arm.jar", "linux-arm64"), jar("g.jar", "linux-x86_64-gpu", "libc10.so"))) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> TorchNatives.nativesFolder("linux-x86_64", GPU, cp, JNI));
      assertTrue(e.getMessage().contains("no libtorch natives for linux-x86_64"), e.getMessage());
    }
  }

  @Test
  void thePresetsDeclareTheGpuExtensionSoTheCudaJarWouldBeUsed() {
    assertTrue(TorchNatives.extensions().contains("-gpu"), TorchNatives.extensions().toString());
  }

  @Test
  void theFolderLoadedIsTheFolderUnpacked() {
    TorchNatives.load();
    String folder = TorchNatives.loadedFolder();
    String platform = Loader.getPlatform();
    assertTrue(folder.equals(platform) || folder.equals(platform + "-gpu"), folder);
    Path jni = TorchNatives.loadedLibrary();
    assertNotNull(jni);
    // JavaCPP's own choice: the JNI library it loaded sits in the folder TorchNatives unpacked.
    assertEquals(folder, jni.getParent().getFileName().toString(), jni.toString());
    assertTrue(Files.isRegularFile(jni.resolveSibling(System.mapLibraryName("torch_cpu"))));
  }

  private Path jar(String name, String folder) throws IOException {
    return jar(name, folder, JNI);
  }

  private Path jar(String name, String folder, String file) throws IOException {
    Path jar = dir.resolve(name);
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream j = new JarOutputStream(out)) {
      j.putNextEntry(new JarEntry(TorchNatives.RESOURCE_ROOT + folder + "/"));
      j.closeEntry();
      j.putNextEntry(new JarEntry(TorchNatives.RESOURCE_ROOT + folder + "/" + file));
      j.write(new byte[] {0x7f, 'E', 'L', 'F'});
      j.closeEntry();
    }
    return jar;
  }

  private static URLClassLoader classPath(Path... jars) throws IOException {
    URL[] urls = new URL[jars.length];
    for (int i = 0; i < jars.length; i++) {
      urls[i] = jars[i].toUri().toURL();
    }
    return new URLClassLoader(urls, null); // no parent: only these jars
  }
}
