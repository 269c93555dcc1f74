package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.shards.Manifest;
import org.omnibiote.train.MaskedLm;

/** Samples drawn from an output folder made by the real ingest from ../shared/data. */
class RealIngestSamplesTest {
  static final int CTX = 64;
  @TempDir static Path base;
  static Manifest manifest;

  @BeforeAll
  static void ingest() throws IOException {
    manifest = IngestOutputs.realIngest(base);
  }

  static TrainingData open(TrainType type, boolean padding, int ctx, long seed) {
    return TrainingData.open(base, new DataSettings(type, padding, ctx, null, seed));
  }

  @Test
  void eachSampleComesFromTheTrainTypesDatasetsInTheExactShareOverAnyWindow() {
    for (TrainType type : TrainType.values()) {
      try (TrainingData data = open(type, false, CTX, 1)) {
        double share = (double) type.genbankNum() / type.genbankDen();
        int n = 2_000;
        boolean[] genbank = new boolean[n];
        for (int i = 0; i < n; i++) {
          genbank[i] = data.trainRowOf(i).startsWith("genbank:");
        }
        for (int start = 0; start < 300; start += 7) {
          for (int w = 1; start + w <= n; w += 13) {
            int count = 0;
            for (int i = start; i < start + w; i++) {
              count += genbank[i] ? 1 : 0;
            }
            assertTrue(
                Math.abs(count - share * w) <= 1.0,
                type + ": " + count + " genbank rows in samples " + start + "+" + w);
          }
        }
      }
    }
  }

  @Test
  void everyRowIsVisitedOncePerEpochInAnOrderKeyedBySeedAndEpoch() {
    try (TrainingData data = open(TrainType.HALFNHALF, false, CTX, 1);
        TrainingData other = open(TrainType.HALFNHALF, false, CTX, 2)) {
      for (String ds : data.valSets()) {
        int n = data.trainRowCount(ds);
        assertTrue(n > 20, ds + " has " + n + " rows");
        List<List<String>> epochs = new ArrayList<>(List.of(new ArrayList<>(), new ArrayList<>()));
        List<String> otherSeed = new ArrayList<>();
        for (long i = 0; epochs.get(1).size() < n; i++) {
          String row = data.trainRowOf(i);
          if (row.startsWith(ds + ":")) {
            epochs.get(epochs.get(0).size() < n ? 0 : 1).add(row);
          }
          String o = other.trainRowOf(i);
          if (o.startsWith(ds + ":") && otherSeed.size() < n) {
            otherSeed.add(o);
          }
        }
        Set<String> all = new HashSet<>();
        for (int r = 0; r < n; r++) {
          all.add(ds + ":" + r);
        }
        assertEquals(all, new HashSet<>(epochs.get(0)), ds + " epoch 0");
        assertEquals(n, epochs.get(0).size());
        assertEquals(all, new HashSet<>(epochs.get(1)), ds + " epoch 1");
        assertNotEquals(epochs.get(0), epochs.get(1), "each epoch has its own order");
        assertNotEquals(epochs.get(0), otherSeed, "another seed, another order");
      }
    }
  }

  @Test
  void rowsAndMasksAreTheSameInTwoSeparateInstances() {
    try (TrainingData a = open(TrainType.MIXED, false, CTX, 11);
        TrainingData b = open(TrainType.MIXED, false, CTX, 11)) {
      assertEquals(a.fingerprint(), b.fingerprint());
      for (long i : new long[] {0, 1, 5, 999, 123_456}) {
        assertArrayEquals(a.row(i), b.row(i), "row " + i);
      }
      TrainingData.MaskedRows x = a.maskedRows(17, 9);
      TrainingData.MaskedRows y = b.maskedRows(17, 9);
      assertArrayEquals(x.inputs(), y.inputs());
      assertArrayEquals(x.targets(), y.targets());
    }
  }

  @Test
  void aBatchIsTheSameWhereverBatchesAreCut() {
    try (TrainingData data = open(TrainType.MIXED, true, CTX, 3);
        PointerScope scope = new PointerScope()) {
      MaskedLm.Batch four = MaskedLm.batch(data, 0, 4);
      MaskedLm.Batch first = MaskedLm.batch(data, 0, 2);
      MaskedLm.Batch second = MaskedLm.batch(data, 2, 2);
      assertEquals(List.of(4L, (long) CTX), List.of(four.inputs().size(0), four.inputs().size(1)));
      assertEquals(torch.ScalarType.Long, four.inputs().scalar_type().intern());
      assertTrue(torch.equal(four.inputs(), cat(first.inputs(), second.inputs())));
      assertTrue(torch.equal(four.targets(), cat(first.targets(), second.targets())));
      // Sample 7 is row 4 of batch(3, 8) and row 0 of batch(7, 1).
      TrainingData.MaskedRows wide = data.maskedRows(3, 8);
      TrainingData.MaskedRows one = data.maskedRows(7, 1);
      assertArrayEquals(one.inputs(), Arrays.copyOfRange(wide.inputs(), 4 * CTX, 5 * CTX));
      assertArrayEquals(one.targets(), Arrays.copyOfRange(wide.targets(), 4 * CTX, 5 * CTX));
      assertArrayEquals(data.row(7), Arrays.copyOfRange(wide.ids(), 4 * CTX, 5 * CTX));
      // The tensors hold the arrays.
      long[] copied = new long[4 * CTX];
      four.inputs().contiguous().data_ptr_long().get(copied);
      assertArrayEquals(data.maskedRows(0, 4).inputs(), copied);
    }
  }

  static Tensor cat(Tensor a, Tensor b) {
    return torch.cat(new TensorVector(a, b), 0);
  }

