package org.omnibiote.genbank;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.omnibiote.records.PyText;

/**
 * A feature location string followed through Biopython 1.80's {@code Location.fromstring} (as the
 * GenBank consumer calls it), only to find the locations where it raises something other than
 * {@code LocationParserError} (which the consumer turns into a warning and a location of None): an
 * unclosed {@code complement(}, an empty {@code join()}, a location that matches its pattern only
 * in part, an unrecognised simple location, malformed {@code one-of} positions, an origin-spanning
 * location beyond the sequence length.
 */
final class LocationCheck {
  private static final String REFERENCE = "(?:[a-zA-Z][a-zA-Z0-9_\\.\\|]*[a-zA-Z0-9]?\\:)";
  private static final String ONEOF_POSITION = "one\\-of\\(\\d+[,\\d+]+\\)";
  private static final String ONEOF_LOCATION_ANY =
      "[<>]?(?:\\d+|" + ONEOF_POSITION + ")\\.\\.[<>]?(?:\\d+|" + ONEOF_POSITION + ")";
  private static final Pattern ANY_LOCATION =
      Pattern.compile(
          "("
              + REFERENCE
              + "?"
              + ONEOF_LOCATION_ANY
              + "|complement\\("
              + ONEOF_LOCATION_ANY
              + "\\)|[^,]+|complement\\([^,]+\\))");

  private static final String PAIR = "[<>]?-?\\d+\\.\\.[<>]?-?\\d+";
  private static final String BETWEEN = "\\d+\\^\\d+";
  private static final String WITHIN_POS = "\\(\\d+\\.\\d+\\)";
  private static final String WITHIN =
      "([<>]?\\d+|" + WITHIN_POS + ")\\.\\.([<>]?\\d+|" + WITHIN_POS + ")";
  private static final String ONEOF =
      "([<>]?\\d+|" + ONEOF_POSITION + ")\\.\\.([<>]?\\d+|" + ONEOF_POSITION + ")";
  private static final String SOLO = "[<>]?\\d+";
  private static final String BOND = "bond\\(" + SOLO + "\\)";
  private static final Pattern CATEGORY =
      Pattern.compile(
          "^(?<pair>"
              + PAIR
              + ")|(?<between>"
              + BETWEEN
              + ")|(?<within>"
              + WITHIN
              + ")|(?<oneof>"
              + ONEOF
              + ")|(?<bond>"
              + BOND
              + ")|(?<solo>"
              + SOLO
              + ")$");
  private static final String[] KEYS = {"pair", "between", "within", "oneof", "bond", "solo"};
  private static final Pattern WITHIN_MATCH = Pattern.compile("\\((\\d+)\\.(\\d+)\\)");
  private static final Pattern ONEOF_MATCH = Pattern.compile("one\\-of\\((\\d+[,\\d+]+)\\)");

  /** Biopython's LocationParserError: a warning for the consumer, not a failure. */
  private static final class Unparsable extends Exception {
    Unparsable() {
      super(null, null, false, false);
    }
  }

  /** What SimpleLocation.fromstring returned: nothing, or a location on a strand. */
  private record Parsed(boolean minusStrand, int parts) {}

  private LocationCheck() {}

  /**
   * @param content the location as the scanner joined it (may hold whitespace)
   * @param length the LOCUS length, or null
   */
  static void check(String content, Long length, boolean circular) throws GenBankFormatException {
    String line = String.join("", PyText.split(content));
    if (line.contains("replace")) {
      int comma = line.indexOf(',');
      line = PyText.slice(line, 8, comma < 0 ? line.length() - 1 : comma);
    }
    try {
      fromString(line, length, circular);
    } catch (Unparsable e) {
      // Biopython warns and sets the location to None; the record is kept.
    } catch (NumberFormatException e) {
      // Only a number beyond 64 bits gets here, which Python's int takes: accepted.
    }
  }

