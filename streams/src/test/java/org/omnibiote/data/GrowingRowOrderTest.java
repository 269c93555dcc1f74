package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The order of a growing corpus, checked directly on its definition of exactly once: within an
 * epoch no row twice; no dead row from its change on; every row live at a change is visited in the
 * rest of that epoch or in the next; a pure function of (seed, dataset, changes); and with no
 * change, RowOrder itself.
 */
class GrowingRowOrderTest {

  @Test
  void withoutChangesItIsRowOrder() {
    for (long n : new long[] {1, 2, 7, 100, 1000, 4097}) {
      RowOrder old = new RowOrder(42, 2, n);
      GrowingRowOrder grown = new GrowingRowOrder(42, 2, n, DeadRows.NONE, List.of());
      for (long k = 0; k < 3 * n + 5; k++) {
        assertEquals(old.row(k), grown.row(k), "n " + n + " k " + k);
        assertEquals(k / n, grown.epochOf(k));
      }
    }
  }

  @Test
  void feistelInverseUndoesIt() {
    FeistelPermutation p = new FeistelPermutation(99, 1234);
    Set<Long> seen = new HashSet<>();
    for (long x = 0; x < 1234; x++) {
      long y = p.apply(x);
      assertTrue(y >= 0 && y < 1234);
      assertTrue(seen.add(y));
      assertEquals(x, p.inverse(y));
    }
  }

  @Test
  void deadRowsRankAndSelectAgree() {
    DeadRows d =
        DeadRows.NONE
            .plus(new long[] {3, 10, 11}, new long[] {5, 12, 20})
            .plusRows(new long[] {0, 25});
    List<Long> live = new ArrayList<>();
    for (long r = 0; r < 40; r++) {
      if (!d.contains(r)) {
        live.add(r);
      }
    }
    assertEquals(40 - live.size(), d.deadBefore(40));
    for (int p = 0; p < live.size(); p++) {
      assertEquals(live.get(p), d.select(p));
      assertEquals(p, d.rank(live.get(p)));
    }
  }

  /** A random history of changes: new rows, single dead rows, sometimes a whole range dying. */
  static List<GrowingRowOrder.Change> history(long seed, long initial, int changes, long span) {
    SplittableRandom rnd = new SplittableRandom(seed);
    List<GrowingRowOrder.Change> out = new ArrayList<>();
    long universe = initial;
    TreeSet<Long> dead = new TreeSet<>();
    long pos = 0;
    for (int i = 0; i < changes; i++) {
      pos += rnd.nextLong(0, span);
      long grow = rnd.nextInt(4) == 0 ? 0 : rnd.nextLong(1, 40);
      List<long[]> killed = new ArrayList<>();
      if (rnd.nextInt(6) == 0) {
        long from = rnd.nextLong(0, universe);
        long to = Math.min(universe, from + rnd.nextLong(1, universe));
        killed.add(new long[] {from, to});
      } else {
        int k = rnd.nextInt(6);
        for (int j = 0; j < k; j++) {
          long r = rnd.nextLong(0, universe);
          killed.add(new long[] {r, r + 1});
        }
      }
      killed.forEach(
          iv -> {
            for (long r = iv[0]; r < iv[1]; r++) dead.add(r);
          });
      universe += grow;
      out.add(
          new GrowingRowOrder.Change(
              pos,
              universe,
              killed.stream().mapToLong(iv -> iv[0]).toArray(),
              killed.stream().mapToLong(iv -> iv[1]).toArray()));
    }
    return out;
  }

