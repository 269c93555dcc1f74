package org.omnibiote.ingest;

import org.omnibiote.UserError;
import org.omnibiote.tokenizer.Tokenizer;

/**
 * A document's token ids as the original preprocessing and loader produce them together: encode
 * {@code <tag>SEQUENCE<EOS>}, delete every banned {@code ▁} id (the dummy prefix the tokenizer puts
 * before the tag) and check the result ends in EOS. Ingest and encode share it, so a sequence gets
 * the same ids for training and for inference. Thread-safe.
 */
public final class DocumentTokenizer {
  public static final String BANNED_PIECE = "\u2581";
  public static final String EOS_PIECE = "<EOS>";

  private final Tokenizer tokenizer;
  private final int banned;
  private final int eos;

  public DocumentTokenizer(Tokenizer tokenizer) {
    this.tokenizer = tokenizer;
    this.banned = tokenizer.pieceToId(BANNED_PIECE);
    this.eos = eosId(tokenizer);
  }

  /** The EOS id every document ends with; a vocabulary without {@code <EOS>} is refused. */
  public static int eosId(Tokenizer tokenizer) {
    int id = tokenizer.pieceToId(EOS_PIECE);
    if (id < 0) {
      throw new UserError("the tokenizer has no " + EOS_PIECE + " piece; it cannot end documents");
    }
    return id;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /** The banned id ({@code ▁}), or -1 when the vocabulary has no such piece. */
  public int bannedId() {
    return banned;
  }

  public int eosId() {
    return eos;
  }

  /**
   * Ids of {@code document} ({@code <tag>SEQUENCE<EOS>}) without the banned id, in the first {@link
   * Ids#length} entries of {@link Ids#ids}; null when they do not end in EOS.
   */
  public Ids encode(CharSequence document) {
    int[] ids = tokenizer.encode(document);
    int length = removeBanned(ids);
    return length == 0 || ids[length - 1] != eos ? null : new Ids(ids, length);
  }

  /** Whether {@code tag} (e.g. {@code <DNA>}) encodes to exactly its own single piece. */
  public boolean isSinglePiece(String tag) {
    int[] ids = tokenizer.encode(tag);
    return removeBanned(ids) == 1 && tag.equals(tokenizer.idToPiece(ids[0]));
  }

  /** Token ids in the first {@code length} entries of {@code ids} (the rest is scratch). */
  public record Ids(int[] ids, int length) {}

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
