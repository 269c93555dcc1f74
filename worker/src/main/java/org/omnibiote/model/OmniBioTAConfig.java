package org.omnibiote.model;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.omnibiote.UserError;

/**
 * The shape of an OmniBioTA model, with the original's names (they are also the JSON keys
 * stored in a checkpoint's metadata).
 *
 * @param vocabSize V, from the shards' manifest (65,536 for the original tokenizers)
 * @param nEmbd N, the width; divisible by nHead, and N/nHead even (RoPE rotates pairs)
 * @param nLayer L, the number of blocks
 * @param nHead H
 * @param ctxLen T, the longest row the model is meant for (RoPE itself has no limit)
 * @param dropout on embeddings, attention probabilities and each residual branch, in training
 */
public record OmniBioTAConfig(
    @JsonProperty("vocab_size") int vocabSize,
    @JsonProperty("n_embd") int nEmbd,
    @JsonProperty("n_layer") int nLayer,
    @JsonProperty("n_head") int nHead,
    @JsonProperty("ctx_len") int ctxLen,
    @JsonProperty("dropout") double dropout) {

  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  public OmniBioTAConfig {
    if (vocabSize <= 0 || nEmbd <= 0 || nLayer <= 0 || nHead <= 0 || ctxLen <= 0) {
      throw new UserError("model config: sizes must be positive: " + this);
    }
    if (nEmbd % nHead != 0 || (nEmbd / nHead) % 2 != 0) {
      throw new UserError(
          "model config: n_embd " + nEmbd + " must split into " + nHead
              + " heads of even size (RoPE rotates channel pairs)");
    }
    if (dropout < 0 || dropout >= 1) {
      throw new UserError("model config: dropout must be in [0, 1): " + dropout);
    }
  }

  public int headSize() {
    return nEmbd / nHead;
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public static OmniBioTAConfig fromJson(String json) {
    try {
      return JSON.readValue(json, OmniBioTAConfig.class);
    } catch (JsonProcessingException e) {
      throw new UserError("model config is not valid JSON: " + e.getOriginalMessage());
    }
  }
}
