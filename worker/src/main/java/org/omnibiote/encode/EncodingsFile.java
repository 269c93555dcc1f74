package org.omnibiote.encode;

import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.omnibiote.io.AtomicOutput;
import org.omnibiote.shards.NpyHeader;

/**
 * encode's output: a float32 C-order .npy of shape [records, N] (or [records, maxLen, N] for {@code
 * all}, zero beyond each record's length), filled row by row in any order (batches come sorted by
 * length), and beside it {@code OUT.ids.tsv}: a header line, then record id and length in tokens
 * per row. Both files appear complete at {@link #commit} or not at all.
 */
public final class EncodingsFile implements AutoCloseable {
  private final AtomicOutput npy;
  private final Path idsPath;
  private final long rowFloats;
  private final long rows;
  private final ByteBuffer row;

  /** {@code shape}: [records, N] or [records, maxLen, N]. */
  public EncodingsFile(Path npyPath, long... shape) throws IOException {
    this.idsPath = idsPathOf(npyPath);
    this.rows = shape[0];
    long perRow = 1;
    for (int i = 1; i < shape.length; i++) {
      perRow *= shape[i];
    }
    this.rowFloats = perRow;
    if (perRow * 4 > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("one row of " + perRow + " floats is too large");
    }
    this.row = ByteBuffer.allocateDirect((int) (perRow * 4)).order(ByteOrder.LITTLE_ENDIAN);
    this.npy = new AtomicOutput(npyPath);
    writeAt(ByteBuffer.wrap(NpyHeader.of("<f4", shape)), 0);
  }

  /** {@code OUT.npy} -> {@code OUT.ids.tsv} (any other name gets {@code .ids.tsv} appended). */
  public static Path idsPathOf(Path npyPath) {
    String name = npyPath.getFileName().toString();
    String stem = name.endsWith(".npy") ? name.substring(0, name.length() - 4) : name;
    return npyPath.resolveSibling(stem + ".ids.tsv");
  }

  public Path idsPath() {
    return idsPath;
  }

  /** Row {@code index}: {@code values} then zeros up to the row's size. */
  public void put(int index, float[] values) throws IOException {
    if (index < 0 || index >= rows || values.length > rowFloats) {
      throw new IllegalArgumentException("row " + index + " of " + values.length + " floats");
    }
    row.clear();
    row.asFloatBuffer().put(values);
    for (long i = values.length * 4L; i < rowFloats * 4; i++) {
      row.put((int) i, (byte) 0);
    }
    writeAt(row, NpyHeader.LENGTH + index * rowFloats * 4);
  }

  /** Writes the ids file and makes both files appear; every row must have been put. */
  public void commit(List<String> ids, int[] lengths) throws IOException {
    if (ids.size() != rows || lengths.length != rows) {
      throw new IllegalArgumentException(ids.size() + " ids for " + rows + " rows");
    }
    try (AtomicOutput tsv = new AtomicOutput(idsPath)) {
      Writer w = new OutputStreamWriter(tsv.stream(), StandardCharsets.UTF_8);
      w.write("id\tlength\n");
      for (int i = 0; i < rows; i++) {
        w.write(ids.get(i) + "\t" + lengths[i] + "\n");
      }
      w.flush();
      npy.commit();
      tsv.commit();
    }
  }

  private void writeAt(ByteBuffer buf, long position) throws IOException {
    FileChannel ch = npy.channel();
    buf.rewind();
    while (buf.hasRemaining()) {
      position += ch.write(buf, position);
    }
  }

  /** Without {@link #commit}: the temporary file is deleted, nothing appears. */
  @Override
  public void close() throws IOException {
    npy.close();
  }
}
