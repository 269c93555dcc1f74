package org.omnibiote.finetune;

import java.util.Arrays;
import org.omnibiote.UserError;
import org.omnibiote.ingest.DocumentTokenizer;

/** Token ids of task inputs, made as ingest and encode make documents. */
final class TaskTokens {
  private TaskTokens() {}

  /** The ids of {@code <tag>SEQUENCE<EOS>} without the banned piece; {@code where} names it. */
  static int[] document(DocumentTokenizer tokens, String tag, String sequence, String where) {
    DocumentTokenizer.Ids ids = tokens.encode(tag + sequence + DocumentTokenizer.EOS_PIECE);
    if (ids == null) {
      throw new UserError(
          where + ": the tokenized sequence does not end in <EOS>; is this the right tokenizer?");
    }
    return Arrays.copyOf(ids.ids(), ids.length());
  }

  /** The tag must be one piece of the vocabulary, or the model never saw it as a tag. */
  static void checkTag(DocumentTokenizer tokens, String tag) {
    if (tokens.tokenizer().pieceToId(tag) < 0 || !tokens.isSinglePiece(tag)) {
      throw new UserError(
          "tag "
              + tag
              + " is not a piece of the tokenizer's vocabulary (tags such as <DNA>,"
              + " <RNA>, <protein>)");
    }
  }
}
