package org.omnibiote.launch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.UserError;

/**
 * A hostfile as DeepSpeed's launcher reads it: one {@code HOST slots=N} per line, {@code #} starts
 * a comment, blank lines are skipped; a host without {@code slots=} has one slot. The host name is
 * used both for ssh and as the address the node binds and advertises, so it must resolve on every
 * host to that host's address (or be the address itself).
 */
public record Hostfile(Path file, List<Host> hosts) {

  /** One line: a host and how many workers (one per slot, e.g. per GPU) run there. */
  public record Host(String name, int slots, int line) {}

  private static final Pattern LINE = Pattern.compile("(\\S+)(?:\\s+slots\\s*=\\s*(\\S+))?");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.:@\\[\\]-]+");

  /** Reads {@code file}; any bad line is one {@link UserError} naming {@code file:line}. */
  public static Hostfile read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new UserError("--hosts " + file + ": no such file");
    } catch (IOException e) {
      throw new UserError("--hosts " + file + ": cannot read it (" + e.getMessage() + ")");
    }
    Map<String, Host> seen = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      int n = i + 1;
      String text = lines.get(i);
      int hash = text.indexOf('#');
      if (hash >= 0) {
        text = text.substring(0, hash);
      }
      text = text.strip();
      if (text.isEmpty()) {
        continue;
      }
      Matcher m = LINE.matcher(text);
      if (!m.matches()) {
        throw bad(file, n, "'" + text + "' is not 'HOST slots=N'");
      }
      String name = m.group(1);
      if (!NAME.matcher(name).matches()) {
        throw bad(file, n, "'" + name + "' is not a host name or address");
      }
      int slots = 1;
      if (m.group(2) != null) {
        try {
          slots = Integer.parseInt(m.group(2));
        } catch (NumberFormatException e) {
          throw bad(file, n, "slots=" + m.group(2) + " is not a whole number");
        }
        if (slots < 1 || slots > 1024) {
          throw bad(file, n, "slots=" + slots + ": give 1 to 1024 workers for " + name);
        }
      }
      Host earlier = seen.get(name);
      if (earlier != null) {
        throw bad(file, n, name + " is already on line " + earlier.line());
      }
      seen.put(name, new Host(name, slots, n));
    }
    if (seen.isEmpty()) {
      throw new UserError(file + ": no hosts (one 'HOST slots=N' per line)");
    }
    return new Hostfile(file, List.copyOf(new ArrayList<>(seen.values())));
  }

  /** Workers over every host. */
  public int slots() {
    return hosts.stream().mapToInt(Host::slots).sum();
  }

  private static UserError bad(Path file, int line, String what) {
    return new UserError(file + ":" + line + ": " + what);
  }
}
