package org.omnibiote.model;

import static org.bytedeco.pytorch.global.torch.ScalarType.Bool;
import static org.bytedeco.pytorch.global.torch.ScalarType.Float;
import static org.bytedeco.pytorch.global.torch.ScalarType.Long;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LinearOptions;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.omnibiote.UserError;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * OmniBioTA, the OmniBioTE encoder (original model.py; see shared/notes/original-recipe.md): token
 * embedding, L pre-LN transformer blocks without biases (fused q/k/v, RoPE on q and k, attention
 * scaled by 8/N, erf-GELU MLP), a final LayerNorm and the µP readout {@code logits = (x * 24/N)
 * W^T}. Modules are registered under the original's names, so {@link #named_parameters()} yields
 * exactly the original state_dict.
 *
 * <p>Native memory: every call allocates tensors; wrap calls in a {@code PointerScope} (and build
 * the model outside it).
 */
public final class OmniBioTA extends Module {
  public static final long PAD = 1;
  public static final long EOS = 3;

  /** µP base width (the original's base model): the readout multiplier is BASE_WIDTH / N. */
  public static final double BASE_WIDTH = 24;

  private final OmniBioTAConfig config;
  // Every registered module stays referenced from Java for the model's lifetime: libtorch
  // calls back into a module's Java peer (train(), to(), ...), and a collected peer makes
  // those calls fail at random, whenever the GC happens to run.
  private final Module transformer;
  private final Module blocks;
  private final EmbeddingImpl wte;
  private final Block[] h;
  private final LayerNorm lnF;
  private final LinearImpl lmHead;
  private final ActivationCheckpoints checkpoints = new ActivationCheckpoints();
  private int checkpointFreq;

  public OmniBioTA(OmniBioTAConfig config) {
    this.config = config;
    int n = config.nEmbd();
    transformer = register_module("transformer", new Module());
    wte = transformer.register_module("wte", new EmbeddingImpl(config.vocabSize(), n));
    blocks = transformer.register_module("h", new Module());
    h = new Block[config.nLayer()];
    for (int i = 0; i < h.length; i++) {
      h[i] = blocks.register_module(Integer.toString(i), new Block(config));
    }
    lnF = transformer.register_module("ln_f", new LayerNorm(n));
    lmHead = register_module("lm_head", linear(n, config.vocabSize()));
    // µP readout init: PyTorch's U(±1/sqrt(N)) times sqrt(N/24), i.e. U(±1/sqrt(24)).
    try (NoGradGuard noGrad = new NoGradGuard()) {
      lmHead.weight().mul_(new Scalar(Math.sqrt(n / BASE_WIDTH)));
    }
  }

  public OmniBioTAConfig config() {
    return config;
  }

  /** Logits [B, T, V] for token ids [B, T] (int64); see {@link #hidden} for the mask. */
  public Tensor forward(Tensor ids, boolean blockDiagonal) {
    return logits(hidden(ids, blockDiagonal));
  }

  /**
   * The final LayerNorm's output [B, T, N]. Attention never sees PAD keys; with {@code
   * blockDiagonal} a token also sees only its own document of the packed row.
   */
  public Tensor hidden(Tensor ids, boolean blockDiagonal) {
    return hidden(ids, blockDiagonal, null);
  }

  /**
   * Sees intermediate activations of a forward pass, by layer name (µP coordinate check). An
   * activation is valid only during the call: the forward frees it before it returns.
   */
  @FunctionalInterface
  public interface ActivationTap {
    void accept(String layer, Tensor activation);
  }

  /**
   * {@link #hidden(Tensor, boolean)}, showing {@code tap} (if not null) the embedding output
   * ("wte"), each block's attention and MLP outputs ("h.0.attn", "h.0.mlp", ...) and "ln_f".
   */
  public Tensor hidden(Tensor ids, boolean blockDiagonal, ActivationTap tap) {
    if (ids.dim() != 2) {
      throw new IllegalArgumentException("ids must be [batch, time], got " + ids.dim() + " dims");
    }
    return hidden(ids, AttentionMask.of(ids, blockDiagonal), tap);
  }

