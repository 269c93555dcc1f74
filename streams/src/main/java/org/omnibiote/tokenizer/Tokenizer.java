package org.omnibiote.tokenizer;

/**
 * Text to token ids and back, with the ids SentencePiece itself would produce (spm_encode
 * --output_format=id). Implementations are immutable and thread-safe, so one instance serves every
 * ingest thread.
 */
public interface Tokenizer {

  /** Ids of {@code text}, exactly as spm_encode --output_format=id. */
  int[] encode(CharSequence text);

  /** Pieces of {@code text}, exactly as spm_encode --output_format=piece. */
  String[] encodeAsPieces(CharSequence text);

  /** Text of {@code ids}, as spm_decode. */
  String decode(int[] ids);

  int vocabSize();

  /** The id of a piece, or -1 when the vocabulary has no such piece. */
  int pieceToId(String piece);

  String idToPiece(int id);
}
