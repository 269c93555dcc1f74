package org.omnibiote.data;

import org.omnibiote.UserError;

/**
 * What decides the training rows besides the ingest output: the original's {@code --train_type},
 * {@code --use_padding}, {@code --ctx_len}, {@code --banned_token}, and the seed of the row order
 * and of the MLM masks.
 *
 * @param bannedToken the token deleted from every document; null means the manifest's {@code
 *     bannedIds} (the tokenizer's whitespace piece)
 */
public record DataSettings(
    TrainType trainType, boolean usePadding, int ctxLen, Integer bannedToken, long seed) {

  public DataSettings {
    if (trainType == null) {
      throw new UserError("--train_type is required");
    }
    if (ctxLen < 2) {
      throw new UserError("--ctx_len must be at least 2, got " + ctxLen);
    }
  }
}
