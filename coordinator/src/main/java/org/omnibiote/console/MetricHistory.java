package org.omnibiote.console;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A chart's history with bounded memory: every point until {@code limit}; then every second one is
 * dropped and from then on only every second new point kept, then every fourth, and so on. A run of
 * any length holds at most {@code limit} points, evenly spread from its start, with the newest
 * always present (the last point is kept even off the stride until the next one arrives). Each
 * point has a sequence number, so a client asks only for what it has not seen.
 */
public final class MetricHistory {
  /** Points kept per chart. */
  public static final int LIMIT = 2000;

  private final int limit;
  private final List<Point> points = new ArrayList<>();
  private long stride = 1;
  private long seq;
  private Point pendingLast;

  /** A point: its sequence number and its values (step, tokens, time, loss ...). */
  public record Point(long seq, Map<String, Object> values) {}

  /**
   * Points after {@code since}, and the stride the history keeps now (1: every step).
   *
   * @param points oldest first
   */
  public record Slice(List<Map<String, Object>> points, long last, long stride) {}

  public MetricHistory(int limit) {
    if (limit < 4) {
      throw new IllegalArgumentException("limit " + limit);
    }
    this.limit = limit;
  }

  public void add(Map<String, Object> values) {
    Point p = new Point(++seq, values);
    // Kept: the points whose sequence number falls on the stride, counted from the first.
    if ((p.seq() - 1) % stride != 0) {
      pendingLast = p;
      return;
    }
    pendingLast = null;
    points.add(p);
    if (points.size() >= limit) {
      stride *= 2;
      points.removeIf(q -> (q.seq() - 1) % stride != 0);
    }
  }

  /** The newest point's values, or null before the first. */
  public Map<String, Object> latest() {
    if (pendingLast != null) {
      return pendingLast.values();
    }
    return points.isEmpty() ? null : points.get(points.size() - 1).values();
  }

  /** Points kept (not counting the newest one held off the stride). */
  public int size() {
    return points.size();
  }

  public Slice since(long since) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Point p : points) {
      if (p.seq() > since) {
        out.add(withSeq(p));
      }
    }
    if (pendingLast != null && pendingLast.seq() > since) {
      out.add(withSeq(pendingLast));
    }
    return new Slice(out, seq, stride);
  }

  private static Map<String, Object> withSeq(Point p) {
    Map<String, Object> m = new java.util.LinkedHashMap<>(p.values());
    m.put("seq", p.seq());
    return m;
  }
}