  @Test
  void exactlyOnceOverRandomHistories() {
    for (long trial = 0; trial < 60; trial++) {
      long initial = 1 + trial * 7 % 90;
      List<GrowingRowOrder.Change> changes = history(trial, initial, 12, 3 * initial);
      GrowingRowOrder order = new GrowingRowOrder(trial, 1, initial, DeadRows.NONE, changes);
      long end = changes.get(changes.size() - 1).position() + 4 * (initial + 500);
      // Replay: universe and dead set by position.
      long universe = initial;
      Set<Long> dead = new HashSet<>();
      int next = 0;
      Map<Long, Set<Long>> visitedInEpoch = new HashMap<>();
      List<long[]> promises = new ArrayList<>(); // {row, epoch at change, position of change}
      long lastEpoch = -1;
      List<Long> epochs = new ArrayList<>();
      for (long k = 0; k < end; k++) {
        while (next < changes.size() && changes.get(next).position() == k) {
          GrowingRowOrder.Change c = changes.get(next++);
          for (int i = 0; i < c.deadFrom().length; i++) {
            for (long r = c.deadFrom()[i]; r < c.deadTo()[i]; r++) {
              dead.add(r);
            }
          }
          universe = c.universe();
          for (long r = 0; r < universe; r++) {
            if (!dead.contains(r)) {
              promises.add(new long[] {r, order.epochOf(k), k});
            }
          }
        }
        long live = 0;
        for (long r = 0; r < universe; r++) {
          live += dead.contains(r) ? 0 : 1;
        }
        if (live == 0) {
          continue;
        }
        long row = order.row(k);
        long epoch = order.epochOf(k);
        assertTrue(row >= 0 && row < universe, "trial " + trial + " k " + k + " row " + row);
        assertFalse(dead.contains(row), "trial " + trial + ": dead row " + row + " at " + k);
        assertTrue(
            visitedInEpoch.computeIfAbsent(epoch, e -> new HashSet<>()).add(row),
            "trial " + trial + ": row " + row + " twice in epoch " + epoch + " (at " + k + ")");
        if (epoch != lastEpoch) {
          epochs.add(epoch);
          lastEpoch = epoch;
        }
      }
      // Every row live at a change is visited later in that epoch or in the next (checked for
      // epochs the replay saw end: the last epoch seen may be incomplete).
      long lastComplete = epochs.size() >= 2 ? epochs.get(epochs.size() - 2) : -1;
      for (long[] p : promises) {
        long row = p[0];
        long epoch = p[1];
        if (epoch + 1 > lastComplete || dead.contains(row)) {
          continue;
        }
        boolean seen =
            visitedInEpoch.getOrDefault(epoch, Set.of()).contains(row)
                || visitedInEpoch.getOrDefault(epoch + 1, Set.of()).contains(row);
        assertTrue(seen, "trial " + trial + ": row " + row + " live at " + p[2] + " never visited");
      }
    }
  }

  @Test
  void theOrderIsAPureFunctionOfSeedAndChangesAndRandomAccessAgrees() {
    List<GrowingRowOrder.Change> changes = history(5, 50, 10, 120);
    GrowingRowOrder a = new GrowingRowOrder(9, 0, 50, DeadRows.NONE, changes);
    GrowingRowOrder b = new GrowingRowOrder(9, 0, 50, DeadRows.NONE, new ArrayList<>(changes));
    long end = changes.get(9).position() + 500;
    long[] sequential = new long[(int) end];
    for (int k = 0; k < end; k++) {
      sequential[k] = a.row(k);
    }
    SplittableRandom rnd = new SplittableRandom(1);
    for (int i = 0; i < 2000; i++) {
      int k = rnd.nextInt((int) end);
      assertEquals(sequential[k], b.row(k), "position " + k);
    }
    GrowingRowOrder otherSeed = new GrowingRowOrder(10, 0, 50, DeadRows.NONE, changes);
    int differ = 0;
    for (int k = 0; k < end; k++) {
      differ += otherSeed.row(k) != sequential[k] ? 1 : 0;
    }
    assertTrue(differ > end / 2, "another seed, another order: " + differ);
  }

  @Test
  void positionsBeforeAChangeKeepTheirRows() {
    // A resumed run that adopts a generation at position 300 trains positions < 300 as before.
    GrowingRowOrder before = new GrowingRowOrder(3, 0, 200, DeadRows.NONE, List.of());
    GrowingRowOrder after =
        new GrowingRowOrder(
            3,
            0,
            200,
            DeadRows.NONE,
            List.of(new GrowingRowOrder.Change(300, 260, new long[] {5}, new long[] {6})));
    for (long k = 0; k < 300; k++) {
      assertEquals(before.row(k), after.row(k));
    }
    // The rest of epoch 1 (positions 300..399 of the first order) plus 60 new rows, less row 5
    // if it was still ahead: new rows are sampled from the change on.
    Set<Long> rest = new HashSet<>();
    for (long k = 300; k < 460; k++) {
      if (after.epochOf(k) == 1) {
        rest.add(after.row(k));
      }
    }
    assertTrue(rest.stream().anyMatch(r -> r >= 200), "new rows in the epoch under way");
    assertFalse(rest.contains(5L));
  }
}