  /**
   * The forward pass with the attention mask given (null: every token sees every other). Its
   * intermediate tensors live in a scope of their own that closes before it returns, so only
   * autograd keeps them, and frees each as its backward consumes it.
   */
  Tensor hidden(Tensor ids, Tensor mask, ActivationTap tap) {
    ActivationTap see = tap == null ? (layer, a) -> {} : tap;
    Rope rope = new Rope(ids.size(1), config.headSize(), config.rope(), ids.device());
    int k = checkpointFreq;
    boolean checkpointed = k > 0 && k < h.length && is_training() && GradMode.is_enabled();
    if (checkpointed && !ids.device().is_cpu() && config.dropout() > 0) {
      throw new UserError(
          "checkpoint_freq with dropout > 0 needs the CPU: recomputation replays the CPU "
              + "random generator only; use --dropout 0 or --checkpoint_freq 0 on "
              + ids.device().str().getString());
    }
    Tensor out;
    try (PointerScope scope = new PointerScope()) {
      Tensor x;
      if (checkpointed) {
        int segments = (h.length + k - 1) / k;
        x =
            checkpoints.forward(
                new ActivationCheckpoints.Segments() {
                  @Override
                  public int count() {
                    return segments;
                  }

                  @Override
                  public Tensor run(int s, Tensor input, boolean recompute) {
                    ActivationTap tapOnce = recompute ? (layer, a) -> {} : see;
                    Tensor y = s == 0 ? embed(ids, tapOnce) : input;
                    return blocks(s * k, Math.min((s + 1) * k, h.length), y, rope, mask, tapOnce);
                  }
                },
                ids.device().type(),
                rope.tensors(ids, mask));
      } else {
        x = blocks(0, h.length, embed(ids, see), rope, mask, see);
      }
      out = lnF.forward(x);
      see.accept("ln_f", out);
      out.retainReference();
    }
    Tensor result = new Tensor(out); // a handle in the caller's scope
    out.releaseReference();
    return result;
  }

  private Tensor embed(Tensor ids, ActivationTap see) {
    Tensor x = dropout(wte.forward(ids), config.dropout(), is_training());
    see.accept("wte", x);
    return x;
  }

  private Tensor blocks(int from, int to, Tensor x, Rope rope, Tensor mask, ActivationTap see) {
    for (int i = from; i < to; i++) {
      x = h[i].forward(x, rope, mask, "h." + i + ".", see);
    }
    return x;
  }

  /**
   * Activation checkpointing every {@code k} blocks (the original's {@code checkpoint_freq}; 0, the
   * default, keeps every activation). In training with grad, a forward pass then keeps only each
   * segment's input and the last segment's activations, and the caller must call {@link
   * #finishBackward()} after each {@code loss.backward()} to recompute the other segments and
   * back-propagate through them. Not part of the model's shape, so not in the config.
   */
  public void setCheckpointFreq(int k) {
    if (k < 0) {
      throw new UserError("checkpoint_freq must be 0 (off) or a number of blocks, got " + k);
    }
    this.checkpointFreq = k;
  }

  public int checkpointFreq() {
    return checkpointFreq;
  }

  /**
   * Completes the backward pass of a checkpointed forward (see {@link #setCheckpointFreq}); a no-op
   * when the last forward kept every activation. The random generator ends where it was, so the
   * random stream matches a run without checkpointing.
   */
  public void finishBackward() {
    checkpoints.finishBackward();
  }

  /** The µP readout: (x * 24/N) W^T. */
  public Tensor logits(Tensor hidden) {
    return lmHead.forward(hidden.mul(new Scalar(BASE_WIDTH / config.nEmbd())));
  }

  /** Encodings of token ids [B, T], pooled over the non-PAD positions (see {@link Pooling}). */
  public Tensor encode(Tensor ids, Pooling method, boolean blockDiagonal) {
    return pool(hidden(ids, blockDiagonal), ids, method);
  }

