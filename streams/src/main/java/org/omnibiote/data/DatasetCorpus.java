package org.omnibiote.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One dataset's train rows over the data generations a run adopted: each generation's train shards
 * packed on their own (a <i>segment</i>; rows never straddle generations), the segments end to end
 * as one row universe, and which documents are superseded from which sample on. Immutable: an
 * adoption makes a new corpus (see {@link TrainingData#adopt}).
 *
 * <p>A row whose documents are all superseded is dead: the order ({@link GrowingRowOrder}) no
 * longer visits it from the adoption on. A row with some superseded documents is still visited, and
 * read without their tokens (shorter, padded): its live documents are trained, the superseded ones
 * not.
 */
final class DatasetCorpus {
  /** A generation's packed train shards of this dataset, at row and document offsets. */
  record Segment(
      long generation,
      PackedRows rows,
      long rowOffset,
      long docOffset,
      Map<String, Integer> shardIndex,
      long deathSample) {
    long rowEnd() {
      return rowOffset + rows.rows();
    }

    long docEnd() {
      return docOffset + rows.index().documents();
    }
  }

  private final long seed;
  private final long datasetKey;
  private final List<Segment> segments;
  // Single superseded documents (global ids, sorted) and the first sample that no longer trains
  // each; whole superseded generations are marked on their segment instead.
  private final long[] deadDocs;
  private final long[] deathSamples;
  private final DeadRows deadRows;
  private final List<GrowingRowOrder.Change> changes;
  private final RowOrder plainOrder; // the order while nothing was adopted (today's, exactly)
  private final GrowingRowOrder order;

  private DatasetCorpus(
      long seed,
      long datasetKey,
      List<Segment> segments,
      long[] deadDocs,
      long[] deathSamples,
      DeadRows deadRows,
      List<GrowingRowOrder.Change> changes) {
    this.seed = seed;
    this.datasetKey = datasetKey;
    this.segments = List.copyOf(segments);
    this.deadDocs = deadDocs;
    this.deathSamples = deathSamples;
    this.deadRows = deadRows;
    this.changes = List.copyOf(changes);
    long initial = segments.get(0).rows().rows();
    if (changes.isEmpty()) {
      this.plainOrder = new RowOrder(seed, datasetKey, initial);
      this.order = null;
    } else {
      this.plainOrder = null;
      this.order = new GrowingRowOrder(seed, datasetKey, initial, DeadRows.NONE, changes);
    }
  }

  /** The corpus of generation 0 alone (the ingest's shards). */
  static DatasetCorpus initial(long seed, long datasetKey, PackedRows rows, List<String> shards) {
    return new DatasetCorpus(
        seed,
        datasetKey,
        List.of(new Segment(0, rows, 0, 0, indexOf(shards), Long.MAX_VALUE)),
        new long[0],
        new long[0],
        DeadRows.NONE,
        List.of());
  }

  /** Rows in the universe (live or dead). */
  long universe() {
    return segments.get(segments.size() - 1).rowEnd();
  }

  /** Live rows now. */
  long liveRows() {
    return universe() - deadRows.count();
  }

  List<Segment> segments() {
    return segments;
  }

  /**
   * This corpus after adopting generation {@code generation} from global sample {@code
   * firstSample}, which is this dataset's sample {@code position}: {@code added} its packed train
   * shards (null if it has none of this dataset), {@code superseded} single documents of earlier
   * generations by shard path and document index, {@code supersededGenerations} whole earlier
   * generations.
   */
  DatasetCorpus adopt(
      long generation,
      long firstSample,
      long position,
      PackedRows added,
      List<String> addedShards,
      Map<String, List<Long>> superseded,
      Set<Long> supersededGenerations,
      long[] deltaOut) {
    List<Segment> segs = new ArrayList<>();
    long[] deadFrom;
    long[] deadTo;
    List<long[]> intervals = new ArrayList<>();
    long docsSuperseded = 0;
    long tokensSuperseded = 0;
    for (Segment s : segments) {
      if (s.deathSample() == Long.MAX_VALUE && supersededGenerations.contains(s.generation())) {
        segs.add(
            new Segment(
                s.generation(),
                s.rows(),
                s.rowOffset(),
                s.docOffset(),
                s.shardIndex(),
                firstSample));
        intervals.add(new long[] {s.rowOffset(), s.rowEnd()});
        // Its documents superseded one by one before are counted then, not again.
        long before = countDeadIn(s.docOffset(), s.docEnd());
        docsSuperseded += s.rows().index().documents() - before;
        tokensSuperseded += s.rows().index().rowTokens(); // its rows' tokens, as packed
      } else {
        segs.add(s);
      }
    }
    // Single documents.
    List<Long> newDead = new ArrayList<>();
    for (Map.Entry<String, List<Long>> e : superseded.entrySet()) {
      Segment s = segmentOfShard(segs, e.getKey());
      if (s == null || s.deathSample() != Long.MAX_VALUE) {
        continue; // not a shard of this dataset's train split, or its generation went whole
      }
      int shard = s.shardIndex().get(e.getKey());
      long shardFirst = s.rows().shardFirstDoc(shard);
      for (long d : e.getValue()) {
        long global = s.docOffset() + shardFirst + d;
        if (global < s.docEnd() && !isDeadDoc(global)) {
          newDead.add(global);
        }
      }
    }
    long[] nd = newDead.stream().mapToLong(Long::longValue).sorted().distinct().toArray();
    long[] mergedDocs = new long[deadDocs.length + nd.length];
    long[] mergedSamples = new long[mergedDocs.length];
    for (int i = 0, a = 0, b = 0; i < mergedDocs.length; i++) {
      if (b >= nd.length || (a < deadDocs.length && deadDocs[a] < nd[b])) {
        mergedDocs[i] = deadDocs[a];
        mergedSamples[i] = deathSamples[a++];
      } else {
        mergedDocs[i] = nd[b++];
        mergedSamples[i] = firstSample;
      }
    }
    // Rows all of whose documents are now dead.
    java.util.TreeSet<Long> deadRowSet = new java.util.TreeSet<>();
    for (long doc : nd) {
      Segment s = segmentOfDoc(segs, doc);
      int row = s.rows().rowOf(doc - s.docOffset());
      docsSuperseded++;
      if (row < 0) {
        continue; // packing dropped it: it was never trained
      }
      long first = s.docOffset() + s.rows().index().firstDocs()[row];
      long end = s.docOffset() + s.rows().rowDocsEnd(row);
      tokensSuperseded += tokensOf(s, row, doc);
      boolean all = true;
      for (long d = first; d < end && all; d++) {
        all = Arrays.binarySearch(mergedDocs, d) >= 0;
      }
      long globalRow = s.rowOffset() + row;
      if (all && !deadRows.contains(globalRow)) {
        deadRowSet.add(globalRow);
      }
    }
    for (long r : deadRowSet) {
      intervals.add(new long[] {r, r + 1});
    }
    long universeBefore = universe();
    long documentsAdded = 0;
    long tokensAdded = 0;
    if (added != null && added.rows() > 0) {
      segs.add(
          new Segment(
              generation,
              added,
              universeBefore,
              segs.get(segs.size() - 1).docEnd(),
              indexOf(addedShards),
              Long.MAX_VALUE));
      documentsAdded = added.index().documents();
      tokensAdded = added.index().rowTokens();
    }
    deadFrom = new long[intervals.size()];
    deadTo = new long[intervals.size()];
    for (int i = 0; i < intervals.size(); i++) {
      deadFrom[i] = intervals.get(i)[0];
      deadTo[i] = intervals.get(i)[1];
    }
    deltaOut[0] += documentsAdded;
    deltaOut[1] += tokensAdded;
    deltaOut[2] += docsSuperseded;
    deltaOut[3] += tokensSuperseded;
    long universeAfter = segs.get(segs.size() - 1).rowEnd();
    if (universeAfter == universeBefore && deadFrom.length == 0) {
      return new DatasetCorpus(
          seed, datasetKey, segs, mergedDocs, mergedSamples, deadRows, changes);
    }
    List<GrowingRowOrder.Change> ch = new ArrayList<>(changes);
    ch.add(new GrowingRowOrder.Change(position, universeAfter, deadFrom, deadTo));
    return new DatasetCorpus(
        seed, datasetKey, segs, mergedDocs, mergedSamples, deadRows.plus(deadFrom, deadTo), ch);
  }

  /** The universe row of this dataset's sample {@code position}. */
  long row(long position) {
    return order == null ? plainOrder.row(position) : order.row(position);
  }

  /** The epoch of this dataset's sample {@code position}. */
  long epochOf(long position) {
    return order == null ? position / segments.get(0).rows().rows() : order.epochOf(position);
  }

  /** Whether universe row {@code row} is dead now. */
  boolean isDeadRow(long row) {
    return deadRows.contains(row);
  }

  /**
   * Writes the row of this dataset's sample {@code position} (global sample {@code sample}) into
   * {@code dst[off..]}, without the documents superseded by then.
   */
  void read(long position, long sample, long[] dst, int off) {
    long row = row(position);
    Segment s = segmentOfRow(row);
    long docOffset = s.docOffset();
    PackedRows.DeadDocuments dead =
        deadDocs.length == 0
            ? PackedRows.DeadDocuments.NONE
            : doc -> {
              int i = Arrays.binarySearch(deadDocs, docOffset + doc);
              return i >= 0 && deathSamples[i] <= sample;
            };
    s.rows().read((int) (row - s.rowOffset()), dst, off, dead);
  }

  private Segment segmentOfRow(long row) {
    int lo = 0;
    int hi = segments.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (segments.get(mid).rowOffset() <= row) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return segments.get(lo);
  }

  private static Segment segmentOfDoc(List<Segment> segs, long doc) {
    for (Segment s : segs) {
      if (doc >= s.docOffset() && doc < s.docEnd()) {
        return s;
      }
    }
    throw new IllegalStateException("no segment holds document " + doc);
  }

  private static Segment segmentOfShard(List<Segment> segs, String shard) {
    for (Segment s : segs) {
      if (s.shardIndex().containsKey(shard)) {
        return s;
      }
    }
    return null;
  }

  private boolean isDeadDoc(long doc) {
    return Arrays.binarySearch(deadDocs, doc) >= 0;
  }

  private long countDeadIn(long from, long to) {
    int a = Arrays.binarySearch(deadDocs, from);
    int b = Arrays.binarySearch(deadDocs, to);
    a = a < 0 ? -a - 1 : a;
    b = b < 0 ? -b - 1 : b;
    return b - a;
  }

  /** The tokens of global document {@code doc} in its row (what training no longer sees). */
  private static long tokensOf(Segment s, int row, long doc) {
    long[] whole = new long[s.rows().ctxLen()];
    long local = doc - s.docOffset();
    int all = s.rows().read(row, whole, 0, PackedRows.DeadDocuments.NONE);
    int without = s.rows().read(row, whole, 0, d -> d == local);
    return all - without;
  }

  private static Map<String, Integer> indexOf(List<String> shards) {
    Map<String, Integer> m = new HashMap<>();
    for (int i = 0; i < shards.size(); i++) {
      m.put(shards.get(i), i);
    }
    return Map.copyOf(m);
  }
}
