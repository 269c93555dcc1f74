package org.omnibiote.ingest;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.omnibiote.UserError;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * Record to shard document, as the original preprocessing and loader do together: encode
 * {@code <tag>SEQUENCE<EOS>}, delete every banned {@code ▁} id (the dummy prefix the
 * tokenizer puts before the tag), and check the document ends in EOS. Thread-safe.
 */
final class DocumentEncoder {
  static final String BANNED_PIECE = "\u2581";
  static final String EOS_PIECE = "<EOS>";

  private final Tokenizer tokenizer;
  private final SplitRule splitRule;
  private final int banned;
  private final int eos;
  private final Map<String, Boolean> singlePieceTags = new ConcurrentHashMap<>();

  DocumentEncoder(Tokenizer tokenizer, SplitRule splitRule) {
    this.tokenizer = tokenizer;
    this.splitRule = splitRule;
    this.banned = tokenizer.pieceToId(BANNED_PIECE);
    this.eos = eosId(tokenizer);
  }

  /** The EOS id every document ends with; a vocabulary without {@code <EOS>} is refused. */
  static int eosId(Tokenizer tokenizer) {
    int id = tokenizer.pieceToId(EOS_PIECE);
    if (id < 0) {
      throw new UserError("the tokenizer has no " + EOS_PIECE + " piece; it cannot end documents");
    }
    return id;
  }

  /** The banned id ({@code ▁}), or -1 when the vocabulary has no such piece. */
  int bannedId() {
    return banned;
  }

  List<EncodedDocument> encodeAll(List<SeqRecord> records) {
    List<EncodedDocument> out = new ArrayList<>(records.size());
    for (SeqRecord r : records) {
      out.add(encode(r));
    }
    return out;
  }

  EncodedDocument encode(SeqRecord record) {
    String tag = "<" + record.moleculeType() + ">";
    int[] ids = tokenizer.encode(record.document());
    int length = removeBanned(ids);
    if (length == 0 || ids[length - 1] != eos) {
      throw new IllegalStateException(
          "document of " + record.id() + " (" + record.file() + ":" + record.line()
              + ") does not end in EOS after encoding");
    }
    long hash = splitRule.hash(record.id());
    boolean single = singlePieceTags.computeIfAbsent(tag, t -> {
      int[] tagIds = tokenizer.encode(t);
      return removeBanned(tagIds) == 1 && t.equals(tokenizer.idToPiece(tagIds[0]));
    });
    return new EncodedDocument(tag, ids, length, splitRule.splitOf(hash), hash, single);
  }

  /** Compacts {@code ids} in place without the banned id; returns the new length. */
  private int removeBanned(int[] ids) {
    int n = 0;
    for (int id : ids) {
      if (id != banned) {
        ids[n++] = id;
      }
    }
    return n;
  }
}
