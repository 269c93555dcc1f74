package org.omnibiote.console;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;

/**
 * The bearer token that the console's actions need. Its id (a hash prefix) names who did what in
 * the ledger and the events; the token itself is never logged or put in a URL.
 */
public final class ConsoleToken {
  /** The run folder's token file, readable by its owner only. */
  public static final String FILE = "console-token";

  private final byte[] token;
  private final String id;
  private final boolean generated;

  private ConsoleToken(String token, boolean generated) {
    this.token = token.getBytes(StandardCharsets.UTF_8);
    this.id = idOf(token);
    this.generated = generated;
  }

  /**
   * The configured token, or the run folder's {@value #FILE}, or a new one written there (mode
   * 0600, temp file, fsync, rename).
   */
  public static ConsoleToken resolve(String configured, Path runDir) {
    if (!configured.isEmpty()) {
      return new ConsoleToken(configured, false);
    }
    Path file = runDir.resolve(FILE);
    try {
      if (Files.exists(file)) {
        String t = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (t.isEmpty()) {
          throw new UserError(
              file + " is empty: delete it for a new token, or set OMNIBIOTE_CONSOLE_TOKEN");
        }
        return new ConsoleToken(t, false);
      }
      byte[] random = new byte[24];
      new SecureRandom().nextBytes(random);
      String t = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
      Files.createDirectories(runDir);
      AtomicFiles.writeOwnerOnly(file, (t + "\n").getBytes(StandardCharsets.UTF_8));
      return new ConsoleToken(t, true);
    } catch (IOException e) {
      throw new UserError("cannot read or write the console token " + file + ": " + e.getMessage());
    }
  }

  /** Whether this run generated the token now (it is printed once). */
  public boolean generated() {
    return generated;
  }

  /** What the ledger and the events record for an action taken with this token. */
  public String id() {
    return id;
  }

  /** The token, to print once when it was generated. */
  public String reveal() {
    return new String(token, StandardCharsets.UTF_8);
  }

  /** Whether an Authorization header value carries this token (compared in constant time). */
  public boolean accepts(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    byte[] given = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, token);
  }

  static String idOf(String token) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
      return "tok-" + HexFormat.of().formatHex(h, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
