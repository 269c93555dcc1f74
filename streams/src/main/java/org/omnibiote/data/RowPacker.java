package org.omnibiote.data;

import java.util.Arrays;

/**
 * The original's packing of documents into rows of {@code ctxLen} tokens, fed one document at a
 * time (its start offset in the token stream and its length after banned tokens are deleted). A row
 * is recorded as where it starts and how many tokens it takes from there; the rest of the row is
 * PAD.
 *
 * <ul>
 *   <li>Without padding (the original's default): documents are appended to a row until the next
 *       one does not fit; the row is then filled with that document's prefix and the rest of it is
 *       dropped; the next row starts at the next document.
 *   <li>With {@code --use_padding}: a row holds only whole documents and is padded with PAD; the
 *       document that did not fit starts the next row (the original drops it instead, which loses
 *       data for no benefit). A document longer than ctxLen is truncated to a row of its own: its
 *       first ctxLen tokens.
 * </ul>
 *
 * In both modes the data's last row, if the documents run out before it is full, is padded rather
 * than dropped, so that a small val set still yields a row.
 */
final class RowPacker {
  private final int ctxLen;
  private final boolean usePadding;
  private long[] starts = new long[1024];
  private int[] lengths = new int[1024];
  // The first document of each row: a row holds documents [firstDocs[r], firstDocs[r + 1]).
  private long[] firstDocs = new long[1024];
  private long rowFirstDoc;
  private int rows;
  private long rowStart;
  private long rowFill;
  private long documents;
  private long documentTokens;

  RowPacker(int ctxLen, boolean usePadding) {
    this.ctxLen = ctxLen;
    this.usePadding = usePadding;
  }

  /** The next document: {@code length} tokens (banned ones not counted) from {@code start}. */
  void document(long start, long length) {
    long doc = documents;
    documents++;
    documentTokens += length;
    if (rowFill == 0) {
      rowStart = start;
      rowFirstDoc = doc;
    }
    if (rowFill + length <= ctxLen) {
      rowFill += length;
      if (rowFill == ctxLen) {
        emit(rowStart, ctxLen);
      }
      return;
    }
    if (!usePadding) {
      // The document that does not fit fills the row with its prefix; its rest is dropped.
      emit(rowStart, ctxLen);
      return;
    }
    if (rowFill > 0) {
      emit(rowStart, (int) rowFill);
    }
    rowFirstDoc = doc;
    if (length >= ctxLen) {
      emit(start, ctxLen);
    } else {
      rowStart = start;
      rowFill = length;
    }
  }

  /** The packed rows; a last partial row is kept (padded). */
  PackedRows.Index finish() {
    if (rowFill > 0) {
      emit(rowStart, (int) rowFill);
    }
    return new PackedRows.Index(
        Arrays.copyOf(starts, rows),
        Arrays.copyOf(lengths, rows),
        Arrays.copyOf(firstDocs, rows),
        documents,
        documentTokens);
  }

  private void emit(long start, int length) {
    if (rows == starts.length) {
      starts = Arrays.copyOf(starts, rows * 2);
      lengths = Arrays.copyOf(lengths, rows * 2);
      firstDocs = Arrays.copyOf(firstDocs, rows * 2);
    }
    starts[rows] = start;
    lengths[rows] = length;
    firstDocs[rows] = rowFirstDoc;
    rows++;
    rowFill = 0;
  }
}
