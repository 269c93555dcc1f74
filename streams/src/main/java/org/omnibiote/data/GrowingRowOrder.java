package org.omnibiote.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The order in which one dataset's rows are visited while the corpus grows: position k of the
 * dataset's sample sequence to a row of its universe (the rows of every adopted data generation,
 * generation after generation), a pure function of (seed, dataset, the changes and the positions
 * they take effect at). With no change it is exactly {@link RowOrder}.
 *
 * <p><b>Exactly once.</b> An epoch is a run of positions that visits a set of rows each once. The
 * first epoch visits the rows live at position 0 in a permutation keyed by (seed, dataset, epoch);
 * when it has visited them all the next epoch starts over the rows live then. A change (an adopted
 * generation: new rows, and rows whose every document was superseded) at position k within an epoch
 * starts a <i>segment</i> of that epoch: its rows are the rows the epoch had not visited before k,
 * less the newly dead, plus the new rows, in a fresh permutation keyed by (seed, dataset, epoch,
 * segment). Hence: within an epoch no row is visited twice; a dead row is never visited from its
 * change on; a row live at a change (new or old) is visited in the rest of the current epoch or,
 * when the epoch was cut, in the next one. A change that kills more than an eighth of the epoch's
 * remaining rows (a new UniRef100 release replacing the last) ends the epoch instead: the next one
 * starts at k over the rows live then; the same three properties hold.
 *
 * <p>A lookup walks the segments of its epoch back to its start, one permutation each: O(changes in
 * the epoch). Building the segments inverts each newly dead row through them: O(dead rows x changes
 * in the epoch). Memory: the dead rows as intervals, and per segment the removed rows.
 */
final class GrowingRowOrder {
  private static final long CONTINUATION = 0x636f6e74L;

  /**
   * A change at dataset position {@code position}: the universe grows to {@code universe} rows (new
   * rows are [previous universe, universe)), and the rows in [deadFrom[i], deadTo[i]) die.
   */
  record Change(long position, long universe, long[] deadFrom, long[] deadTo) {
    Change {
      if (deadFrom.length != deadTo.length) {
        throw new IllegalArgumentException("dead intervals need a start and an end each");
      }
    }

    long deadCount() {
      long n = 0;
      for (int i = 0; i < deadFrom.length; i++) {
        n += deadTo[i] - deadFrom[i];
      }
      return n;
    }
  }

  private abstract static class Segment {
    final long start;
    final long size;
    final long epoch;

    Segment(long start, long size, long epoch) {
      this.start = start;
      this.size = size;
      this.epoch = epoch;
    }

    long end() {
      return start + size;
    }

    /** The row of visit {@code v} (0 <= v < size). */
    abstract long row(long v);

    /** The visit of {@code row} in this segment, or -1 when the segment does not visit it. */
    abstract long visitOf(long row);
  }

  private final class EpochStart extends Segment {
    final long universe;
    final DeadRows dead;
    final FeistelPermutation perm;

    EpochStart(long start, long epoch, long universe, DeadRows dead) {
      super(start, universe - dead.deadBefore(universe), epoch);
      this.universe = universe;
      this.dead = dead;
      this.perm =
          size > 0 ? new FeistelPermutation(Seeds.mix(seed, datasetKey, epoch), size) : null;
    }

    @Override
    long row(long v) {
      return dead.select(perm.apply(v));
    }

    @Override
    long visitOf(long row) {
      if (row >= universe || size == 0) {
        return -1;
      }
      long rank = dead.rank(row);
      return rank < 0 ? -1 : perm.inverse(rank);
    }
  }

  private final class Continuation extends Segment {
    final Segment parent;
    final long consumed;
    final long[] removed;
    final long remaining;
    final long newFrom;
    final FeistelPermutation perm;

    Continuation(
        long start,
        long epoch,
        int index,
        Segment parent,
        long consumed,
        long[] removed,
        long newFrom,
        long newTo) {
      super(start, parent.size - consumed - removed.length + (newTo - newFrom), epoch);
      this.parent = parent;
      this.consumed = consumed;
      this.removed = removed;
      this.remaining = parent.size - consumed - removed.length;
      this.newFrom = newFrom;
      this.perm =
          size > 0
              ? new FeistelPermutation(
                  Seeds.mix(seed, datasetKey, epoch, index, CONTINUATION), size)
              : null;
    }

    @Override
    long row(long v) {
      long q = perm.apply(v);
      if (q < remaining) {
        return parent.row(consumed + selectKept(q));
      }
      return newFrom + (q - remaining);
    }

    @Override
    long visitOf(long row) {
      if (size == 0) {
        return -1;
      }
      long q;
      if (row >= newFrom && row < newFrom + (size - remaining)) {
        q = remaining + (row - newFrom);
      } else {
        long w = parent.visitOf(row);
        if (w < consumed) {
          return -1; // visited before this segment, or never in it
        }
        long o = w - consumed;
        int at = Arrays.binarySearch(removed, o);
        if (at >= 0) {
          return -1;
        }
        q = o - (-at - 1);
      }
      return perm.inverse(q);
    }

    /** The q-th offset (from consumed) of the parent's remaining visits that was not removed. */
    private long selectKept(long q) {
      // Largest j with removed[j] - j <= q: j+1 removed offsets lie below the answer.
      int lo = 0;
      int hi = removed.length - 1;
      int found = -1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        if (removed[mid] - mid <= q) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      return q + found + 1;
    }
  }

