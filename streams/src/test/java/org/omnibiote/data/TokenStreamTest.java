package org.omnibiote.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.omnibiote.data.IngestOutputs.doc;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.shards.Manifest;
import org.omnibiote.shards.ManifestStore;
import org.omnibiote.shards.NpyDtype;
import org.omnibiote.shards.ShardLayout;

/**
 * Reads across shard and mapping-segment boundaries. Segments are 2^28 tokens in use; here they are
 * 4 tokens, so that every read of a few tokens crosses several.
 */
class TokenStreamTest {
  @TempDir Path dir;

  @Test
  void anyRangeReadsTheConcatenationOfTheShardsWhateverTheSegmentSize() throws IOException {
    for (NpyDtype dtype : NpyDtype.values()) {
      Path base = dir.resolve(dtype.name());
      int big = dtype == NpyDtype.UINT16 ? 65_535 : 99_999;
      int[][] docs = {
        doc(4, 20, 21, 22, 23, 24), doc(4, big, 26), doc(18), doc(4, 30, 31, 32, 33, 34, 35, 36)
      };
      new IngestOutputs.HandMade(base, dtype, 100_000)
          .shard("genbank", "train", docs[0], docs[1])
          .shard("genbank", "train", docs[2])
          .shard("genbank", "train", docs[3])
          .write();
      int[] expected = Arrays.stream(docs).flatMapToInt(IntStream::of).toArray();
      Manifest m = new ManifestStore(new ShardLayout(base)).read().orElseThrow();
      for (int shift : new int[] {2, 3, ShardFile.SEGMENT_SHIFT}) {
        List<ShardFile> files = new ArrayList<>();
        for (Manifest.Shard s : m.shards()) {
          files.add(ShardFile.open(base.resolve(s.path()), dtype, s.tokens(), shift));
        }
        TokenStream stream = new TokenStream(files);
        assertEquals(expected.length, stream.length());
        for (int from = 0; from < expected.length; from++) {
          for (int len = 1; from + len <= expected.length + 2; len++) {
            int[] got = new int[len];
            int n = stream.read(from, got, 0, len);
            int want = Math.min(len, expected.length - from);
            assertEquals(want, n, dtype + " shift " + shift + " from " + from + " len " + len);
            assertArrayEquals(
                Arrays.copyOfRange(expected, from, from + want),
                Arrays.copyOf(got, n),
                dtype + " shift " + shift + " from " + from + " len " + len);
          }
        }
      }
    }
  }
}
