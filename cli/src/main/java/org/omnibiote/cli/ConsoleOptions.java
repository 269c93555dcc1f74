package org.omnibiote.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import picocli.CommandLine.Option;

/** Where the admin console of a run listens (flags over OMNIBIOTE_CONSOLE_* over config). */
final class ConsoleOptions {
  @Option(
      names = "--console-port",
      paramLabel = "PORT",
      description =
          "Port of the run's admin console (web page, JSON API, /metrics); 0: no console"
              + " (env OMNIBIOTE_CONSOLE_PORT; default omnibiote.console.port, 8470; a taken"
              + " port gives a free one, printed at start).")
  Integer port;

  @Option(
      names = "--console-host",
      paramLabel = "HOST",
      description =
          "Address the console binds (env OMNIBIOTE_CONSOLE_HOST; default 127.0.0.1). Beyond"
              + " loopback every request needs the token.")
  String host;

  Config apply(Config c) {
    if (port != null) {
      if (port < 0 || port > 65535) {
        throw new org.omnibiote.UserError(
            "--console-port " + port + ": give a port 1-65535, or 0 for no console");
      }
      c = c.withValue("omnibiote.console.port", ConfigValueFactory.fromAnyRef(port));
    }
    if (host != null) {
      c = c.withValue("omnibiote.console.host", ConfigValueFactory.fromAnyRef(host));
    }
    return c;
  }
}