  @Test
  void aboutFifteenPercentOfTokensAreMaskedAndNeverPadOrEos() {
    try (TrainingData data = open(TrainType.HALFNHALF, true, CTX, 5)) {
      TrainingData.MaskedRows m = data.maskedRows(1_000, 400);
      long eligible = 0;
      long masked = 0;
      long pads = 0;
      for (int i = 0; i < m.ids().length; i++) {
        long id = m.ids()[i];
        boolean isMasked = m.targets()[i] != MaskedLm.IGNORE;
        pads += id == OmniBioTA.PAD ? 1 : 0;
        if (id == OmniBioTA.PAD || id == IngestOutputs.EOS) {
          assertTrue(!isMasked, "PAD or EOS masked at " + i);
          assertEquals(id, m.inputs()[i]);
          continue;
        }
        eligible++;
        if (isMasked) {
          masked++;
          assertEquals(MaskedLm.MASK, m.inputs()[i]);
          assertEquals(id, m.targets()[i]);
        } else {
          assertEquals(id, m.inputs()[i]);
        }
      }
      assertTrue(pads > 0, "padded rows in the sample");
      assertEquals(0.15, (double) masked / eligible, 0.01, masked + " of " + eligible);
    }
  }

  @Test
  void theValBatchIsTheSameAtEveryCallAndStartsWithTheFirstValDocument() throws IOException {
    try (TrainingData a = open(TrainType.MIXED, false, CTX, 9);
        TrainingData b = open(TrainType.MIXED, false, CTX, 9)) {
      assertEquals(List.of("genbank", "uniref100"), a.valSets());
      for (String ds : a.valSets()) {
        TrainingData.MaskedRows first = a.valMaskedRows(ds, 8);
        assertArrayEquals(first.inputs(), a.valMaskedRows(ds, 8).inputs());
        assertArrayEquals(first.targets(), a.valMaskedRows(ds, 8).targets());
        assertArrayEquals(first.inputs(), b.valMaskedRows(ds, 8).inputs());
        // Its first row begins with the first document of the first val shard.
        int[] doc = firstDocument(ds, "val");
        int len = Math.min(doc.length, CTX);
        for (int i = 0; i < len; i++) {
          assertEquals(doc[i], first.ids()[i], ds + " val token " + i);
        }
      }
    }
  }

  @Test
  void withPaddingTheRowsOfAnEpochHoldEveryTrainDocumentOnce() throws IOException {
    int ctx = 256;
    try (TrainingData data = open(TrainType.PROTEIN, true, ctx, 4)) {
      List<String> actual = new ArrayList<>();
      for (int i = 0; i < data.trainRowCount("uniref100"); i++) {
        long[] row = data.row(i);
        int start = 0;
        for (int j = 0; j < ctx && row[j] != OmniBioTA.PAD; j++) {
          if (row[j] == IngestOutputs.EOS || j == ctx - 1) {
            actual.add(Arrays.toString(Arrays.copyOfRange(row, start, j + 1)));
            start = j + 1;
          }
        }
      }
      List<String> expected = new ArrayList<>();
      for (long[] d : documents("uniref100", "train")) {
        expected.add(Arrays.toString(Arrays.copyOf(d, Math.min(d.length, ctx))));
      }
      actual.sort(null);
      expected.sort(null);
      assertEquals(expected, actual);
    }
  }

  @Test
  void theFingerprintChangesWithEverySettingThatChangesSamples() {
    Set<String> prints = new HashSet<>();
    DataSettings[] settings = {
      new DataSettings(TrainType.MIXED, false, CTX, null, 1),
      new DataSettings(TrainType.MIXED, true, CTX, null, 1),
      new DataSettings(TrainType.MIXED, false, CTX + 1, null, 1),
      new DataSettings(TrainType.HALFNHALF, false, CTX, null, 1),
      new DataSettings(TrainType.MIXED, false, CTX, 5, 1),
      new DataSettings(TrainType.MIXED, false, CTX, null, 2),
    };
    for (DataSettings s : settings) {
      try (TrainingData d = TrainingData.open(base, s)) {
        prints.add(d.fingerprint());
        assertTrue(d.describe().contains("train rows"), d.describe());
      }
    }
    assertEquals(settings.length, prints.size());
  }

  /** The first document of the dataset's split, read from the .npy independently of main code. */
  static int[] firstDocument(String dataset, String split) throws IOException {
    long[] d = documents(dataset, split).get(0);
    return Arrays.stream(d).mapToInt(x -> (int) x).toArray();
  }

  /** Every document of a dataset split in manifest order, banned ids deleted. */
  static List<long[]> documents(String dataset, String split) throws IOException {
    List<long[]> docs = new ArrayList<>();
    List<Long> current = new ArrayList<>();
    for (Manifest.Shard s : manifest.shards()) {
      if (!s.dataset().equals(dataset) || !s.split().equals(split)) {
        continue;
      }
      ByteBuffer buf =
          ByteBuffer.wrap(Files.readAllBytes(base.resolve(s.path())))
              .order(ByteOrder.LITTLE_ENDIAN);
      int dataStart = 10 + Short.toUnsignedInt(buf.getShort(8));
      for (int p = dataStart; p < buf.limit(); p += 2) {
        long id = Short.toUnsignedInt(buf.getShort(p));
        if (id == IngestOutputs.BANNED) {
          continue;
        }
        current.add(id);
        if (id == IngestOutputs.EOS) {
          docs.add(current.stream().mapToLong(Long::longValue).toArray());
          current.clear();
        }
      }
    }
    return docs;
  }
}
