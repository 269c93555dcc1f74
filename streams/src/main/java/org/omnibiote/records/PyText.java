package org.omnibiote.records;

import java.util.ArrayList;
import java.util.List;

/**
 * The few Python {@code str} operations the original's Biopython parsers rely on, with the same
 * semantics (whitespace set, slicing that clamps instead of throwing, {@code int()}), so the ports
 * read like the code they mirror.
 */
public final class PyText {
  private PyText() {}

  /** Python's {@code str.isspace()} for one character (ASCII and the common Unicode spaces). */
  public static boolean isSpace(char c) {
    return c == ' '
        || (c >= '\t' && c <= '\r')
        || (c >= 0x1c && c <= 0x1f)
        || c == 0x85
        || c == 0xa0
        || c == 0x1680
        || (c >= 0x2000 && c <= 0x200a)
        || c == 0x2028
        || c == 0x2029
        || c == 0x202f
        || c == 0x205f
        || c == 0x3000;
  }

  /** Whether a byte is ASCII whitespace as Python's {@code str.strip()} sees it. */
  public static boolean isSpaceByte(byte b) {
    return b == ' ' || (b >= '\t' && b <= '\r') || (b >= 0x1c && b <= 0x1f);
  }

  public static String rstrip(String s) {
    int end = s.length();
    while (end > 0 && isSpace(s.charAt(end - 1))) {
      end--;
    }
    return s.substring(0, end);
  }

  public static String lstrip(String s) {
    int start = 0;
    while (start < s.length() && isSpace(s.charAt(start))) {
      start++;
    }
    return s.substring(start);
  }

  public static String strip(String s) {
    return lstrip(rstrip(s));
  }

  /** {@code s[from:to]} with Python's clamping. */
  public static String slice(String s, int from, int to) {
    int n = s.length();
    int a = Math.min(Math.max(from, 0), n);
    int b = Math.min(Math.max(to, 0), n);
    return a >= b ? "" : s.substring(a, b);
  }

  /** {@code s[from:]}. */
  public static String slice(String s, int from) {
    return slice(s, from, s.length());
  }

  /** {@code s.split()}: split on runs of whitespace, no empty fields. */
  public static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    int i = 0;
    int n = s.length();
    while (i < n) {
      while (i < n && isSpace(s.charAt(i))) {
        i++;
      }
      int start = i;
      while (i < n && !isSpace(s.charAt(i))) {
        i++;
      }
      if (i > start) {
        out.add(s.substring(start, i));
      }
    }
    return out;
  }

  /** {@code s.split(sep)} for a literal separator: keeps empty fields. */
  public static List<String> split(String s, String sep) {
    List<String> out = new ArrayList<>();
    int from = 0;
    while (true) {
      int at = s.indexOf(sep, from);
      if (at < 0) {
        out.add(s.substring(from));
        return out;
      }
      out.add(s.substring(from, at));
      from = at + sep.length();
    }
  }

  /** Replaces every double space by one until none is left, as the Biopython loops do. */
  public static String collapseSpaces(String s) {
    while (s.contains("  ")) {
      s = s.replace("  ", " ");
    }
    return s;
  }

  /** Python's {@code str.isdigit()} for ASCII text: non-empty and all digits. */
  public static boolean isDigits(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (!Character.isDigit(s.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Python's {@code int(s)}: surrounding whitespace, an optional sign, digits with single
   * underscores between them.
   *
   * @throws NumberFormatException with Python's message when {@code int()} would raise
   */
  public static long parseInt(String text) {
    String s = strip(text);
    int i = 0;
    boolean negative = false;
    if (!s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      negative = s.charAt(0) == '-';
      i = 1;
    }
    long value = 0;
    boolean digitSeen = false;
    boolean lastUnderscore = false;
    for (; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '_' && digitSeen && !lastUnderscore) {
        lastUnderscore = true;
        continue;
      }
      int d = Character.digit(c, 10);
      if (d < 0 || value > (Long.MAX_VALUE - d) / 10) {
        throw invalidInt(text);
      }
      value = value * 10 + d;
      digitSeen = true;
      lastUnderscore = false;
    }
    if (!digitSeen || lastUnderscore) {
      throw invalidInt(text);
    }
    return negative ? -value : value;
  }

  private static NumberFormatException invalidInt(String text) {
    return new NumberFormatException("invalid literal for int() with base 10: '" + text + "'");
  }
}
