package org.omnibiote.console;

import com.typesafe.config.Config;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.omnibiote.UserError;

/**
 * omnibiote.console: where the admin console listens, its token and its TLS keystore.
 *
 * @param port 0: no console
 * @param token empty: the run folder's console-token file (generated when missing)
 * @param keystore a PKCS12 file for HTTPS, or empty for plain HTTP
 */
public record ConsoleSettings(
    int port, String host, String token, String keystore, String keystorePassword) {

  public static final String PATH = "omnibiote.console";

  public static ConsoleSettings from(Config root) {
    if (!root.hasPath(PATH)) {
      return new ConsoleSettings(0, "127.0.0.1", "", "", "");
    }
    Config c = root.getConfig(PATH);
    int port = c.getInt("port");
    if (port < 0 || port > 65535) {
      throw new UserError("--console-port " + port + ": give a port 1-65535, or 0 for no console");
    }
    return new ConsoleSettings(
        port,
        c.getString("host").trim(),
        c.getString("token").trim(),
        c.getString("tls.keystore").trim(),
        c.getString("tls.password"));
  }

  public boolean enabled() {
    return port != 0;
  }

  public boolean tls() {
    return !keystore.isEmpty();
  }

  /** Whether only this host can reach the console (then reading needs no token). */
  public boolean loopbackOnly() {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
