package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.omnibiote.UserError;
import picocli.CommandLine.Option;

/** {@code --config FILE}: a HOCON run profile (e.g. conf/tiny.conf) over the defaults. */
final class ConfigOption {

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "HOCON run profile over the defaults (e.g. conf/tiny.conf); flags override it.")
  Path profile;

  /** The profile (if any) over -D system properties over every module's reference.conf. */
  Config load() {
    ConfigFactory.invalidateCaches();
    Config defaults = ConfigFactory.load();
    if (profile == null) {
      return defaults;
    }
    if (!Files.isRegularFile(profile)) {
      throw new UserError("--config " + profile + ": no such file");
    }
    try {
      return ConfigFactory.systemProperties()
          .withFallback(ConfigFactory.parseFile(profile.toFile()))
          .withFallback(defaults)
          .resolve();
    } catch (ConfigException e) {
      throw new UserError("--config " + profile + ": " + e.getMessage(), e);
    }
  }
}