  /**
   * {@code method} applied to hidden states x [B, T, N] of token ids [B, T]. Only ops that libtorch
   * can also run on the meta device (no where, no logical_not), so MetaDeviceTest runs every
   * pooling there.
   */
  static Tensor pool(Tensor x, Tensor ids, Pooling method) {
    long b = x.size(0);
    long t = x.size(1);
    long n = x.size(2);
    Tensor pad = ids.eq(new Scalar(PAD));
    Tensor validF = ids.ne(new Scalar(PAD)).unsqueeze(-1).to(x.scalar_type());
    Tensor positions =
        torch.arange(new Scalar(t), ids.options().dtype(new ScalarTypeOptional(Long))).unsqueeze(0);
    return switch (method) {
      case ALL -> x.masked_fill(pad.unsqueeze(-1), new Scalar(0.0));
      case MEAN -> x.mul(validF).sum(1).div(validF.sum(1).clamp_min(new Scalar(1.0)));
      case MAX ->
          x.masked_fill(pad.unsqueeze(-1), new Scalar(Double.NEGATIVE_INFINITY))
              .amax(new long[] {1}, false);
      case FIRST ->
          gatherPosition(
              x, positions.masked_fill(pad, new Scalar(t - 1)).amin(new long[] {1}, false), b, n);
      case LAST ->
          gatherPosition(
              x, positions.masked_fill(pad, new Scalar(0L)).amax(new long[] {1}, false), b, n);
    };
  }

  private static Tensor gatherPosition(Tensor x, Tensor index, long b, long n) {
    return x.gather(1, index.view(b, 1, 1).expand(b, 1, n)).squeeze(1);
  }

