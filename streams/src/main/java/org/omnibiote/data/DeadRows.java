package org.omnibiote.data;

import java.util.Arrays;

/**
 * An immutable set of dead row ids as sorted disjoint intervals (a superseded UniRef100 release is
 * one interval, a record updated by a daily file one row), with rank and select over the live rows
 * in O(log intervals).
 */
final class DeadRows {
  static final DeadRows NONE = new DeadRows(new long[0], new long[0], new long[] {0});

  private final long[] starts;
  private final long[] ends;

  /** cum[i]: dead rows in intervals 0..i-1. */
  private final long[] cum;

  private DeadRows(long[] starts, long[] ends, long[] cum) {
    this.starts = starts;
    this.ends = ends;
    this.cum = cum;
  }

  long count() {
    return cum[starts.length];
  }

  boolean contains(long row) {
    int i = lastStartAtOrBefore(row);
    return i >= 0 && row < ends[i];
  }

  /** Dead rows below {@code row}. */
  long deadBefore(long row) {
    int i = lastStartAtOrBefore(row);
    if (i < 0) {
      return 0;
    }
    return cum[i] + Math.min(ends[i], row) - starts[i];
  }

  /** The position of live {@code row} among the live rows, or -1 when it is dead. */
  long rank(long row) {
    return contains(row) ? -1 : row - deadBefore(row);
  }

  /** The {@code p}-th live row (0-based). */
  long select(long p) {
    // Largest i with starts[i] - cum[i] <= p: interval i begins at or before the p-th live row.
    int lo = 0;
    int hi = starts.length - 1;
    int found = -1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (starts[mid] - cum[mid] <= p) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? p : p + cum[found + 1];
  }

  /** This set with the intervals [from[i], to[i]) added. */
  DeadRows plus(long[] from, long[] to) {
    int m = starts.length + from.length;
    long[][] all = new long[m][];
    for (int i = 0; i < starts.length; i++) {
      all[i] = new long[] {starts[i], ends[i]};
    }
    for (int i = 0; i < from.length; i++) {
      all[starts.length + i] = new long[] {from[i], to[i]};
    }
    Arrays.sort(all, (a, b) -> Long.compare(a[0], b[0]));
    long[] s = new long[m];
    long[] e = new long[m];
    int k = 0;
    for (long[] iv : all) {
      if (iv[1] <= iv[0]) {
        continue;
      }
      if (k > 0 && iv[0] <= e[k - 1]) {
        e[k - 1] = Math.max(e[k - 1], iv[1]);
      } else {
        s[k] = iv[0];
        e[k] = iv[1];
        k++;
      }
    }
    long[] c = new long[k + 1];
    for (int i = 0; i < k; i++) {
      c[i + 1] = c[i] + e[i] - s[i];
    }
    return new DeadRows(Arrays.copyOf(s, k), Arrays.copyOf(e, k), c);
  }

  /** This set with single rows added. */
  DeadRows plusRows(long[] rows) {
    long[] to = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      to[i] = rows[i] + 1;
    }
    return plus(rows, to);
  }

  private int lastStartAtOrBefore(long row) {
    int i = Arrays.binarySearch(starts, row);
    return i >= 0 ? i : -i - 2;
  }
}
