package org.omnibiote.genbank;

import java.nio.charset.StandardCharsets;

/**
 * Follows one feature's lines the way Biopython 1.80's {@code InsdcScanner.parse_feature} consumes
 * them, without building anything, to refuse exactly the features it refuses: a location that never
 * ends (trailing comma or open bracket), a quoted qualifier that is never closed, an unquoted
 * continuation line before any qualifier or after a value-less one (such as {@code /pseudo}); then
 * its location goes through {@link LocationCheck}. Lines arrive stripped and non-empty.
 */
final class FeatureChecker {
  private enum State {
    NO_LOCATION,
    LOCATION,
    LOCATION_UNBALANCED,
    QUALIFIERS,
    QUOTED
  }

  private final StringBuilder location = new StringBuilder();
  private String key;
  private Long length;
  private boolean circular;
  private State state;
  private int open;
  private int close;
  private boolean firstQualifierLine;
  private int qualifiers;
  private boolean lastQualifierHasNoValue;

  /**
   * @param length the record's LOCUS length (null if none) and
   * @param circular its topology, which Biopython's location parser takes into account
   */
  void start(String featureKey, Long length, boolean circular) {
    key = featureKey;
    this.length = length;
    this.circular = circular;
    location.setLength(0);
    state = State.NO_LOCATION;
    open = 0;
    close = 0;
    qualifiers = 0;
    lastQualifierHasNoValue = false;
  }

  String key() {
    return key;
  }

  /** One stripped, non-empty line {@code b[from..to)} of the feature. */
  void line(byte[] b, int from, int to) throws GenBankFormatException {
    switch (state) {
      case NO_LOCATION, LOCATION, LOCATION_UNBALANCED -> location(b, from, to);
      case QUOTED -> {
        if (b[to - 1] == '"') {
          state = State.QUALIFIERS;
        }
      }
      case QUALIFIERS -> qualifier(b, from, to);
    }
  }

  private void location(byte[] b, int from, int to) {
    location.append(new String(b, from, to - from, StandardCharsets.UTF_8));
    for (int i = from; i < to; i++) {
      if (b[i] == '(') {
        open++;
      } else if (b[i] == ')') {
        close++;
      }
    }
    boolean comma = b[to - 1] == ',';
    if (state == State.NO_LOCATION) {
      state = State.LOCATION;
    }
    if (state == State.LOCATION && !comma) {
      if (open > close) {
        state = State.LOCATION_UNBALANCED;
      } else {
        toQualifiers();
      }
    } else if (state == State.LOCATION_UNBALANCED && !comma && open <= close) {
      toQualifiers();
    }
  }

  private void toQualifiers() {
    state = State.QUALIFIERS;
    firstQualifierLine = true;
  }

  private void qualifier(byte[] b, int from, int to) throws GenBankFormatException {
    boolean first = firstQualifierLine;
    firstQualifierLine = false;
    if (first && b[from] == ')') {
      location.append(new String(b, from, to - from, StandardCharsets.UTF_8));
      return; // a wrapped closing bracket of the location
    }
    if (b[from] == '/') {
      qualifiers++;
      int eq = -1;
      for (int i = from; i < to; i++) {
        if (b[i] == '=') {
          eq = i;
          break;
        }
      }
      if (eq < 0) {
        lastQualifierHasNoValue = true;
        return;
      }
      lastQualifierHasNoValue = false;
      int v = eq + 1;
      if (v < to && b[v] == ' ') {
        int w = v;
        while (w < to && isSpace(b[w])) {
          w++;
        }
        if (w < to && b[w] == '"') {
          v = w;
        }
      }
      if (v < to && b[v] == '"' && to - v > 1 && b[to - 1] != '"') {
        state = State.QUOTED;
      }
      return;
    }
    if (qualifiers == 0) {
      throw problem();
    }
    if (lastQualifierHasNoValue) {
      throw problem();
    }
  }

  /** Called after the feature's last line. */
  void end() throws GenBankFormatException {
    if (state != State.QUALIFIERS) {
      throw problem();
    }
    LocationCheck.check(location.toString(), length, circular);
  }

  private GenBankFormatException problem() {
    return new GenBankFormatException("Problem with '" + key + "' feature");
  }

  private static boolean isSpace(byte c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
  }
}
