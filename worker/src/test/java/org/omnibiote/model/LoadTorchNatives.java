package org.omnibiote.model;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Registered for every test class (junit-platform.properties enables autodetection): the test JVM
 * loads libtorch through {@link TorchNatives} before any test touches it, as the commands do.
 */
public final class LoadTorchNatives implements BeforeAllCallback {
  @Override
  public void beforeAll(ExtensionContext context) {
    TorchNatives.load();
  }
}