  private static void fromString(String text, Long length, boolean circular)
      throws GenBankFormatException, Unparsable {
    boolean minus = false;
    if (text.startsWith("complement(")) {
      if (!text.endsWith(")")) {
        throw new GenBankFormatException("closing bracket missing in '" + text + "'");
      }
      text = text.substring(11, text.length() - 1);
      minus = true;
    }
    String inner;
    if (text.startsWith("join(") || text.startsWith("bond(")) {
      inner = PyText.slice(text, 5, text.length() - 1);
    } else if (text.startsWith("order(")) {
      inner = PyText.slice(text, 6, text.length() - 1);
    } else {
      if (simple(text, length, circular) == null) {
        throw new GenBankFormatException(
            "'NoneType' object has no attribute 'strand' (location '" + text + "')");
      }
      return;
    }
    List<String> parts = new ArrayList<>();
    Matcher m = ANY_LOCATION.matcher(inner);
    while (m.find()) {
      parts.add(m.group(1));
    }
    int locs = 0;
    boolean complete = true;
    for (String part : parts) {
      Parsed loc = simple(part, length, circular);
      if (loc == null) {
        complete = false;
        break;
      }
      if (loc.minusStrand() && minus) {
        throw new Unparsable(); // "double complement"
      }
      locs += loc.parts();
    }
    if (complete) {
      if (locs == 0) {
        throw new GenBankFormatException(
            "CompoundLocation should have at least 2 parts, not [] (location '" + text + "')");
      }
      return;
    }
    if (text.contains("order") && text.contains("join")) {
      throw new Unparsable();
    }
    if (text.contains(",)")) {
      fromString(text.replace(",)", ")"), null, false);
      return;
    }
    throw new Unparsable();
  }

  /** SimpleLocation.fromstring: null where it returns None. */
  private static Parsed simple(String text, Long length, boolean circular)
      throws GenBankFormatException, Unparsable {
    boolean minus = false;
    if (text.startsWith("complement(")) {
      text = PyText.slice(text, 11, text.length() - 1);
      minus = true;
    }
    List<String> ends = PyText.split(text, "..");
    if (ends.size() == 2) {
      try {
        long s = PyText.parseInt(ends.get(0)) - 1;
        long e = PyText.parseInt(ends.get(1));
        if (0 <= s && s <= e) {
          return new Parsed(minus, 1);
        }
      } catch (NumberFormatException ignored) {
        // Not the simple case: try the general one, as Biopython does.
      }
    }
    List<String> refSplit = PyText.split(text, ":");
    if (refSplit.size() == 2) {
      text = refSplit.get(1);
    }
    Matcher m = CATEGORY.matcher(text);
    if (!m.lookingAt()) {
      return null;
    }
    String key = null;
    String value = null;
    for (String k : KEYS) {
      if (m.group(k) != null) {
        key = k;
        value = m.group(k);
        break;
      }
    }
    if (!text.equals(value)) {
      throw new GenBankFormatException(
          "AssertionError: location '" + text + "' matches a location pattern only in part");
    }
    long start;
    long end;
    switch (key) {
      case "bond", "solo" -> {
        String pos = key.equals("bond") ? text.substring(5, text.length() - 1) : text;
        start = position(pos, -1);
        end = position(pos, 0);
      }
      case "between" -> {
        List<String> se = PyText.split(text, "^");
        long s = PyText.parseInt(se.get(0));
        long e = PyText.parseInt(se.get(1));
        if (!(s + 1 == e || (length != null && s == length && e == 1))) {
          throw new Unparsable();
        }
        start = s;
        end = s;
      }
      default -> {
        List<String> se = PyText.split(text, "..");
        start = position(se.get(0), -1);
        end = position(se.get(1), 0);
        if (start > end) {
          if (!circular) {
            throw new Unparsable();
          }
          if (length == null) {
            throw new GenBankFormatException(
                "end=None <class 'NoneType'> (location '"
                    + text
                    + "' spans the origin of a sequence without length)");
          }
          if (end < 0) {
            throw new GenBankFormatException(
                "End location (" + end + ") must be greater than or equal to start location (0)");
          }
          if (start > length) {
            throw new GenBankFormatException(
                "End location ("
                    + length
                    + ") must be greater than or equal to start location ("
                    + start
                    + ")");
          }
          return new Parsed(minus, 2);
        }
      }
    }
    if (start < 0) {
      throw new Unparsable();
    }
    return new Parsed(minus, 1);
  }

  /** Position.fromstring: the position's integer value. */
  private static long position(String text, int offset) throws GenBankFormatException {
    try {
      if (text.startsWith("?") || text.startsWith("<") || text.startsWith(">")) {
        return PyText.parseInt(text.substring(1)) + offset;
      }
      Matcher w = WITHIN_MATCH.matcher(text);
      if (w.lookingAt()) {
        long s = Long.parseLong(w.group(1)) + offset;
        long e = Long.parseLong(w.group(2)) + offset;
        return offset == -1 ? s : e;
      }
      Matcher o = ONEOF_MATCH.matcher(text);
      if (o.lookingAt()) {
        long best = offset == -1 ? Long.MAX_VALUE : Long.MIN_VALUE;
        for (String p : PyText.split(o.group(1), ",")) {
          long v = PyText.parseInt(p) + offset;
          best = offset == -1 ? Math.min(best, v) : Math.max(best, v);
        }
        return best;
      }
      return PyText.parseInt(text) + offset;
    } catch (NumberFormatException e) {
      throw new GenBankFormatException(e.getMessage());
    }
  }
}