  private final long seed;
  private final long datasetKey;
  private final List<Segment> segments = new ArrayList<>();

  /** The universe and dead rows after the last change: every epoch after it is over these. */
  private final long finalUniverse;

  private final DeadRows finalDead;

  /**
   * @param initialUniverse the rows at position 0 (the generations adopted when the run starts)
   * @param initialDead those of them dead at position 0
   * @param changes later adoptions, by position (several at one position are applied in order)
   */
  GrowingRowOrder(
      long seed,
      long datasetKey,
      long initialUniverse,
      DeadRows initialDead,
      List<Change> changes) {
    this.seed = seed;
    this.datasetKey = datasetKey;
    long universe = initialUniverse;
    DeadRows dead = initialDead;
    Segment current = new EpochStart(0, 0, universe, dead);
    segments.add(current);
    int segmentInEpoch = 0;
    long lastPosition = 0;
    for (Change c : changes) {
      if (c.position() < lastPosition) {
        throw new IllegalArgumentException("changes out of order at position " + c.position());
      }
      if (c.universe() < universe) {
        throw new IllegalArgumentException("the universe cannot shrink");
      }
      lastPosition = c.position();
      // Epochs that end before the change.
      while (current.end() <= c.position()) {
        Segment next;
        if (current instanceof EpochStart e
            && e.universe == universe
            && e.dead == dead
            && current.size > 0) {
          long skip = (c.position() - current.end()) / current.size;
          next =
              new EpochStart(
                  current.end() + skip * current.size, current.epoch + 1 + skip, universe, dead);
        } else {
          next = new EpochStart(current.end(), current.epoch + 1, universe, dead);
        }
        current = next;
        segments.add(current);
        segmentInEpoch = 0;
        if (current.size == 0) {
          break; // nothing live: no position can be served until a change adds rows
        }
      }
      DeadRows after = dead.plus(c.deadFrom(), c.deadTo());
      long consumed = c.position() - current.start;
      long remaining = current.size - consumed;
      boolean bulk = c.deadCount() > Math.max(64, remaining / 8);
      if (consumed <= 0 && current instanceof EpochStart) {
        // A change at an epoch's first position: that epoch is over the new rows.
        current = new EpochStart(c.position(), current.epoch, c.universe(), after);
        segmentInEpoch = 0;
      } else if (bulk || current.size == 0 || remaining <= 0) {
        current = new EpochStart(c.position(), current.epoch + 1, c.universe(), after);
        segmentInEpoch = 0;
      } else {
        long[] removed = removedVisits(current, consumed, c);
        segmentInEpoch++;
        current =
            new Continuation(
                c.position(),
                current.epoch,
                segmentInEpoch,
                current,
                consumed,
                removed,
                universe,
                c.universe());
      }
      if (segments.get(segments.size() - 1).start == c.position()) {
        // The segment that began here has no positions now (a continuation still reads
        // through it as its parent).
        segments.remove(segments.size() - 1);
      }
      segments.add(current);
      universe = c.universe();
      dead = after;
    }
    this.finalUniverse = universe;
    this.finalDead = dead;
  }

  /** Visits (offsets from consumed) of {@code seg} that the change kills, sorted. */
  private static long[] removedVisits(Segment seg, long consumed, Change c) {
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < c.deadFrom().length; i++) {
      for (long r = c.deadFrom()[i]; r < c.deadTo()[i]; r++) {
        long v = seg.visitOf(r);
        if (v >= consumed) {
          out.add(v - consumed);
        }
      }
    }
    return out.stream().mapToLong(Long::longValue).sorted().distinct().toArray();
  }

  /** The row visited at dataset position {@code k}. */
  long row(long k) {
    Segment s = segmentOf(k);
    return s.row(k - s.start);
  }

  /** The epoch position {@code k} belongs to. */
  long epochOf(long k) {
    return segmentOf(k).epoch;
  }

  /** The first position of the epoch after the one {@code k} is in, as far as known now. */
  private Segment segmentOf(long k) {
    if (k < 0) {
      throw new IllegalArgumentException("negative position " + k);
    }
    int lo = 0;
    int hi = segments.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (segments.get(mid).start <= k) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    Segment s = segments.get(lo);
    if (k < s.end()) {
      return s;
    }
    if (lo < segments.size() - 1) {
      // Whole epochs between two changes are not listed: they repeat the epoch before them
      // (the constructor skips only over epochs like the one it listed last).
      if (s instanceof EpochStart e && e.size > 0) {
        long j = (k - s.end()) / e.size;
        return new EpochStart(s.end() + j * e.size, s.epoch + 1 + j, e.universe, e.dead);
      }
      throw new IllegalStateException("no live rows to visit at position " + k);
    }
    // After the last change every epoch is over the final live rows.
    EpochStart next = new EpochStart(s.end(), s.epoch + 1, finalUniverse, finalDead);
    if (next.size == 0) {
      throw new IllegalStateException("no live rows to visit at position " + k);
    }
    long skip = (k - next.start) / next.size;
    return skip == 0
        ? next
        : new EpochStart(
            next.start + skip * next.size, next.epoch + skip, finalUniverse, finalDead);
  }
}
