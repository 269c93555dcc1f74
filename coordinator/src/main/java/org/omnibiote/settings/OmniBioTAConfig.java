package org.omnibiote.settings;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.omnibiote.UserError;

/**
 * The shape of an OmniBioTA model, with the original's names (they are also the JSON keys stored in
 * a checkpoint's metadata).
 *
 * @param vocabSize V, from the shards' manifest (65,536 for the original tokenizers)
 * @param nEmbd N, the width; divisible by nHead, and N/nHead even (RoPE rotates pairs)
 * @param nLayer L, the number of blocks
 * @param nHead H
 * @param ctxLen T, the longest row the model is meant for (RoPE itself has no limit)
 * @param dropout on embeddings, attention probabilities and each residual branch, in training
 * @param rope how q and k are position-encoded: {@link RopeVariant#ROTARY} (the default, also when
 *     an older JSON has no "rope" key) or {@link RopeVariant#COS_ONLY} for checkpoints the original
 *     trained after its bf16 cast had dropped the sine half of the table
 */
public record OmniBioTAConfig(
    @JsonProperty("vocab_size") int vocabSize,
    @JsonProperty("n_embd") int nEmbd,
    @JsonProperty("n_layer") int nLayer,
    @JsonProperty("n_head") int nHead,
    @JsonProperty("ctx_len") int ctxLen,
    @JsonProperty("dropout") double dropout,
    @JsonProperty("rope") RopeVariant rope) {

  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** RoPE as the original meant it; see {@link OmniBioTA} for what each variant computes. */
  public enum RopeVariant {
    /** Each channel pair rotated by its angle, in float32: the original's intent. */
    ROTARY("rotary"),
    /**
     * Each channel pair multiplied by the bf16-rounded cosine of its angle, no sine mixing: what
     * the original computed once Module.to(bf16) had cast its complex table to its real part. Only
     * for checkpoints trained that way.
     */
    COS_ONLY("cos_only");

    private final String json;

    RopeVariant(String json) {
      this.json = json;
    }

    @JsonValue
    public String json() {
      return json;
    }

    @JsonCreator
    public static RopeVariant fromJson(String value) {
      for (RopeVariant v : values()) {
        if (v.json.equals(value)) {
          return v;
        }
      }
      throw new IllegalArgumentException(
          "rope must be \"rotary\" or \"cos_only\", got \"" + value + "\"");
    }
  }

  /** A config with the default (proper) rotary position embedding. */
  public OmniBioTAConfig(
      int vocabSize, int nEmbd, int nLayer, int nHead, int ctxLen, double dropout) {
    this(vocabSize, nEmbd, nLayer, nHead, ctxLen, dropout, RopeVariant.ROTARY);
  }

  public OmniBioTAConfig {
    if (rope == null) {
      rope = RopeVariant.ROTARY; // JSON written before the key existed
    }
    if (vocabSize <= 0 || nEmbd <= 0 || nLayer <= 0 || nHead <= 0 || ctxLen <= 0) {
      throw new UserError("model config: sizes must be positive: " + this);
    }
    if (nEmbd % nHead != 0 || (nEmbd / nHead) % 2 != 0) {
      throw new UserError(
          "model config: n_embd "
              + nEmbd
              + " must split into "
              + nHead
              + " heads of even size (RoPE rotates channel pairs)");
    }
    if (dropout < 0 || dropout >= 1) {
      throw new UserError("model config: dropout must be in [0, 1): " + dropout);
    }
  }

  public OmniBioTAConfig withRope(RopeVariant variant) {
    return new OmniBioTAConfig(vocabSize, nEmbd, nLayer, nHead, ctxLen, dropout, variant);
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