  /** The parameters by original name, in registration order (views, not copies). */
  public Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    StringTensorDict params = named_parameters();
    for (long i = 0; i < params.size(); i++) {
      out.put(params.get(i).key().getString(), params.get(i).value());
    }
    return out;
  }

  /**
   * Copies {@code state} into the parameters, strictly: every name present, none extra, shapes
   * equal (as PyTorch's {@code load_state_dict(strict=True)}).
   */
  public void loadStateDict(Map<String, Tensor> state) {
    StrictTensors.copyInto(stateDict(), state, "weight");
  }

  static LinearImpl linear(long in, long out) {
    LinearOptions options = new LinearOptions(in, out);
    options.bias().put(false);
    return new LinearImpl(options);
  }

  /** A pre-LN block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
  static final class Block extends Module {
    private final LayerNorm ln1;
    private final Attention attn;
    private final LayerNorm ln2;
    private final Mlp mlp;

    Block(OmniBioTAConfig config) {
      ln1 = register_module("ln_1", new LayerNorm(config.nEmbd()));
      attn = register_module("attn", new Attention(config));
      ln2 = register_module("ln_2", new LayerNorm(config.nEmbd()));
      mlp = register_module("mlp", new Mlp(config));
    }

    Tensor forward(Tensor x, Rope rope, Tensor mask, String name, ActivationTap tap) {
      Tensor a = attn.forward(ln1.forward(x), rope, mask);
      tap.accept(name + "attn", a);
      x = x.add(a);
      Tensor m = mlp.forward(ln2.forward(x));
      tap.accept(name + "mlp", m);
      return x.add(m);
    }
  }

  /** Multi-head self-attention with RoPE, scale 8/N (the original's, not 1/sqrt(d)). */
  static final class Attention extends Module {
    private final LinearImpl cAttn;
    private final LinearImpl cProj;
    private final int nEmbd;
    private final int nHead;
    private final double dropout;

    Attention(OmniBioTAConfig config) {
      nEmbd = config.nEmbd();
      nHead = config.nHead();
      dropout = config.dropout();
      cAttn = register_module("c_attn", linear(nEmbd, 3L * nEmbd));
      cProj = register_module("c_proj", linear(nEmbd, nEmbd));
    }

    Tensor forward(Tensor x, Rope rope, Tensor mask) {
      long b = x.size(0);
      long t = x.size(1);
      long d = nEmbd / nHead;
      TensorVector qkv = cAttn.forward(x).split(nEmbd, 2);
      Tensor q = rope.apply(qkv.get(0).view(b, t, nHead, d)).transpose(1, 2);
      Tensor k = rope.apply(qkv.get(1).view(b, t, nHead, d)).transpose(1, 2);
      Tensor v = qkv.get(2).view(b, t, nHead, d).transpose(1, 2);
      double scale = 8.0 / nEmbd;
      AttentionKernels.Path path = AttentionKernels.path(x.is_cuda(), is_training() && dropout > 0);
      Tensor y = attend(path, q, k, v, mask, scale, dropout);
      y = y.transpose(1, 2).contiguous().view(b, t, nEmbd);
      return OmniBioTA.dropout(cProj.forward(y), dropout, is_training());
    }
  }

  /**
   * Attention of q, k, v [B, H, T, d] by {@code path} ({@link AttentionKernels}), scaled by {@code
   * scale}, under the boolean {@code mask} (null: none) and with dropout probability {@code p} on
   * the attention probabilities for the dropout paths.
   */
  static Tensor attend(
      AttentionKernels.Path path,
      Tensor q,
      Tensor k,
      Tensor v,
      Tensor mask,
      double scale,
      double p) {
    return switch (path) {
      case CHEAP_DROPOUT_MATH -> attentionWithDropout(q, k, v, mask, scale, p);
      case SDPA -> sdpa(q, k, v, mask, scale, 0.0);
      case SDPA_DROPOUT -> sdpa(q, k, v, mask, scale, p);
    };
  }

  private static Tensor sdpa(Tensor q, Tensor k, Tensor v, Tensor mask, double scale, double p) {
    return torch.scaled_dot_product_attention(
        q,
        k,
        v,
        mask == null ? new TensorOptional() : new TensorOptional(mask),
        p,
        false,
        new DoubleOptional(scale),
        false);
  }

  /**
   * SDPA's math path (scores, mask, softmax, dropout on the probabilities, values) with a cheaper
   * dropout: libtorch without MKL draws one Bernoulli sample at a time, 77 ms for a [4, 8, 512,
   * 512] score tensor, while {@link #keepScale} draws 64 random bits per four positions, 18 ms
   * (measured on 2 cores). Only dropout's source of randomness differs.
   */
  static Tensor attentionWithDropout(
      Tensor q, Tensor k, Tensor v, Tensor mask, double scale, double p) {
    Tensor scores = q.matmul(k.transpose(-2, -1)).mul(new Scalar(scale));
    if (mask != null) {
      // bitwise_not is logical not on a Bool tensor; libtorch has no meta kernel for logical_not.
      scores = scores.masked_fill(mask.bitwise_not(), new Scalar(Double.NEGATIVE_INFINITY));
    }
    Tensor probs = torch.softmax(scores, -1);
    return probs.mul(keepScale(probs, p)).matmul(v);
  }

  /** Inverted dropout with {@link #keepScale}'s cheaper random bits (identity unless training). */
  static Tensor dropout(Tensor x, double p, boolean training) {
    return training && p > 0 ? x.mul(keepScale(x, p)) : x;
  }

  /**
   * Inverted dropout's multiplier for {@code like}, on its device: 0 with probability p, else
   * 1/(1-p), from 16 random bits per position (p rounded to a multiple of 2^-16, and the scale uses
   * the rounded p, so the expectation stays exactly 1). The bits come from the default generator of
   * that device: on the CPU torch's default CPU generator, whose state activation checkpointing
   * saves and restores, so it replays them; on CUDA the device's own generator, which it does not
   * replay ({@link #hidden} refuses checkpointing with dropout there).
   */
  static Tensor keepScale(Tensor like, double p) {
    long n = like.numel();
    long dropped = Math.round(p * 65536);
    Tensor bits =
        torch
            .zeros(new long[] {(n + 3) / 4}, like.options().dtype(new ScalarTypeOptional(Long)))
            .random_(java.lang.Long.MIN_VALUE, new LongOptional());
    Tensor r = bits.view(ScalarType.Short).narrow(0, 0, n).view(like.shape());
    return r.ge(new Scalar(dropped - 32768))
        .to(like.scalar_type())
        .mul_(new Scalar(1.0 / (1.0 - dropped / 65536.0)));
  }

  /** c_fc [4N, N], GELU as x*0.5*(1+erf(x/1.41421)) (the original's constant), c_proj. */
  static final class Mlp extends Module {
    private final LinearImpl cFc;
    private final LinearImpl cProj;
    private final double dropout;

    Mlp(OmniBioTAConfig config) {
      dropout = config.dropout();
      cFc = register_module("c_fc", linear(config.nEmbd(), 4L * config.nEmbd()));
      cProj = register_module("c_proj", linear(4L * config.nEmbd(), config.nEmbd()));
    }

    Tensor forward(Tensor x) {
      Tensor a = cFc.forward(x);
      Tensor gelu =
          a.mul(new Scalar(0.5)).mul(torch.erf(a.div(new Scalar(1.41421))).add(new Scalar(1.0)));
      return OmniBioTA.dropout(cProj.forward(gelu), dropout, is_training());
    }
  }

  /** LayerNorm with a weight and no bias, eps 1e-5 (parameter "weight", initialised to 1). */
  static final class LayerNorm extends Module {
    private final Tensor weight;
    private final long n;

    LayerNorm(long n) {
      this.n = n;
      // cpu-only: parameters are made on the CPU, as LinearImpl's and EmbeddingImpl's; the
      // caller moves the model with Module.to(device).
      weight = register_parameter("weight", torch.ones(n));
    }

    Tensor forward(Tensor x) {
      return torch.layer_norm(
          x, new long[] {n}, new TensorOptional(weight), new TensorOptional(), 1e-5, false);
    }
  }

  /**
   * Rotary position embedding, LLaMA form: channel pairs (2j, 2j+1) of each head rotated by the
   * angle position * 10000^(-2j/d). Always computed in float32 (the original lost the rotation when
   * casting its module to bf16); the result has the input's dtype.
   *
   * <p>{@link OmniBioTAConfig.RopeVariant#COS_ONLY} reproduces that loss for checkpoints trained
   * with it. The original keeps {@code freqs_cis = polar(1, angle)} (complex64) as a buffer, so
   * {@code Module.to(bfloat16)} casts it to a real bf16 tensor holding only its real part, {@code c
   * = bf16(cos(angle))}, rounded to nearest even; the imaginary part, sin, is dropped. {@code
   * apply_rotary_emb} then multiplies the complex64 view {@code x0 + i x1} of each pair (in
   * float32) by that real table, promoted to {@code c + 0i}: {@code (x0 + i x1)(c + 0i) = x0 c + i
   * x1 c} exactly (the {@code x1 * 0} and {@code x0 * 0} terms add nothing). So the pair becomes
   * {@code (x0 * c, x1 * c)}: both channels scaled by the same bf16-rounded cosine, float32
   * products, cast back to the input's dtype. A score q_m . k_n then weighs pair j by c_j(m)
   * c_j(n), a function of both absolute positions, not of their distance.
   */
  static final class Rope {
    private final Tensor cos;
    private final Tensor sin;

    Rope(long t, long d) {
      this(t, d, OmniBioTAConfig.RopeVariant.ROTARY);
    }

    Rope(long t, long d, OmniBioTAConfig.RopeVariant variant) {
      this(t, d, variant, new Device("cpu"));
    }

    /**
     * Tables for positions 0..t-1 of heads of size d, on {@code device}: computed on the CPU (as
     * the original's freqs_cis buffer, made at init and moved with the model), then copied there.
     */
    Rope(long t, long d, OmniBioTAConfig.RopeVariant variant, Device device) {
      TensorOptions f32 = new TensorOptions(Float); // cpu-only: tables copied to device below
      Tensor exponents =
          torch
              .arange(new Scalar(0), new Scalar(d), new Scalar(2), f32)
              .div(new Scalar((double) d));
      Tensor freqs = torch.pow(new Scalar(10000.0), exponents).reciprocal();
      Tensor angles = torch.outer(torch.arange(new Scalar(t), f32), freqs).view(t, 1, d / 2);
      if (variant == OmniBioTAConfig.RopeVariant.COS_ONLY) {
        cos = angles.cos().to(ScalarType.BFloat16).to(device, Float).unsqueeze(-1);
        sin = null;
      } else {
        cos = angles.cos().to(device, Float);
        sin = angles.sin().to(device, Float);
      }
    }

    /** Its tables with the other inputs of a forward pass, which a recomputation needs. */
    Tensor[] tensors(Tensor ids, Tensor mask) {
      return Stream.of(cos, sin, ids, mask).filter(Objects::nonNull).toArray(Tensor[]::new);
    }

    /** x [B, T, H, d]. */
    Tensor apply(Tensor x) {
      ScalarType dtype = x.scalar_type();
      long[] shape = x.shape();
      Tensor pairs = x.to(Float).view(shape[0], shape[1], shape[2], shape[3] / 2, 2);
      if (sin == null) {
        return pairs.mul(cos).flatten(3, 4).to(dtype);
      }
      Tensor x0 = pairs.select(-1, 0);
      Tensor x1 = pairs.select(-1, 1);
      Tensor r0 = x0.mul(cos).sub(x1.mul(sin));
      Tensor r1 = x0.mul(sin).add(x1.mul(cos));
      return torch.stack(new TensorVector(r0, r1), -1).flatten(3, 4).to(dtype);
    }
  }

  /**
   * The boolean attention mask [B, 1, T, T] (true = may attend), or null when every token may see
   * every other: no PAD, and either no block-diagonal mask or every row holds one document (no EOS
   * before its last position). SDPA then takes its fastest path.
   */
  static final class AttentionMask {
    private AttentionMask() {}

    static Tensor of(Tensor ids, boolean blockDiagonal) {
      Tensor needed = ids.eq(new Scalar(PAD)).any();
      if (blockDiagonal && ids.size(1) > 1) {
        // An EOS before the last position starts a second document in its row.
        Tensor split = ids.narrow(1, 0, ids.size(1) - 1).eq(new Scalar(EOS)).any();
        needed = needed.bitwise_or(split);
      }
      return needed.item_bool() ? build(ids, blockDiagonal) : null;
    }

    /**
     * The mask itself, even where it allows everything. Bool tensors combined with bitwise_and and
     * bitwise_or (the logical ops on Bool; libtorch has meta kernels for these only), so it builds
     * on the meta device too (MetaDeviceTest).
     */
    static Tensor build(Tensor ids, boolean blockDiagonal) {
      Tensor keyValid = ids.ne(new Scalar(PAD));
      long t = ids.size(1);
      Tensor allowed = keyValid.unsqueeze(1).expand(ids.size(0), t, t);
      if (blockDiagonal) {
        // Document index of each token: EOS tokens seen strictly before it, so an EOS
        // belongs to the document it ends. A row without EOS is one document.
        Tensor eos = ids.eq(new Scalar(EOS)).to(Long);
        Tensor doc = eos.cumsum(1).sub(eos);
        allowed = allowed.bitwise_and(doc.unsqueeze(2).eq(doc.unsqueeze(1)));
      }
      // A PAD query may see no key at all; letting it see itself keeps softmax finite.
      Tensor self =
          torch.eye(t, new TensorOptions(ids.device()).dtype(new ScalarTypeOptional(Bool)));
      return allowed.bitwise_or(self).unsqueeze(1);
    }
  }
}
