package org.omnibiote.ingest;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * Record to shard document: its ids from {@link DocumentTokenizer} (tag first, banned {@code ▁}
 * removed, EOS last), its split and split hash, and whether its tag is a single piece. Thread-safe.
 */
public final class DocumentEncoder {
  private final DocumentTokenizer tokens;
  private final SplitRule splitRule;
  private final Map<String, Boolean> singlePieceTags = new ConcurrentHashMap<>();

  public DocumentEncoder(Tokenizer tokenizer, SplitRule splitRule) {
    this.tokens = new DocumentTokenizer(tokenizer);
    this.splitRule = splitRule;
  }

  /** The EOS id every document ends with; a vocabulary without {@code <EOS>} is refused. */
  public static int eosId(Tokenizer tokenizer) {
    return DocumentTokenizer.eosId(tokenizer);
  }

  /** The banned id ({@code ▁}), or -1 when the vocabulary has no such piece. */
  public int bannedId() {
    return tokens.bannedId();
  }

  public List<EncodedDocument> encodeAll(List<SeqRecord> records) {
    List<EncodedDocument> out = new ArrayList<>(records.size());
    for (SeqRecord r : records) {
      out.add(encode(r));
    }
    return out;
  }

  public EncodedDocument encode(SeqRecord record) {
    String tag = "<" + record.moleculeType() + ">";
    DocumentTokenizer.Ids ids = tokens.encode(record.document());
    if (ids == null) {
      throw new IllegalStateException(
          "document of "
              + record.id()
              + " ("
              + record.file()
              + ":"
              + record.line()
              + ") does not end in EOS after encoding");
    }
    long hash = splitRule.hash(record.id());
    boolean single = singlePieceTags.computeIfAbsent(tag, tokens::isSinglePiece);
    return new EncodedDocument(
        tag, ids.ids(), ids.length(), splitRule.splitOf(hash), hash, single, record.id());
  }
}
