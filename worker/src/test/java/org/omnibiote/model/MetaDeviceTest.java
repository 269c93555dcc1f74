package org.omnibiote.model;

import static org.bytedeco.pytorch.global.torch.ScalarType.Bool;
import static org.bytedeco.pytorch.global.torch.ScalarType.Float;
import static org.bytedeco.pytorch.global.torch.ScalarType.Long;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.StringSharedModuleDict;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.omnibiote.settings.OmniBioTAConfig;
import org.omnibiote.train.MaskedLm;
import org.omnibiote.train.MuAdamW;
import org.omnibiote.train.TrainStep;

/**
 * Device-clean without a GPU: the model's training step and encode poolings run with their tensors
 * on libtorch's {@code meta} device (shapes and dtypes, no data), where a tensor made on the CPU by
 * mistake fails as it would on CUDA ("Expected all tensors to be on the same device, but found at
 * least two devices, meta and cpu!", or "Cannot inplace into non-meta tensor with meta tensor
 * argument").
 *
 * <p>Runs on meta (the real code; every result asserted on meta with its shape):
 *
 * <ul>
 *   <li>the masked-LM batch of {@link MaskedLm#mask} (random draw, eligibility, MASK and IGNORE);
 *   <li>forward with dropout, in training: the embedding's dropout ({@link OmniBioTA#dropout} and
 *       its {@link OmniBioTA#keepScale}), one block's {@code Attention.forward} (c_attn, RoPE
 *       tables and rotation, the block-diagonal + PAD mask of {@code AttentionMask.build}, scores,
 *       masked_fill, softmax, dropout on the probabilities, values, c_proj, residual dropout) and
 *       {@code Mlp.forward} (c_fc, erf-GELU, c_proj, dropout), the µP readout {@link
 *       OmniBioTA#logits};
 *   <li>the loss of {@link TrainStep#lossSum} with the ALL readout (cross-entropy, sum), divided as
 *       TrainStep does, and its backward to every parameter;
 *   <li>µP AdamW: {@link MuAdamW}'s moments and scratch made beside meta parameters, zero_grad and
 *       a step;
 *   <li>libtorch's clip_grad_norm_ as TrainStep calls it, up to its very last op (see below);
 *   <li>every {@link Pooling} ({@code OmniBioTA.pool}, what encode applies to the hidden states).
 * </ul>
 *
 * <p>Not on meta: libtorch 2.10's C++ meta kernels lack these ops ({@link #metaKernelGaps} checks
 * that each still fails there, so a libtorch that gains one tells us to extend the test):
 *
 * <ul>
 *   <li>{@code Module.to(meta)}: refused ("set_data ... incompatible tensor type"), so the model's
 *       parameters cannot move there. The test gives the bias-free linear layers meta weights
 *       through {@code LinearImpl.weight(Tensor)} (the member their forward reads) and gives
 *       MuAdamW meta parameters under the model's names ({@link MuAdamW#over}).
 *   <li>the embedding lookup ({@code aten::index_select}): rows of a meta wte stand in for its
 *       output.
 *   <li>{@code layer_norm} (its composite goes through {@code aten::native_batch_norm}): the block
 *       runs without ln_1, ln_2 and ln_f; their gains get a zero gradient (as a rank without
 *       micro-batches gives them) so that MuAdamW steps them too.
 *   <li>{@code scaled_dot_product_attention} (through {@code aten::where}): the path without
 *       dropout (eval, encode, --dropout 0); the training path with dropout is our own math and
 *       runs.
 *   <li>{@code aten::nonzero} (the MASKED readout's positions), {@code aten::index_select} (its
 *       gather) and every {@code item()} ({@code aten::_local_scalar_dense}: {@code
 *       AttentionMask.of}'s fast-path choice, {@code TrainStep.maskedCount}, the loss value, the
 *       norm clip_grad_norm_ returns, after it has scaled the gradients).
 *   <li>{@code logical_not}, {@code logical_and}, {@code logical_or}, {@code where}: the model and
 *       MaskedLm use {@code eq}, {@code bitwise_*} on Bool and {@code masked_fill} instead, with
 *       the same results, so that their own parts run here.
 * </ul>
 *
 * <p>Those ops take only tensors the code above derives from the batch and the parameters, and make
 * their results beside their inputs; what could still put a tensor on the CPU is a factory call
 * without a device, which {@link DeviceCleanSourceTest} rules out in all of worker/src/main. It is
 * also the net where meta is laxer than CUDA: meta kernels do not check every argument's device (a
 * CPU mask in masked_fill, a CPU bias in addmm's forward pass there).
 */
class MetaDeviceTest {
  private static final int B = 2;
  private static final int T = 8;
  private static final int N = 32;
  private static final double DROPOUT = 0.1;
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(64, N, 1, 4, 16, DROPOUT);

  private final Device meta = new Device("meta");

  private TensorOptions on(ScalarType dtype) {
    return new TensorOptions(meta).dtype(new ScalarTypeOptional(dtype));
  }

  private static void assertMeta(Tensor t, long[] shape, String what) {
    assertTrue(t.is_meta(), what + " is on " + t.device().str().getString() + ", not meta");
    assertArrayEquals(shape, t.shape(), what + ": shape");
  }

  @Test
  void dropoutDrawsItsMaskOnTheDeviceOfItsInput() {
    try (PointerScope scope = new PointerScope()) {
      Tensor x = torch.zeros(new long[] {B, T, N}, on(Float)).requires_grad_(true);
      Tensor keep = OmniBioTA.keepScale(x, DROPOUT);
      assertMeta(keep, x.shape(), "keepScale");
      assertEquals(ScalarType.Float, keep.scalar_type().intern());
      Tensor y = OmniBioTA.dropout(x, DROPOUT, true);
      assertMeta(y, x.shape(), "dropout");
      y.sum().backward();
      assertMeta(x.grad(), x.shape(), "dropout's input gradient");
    }
  }

  @Test
  void maskAndRopeAreBuiltOnTheDeviceOfTheIds() {
    try (PointerScope scope = new PointerScope()) {
      Tensor ids = torch.zeros(new long[] {B, T}, on(Long));
      for (boolean blockDiagonal : new boolean[] {false, true}) {
        Tensor mask = OmniBioTA.AttentionMask.build(ids, blockDiagonal);
        assertMeta(mask, new long[] {B, 1, T, T}, "attention mask");
        assertEquals(ScalarType.Bool, mask.scalar_type().intern());
      }
      int d = CONFIG.headSize();
      Tensor q = torch.zeros(new long[] {B, T, CONFIG.nHead(), d}, on(Float));
      for (OmniBioTAConfig.RopeVariant variant : OmniBioTAConfig.RopeVariant.values()) {
        OmniBioTA.Rope rope = new OmniBioTA.Rope(T, d, variant, ids.device());
        for (Tensor table : rope.tensors(ids, null)) {
          assertTrue(
              table.is_meta(),
              variant + ": a RoPE table is on " + table.device().str().getString());
        }
        assertMeta(rope.apply(q), q.shape(), variant + " RoPE");
      }
    }
  }

  @Test
  void trainingStepRunsOnMeta() {
    // Built outside the scope, as the model's class comment asks.
    OmniBioTA model = new OmniBioTA(CONFIG);
    OmniBioTA.Attention attn = new OmniBioTA.Attention(CONFIG);
    OmniBioTA.Mlp mlp = new OmniBioTA.Mlp(CONFIG);
    model.train(true);
    attn.train(true);
    mlp.train(true);
    try (PointerScope scope = new PointerScope()) {
      // Meta parameters under the model's names; the block's and the readout's linear layers
      // compute with them.
      Map<String, Tensor> params = new LinkedHashMap<>();
      model
          .stateDict()
          .forEach(
              (name, p) ->
                  params.put(name, torch.zeros(p.shape(), on(Float)).requires_grad_(true)));
      useWeight(attn, "c_attn", params.get("transformer.h.0.attn.c_attn.weight"));
      useWeight(attn, "c_proj", params.get("transformer.h.0.attn.c_proj.weight"));
      useWeight(mlp, "c_fc", params.get("transformer.h.0.mlp.c_fc.weight"));
      useWeight(mlp, "c_proj", params.get("transformer.h.0.mlp.c_proj.weight"));
      useWeight(model, "lm_head", params.get("lm_head.weight"));
      MuAdamW optimizer = MuAdamW.over(params, N, MuAdamW.Settings.ORIGINAL_DEFAULTS, false);
      optimizer.state().forEach((name, m) -> assertMeta(m, m.shape(), "moment " + name));

      // TrainStep.run's order: zero_grad, forward and masked loss, backward, clip, AdamW.
      optimizer.zeroGrad();
      MaskedLm.Batch batch = MaskedLm.mask(torch.zeros(new long[] {B, T}, on(Long)), 0.15);
      assertMeta(batch.inputs(), new long[] {B, T}, "masked inputs");
      assertMeta(batch.targets(), new long[] {B, T}, "targets");
      Tensor ids = batch.inputs();
      Tensor mask = OmniBioTA.AttentionMask.build(ids, true);
      OmniBioTA.Rope rope = new OmniBioTA.Rope(T, CONFIG.headSize(), CONFIG.rope(), ids.device());
      Tensor embedded =
          params.get("transformer.wte.weight").narrow(0, 0, T).unsqueeze(0).expand(B, T, N);
      Tensor x = OmniBioTA.dropout(embedded, DROPOUT, true);
      x = x.add(attn.forward(x, rope, mask));
      x = x.add(mlp.forward(x));
      assertMeta(x, new long[] {B, T, N}, "block output");
      assertMeta(model.logits(x), new long[] {B, T, CONFIG.vocabSize()}, "logits");
      Tensor sum = TrainStep.lossSum(model, x, batch.targets(), TrainStep.Readout.ALL);
      assertMeta(sum, new long[] {}, "loss sum");
      Tensor loss = sum.div(new Scalar(B * T));
      for (Map.Entry<String, Tensor> e : params.entrySet()) {
        if (e.getKey().endsWith("ln_1.weight")
            || e.getKey().endsWith("ln_2.weight")
            || e.getKey().endsWith("ln_f.weight")) {
          loss = loss.add(e.getValue().sum().mul(new Scalar(0.0)));
        }
      }
      loss.backward();
      params.forEach((name, p) -> assertMeta(p.grad(), p.shape(), "gradient of " + name));

      // clip_grad_norm_ scales the gradients on meta, then fails reading the norm back (item).
      TensorVector all = new TensorVector();
      params.values().forEach(all::push_back);
      assertNoMetaKernel(
          "aten::_local_scalar_dense", () -> torch.clip_grad_norm_(all, TrainStep.CLIP_NORM));
      params.forEach((name, p) -> assertMeta(p.grad(), p.shape(), "clipped gradient of " + name));

      optimizer.step();
      assertEquals(1, optimizer.steps());
      params.forEach((name, p) -> assertMeta(p, p.shape(), "stepped " + name));
      optimizer.state().forEach((name, m) -> assertMeta(m, m.shape(), "moment " + name));
    }
  }

  @Test
  void everyPoolingRunsOnMeta() {
    try (PointerScope scope = new PointerScope()) {
      Tensor hidden = torch.zeros(new long[] {B, T, N}, on(Float));
      Tensor ids = torch.zeros(new long[] {B, T}, on(Long));
      for (Pooling method : Pooling.values()) {
        long[] shape = method == Pooling.ALL ? new long[] {B, T, N} : new long[] {B, N};
        assertMeta(OmniBioTA.pool(hidden, ids, method), shape, "pooling " + method);
      }
    }
  }

  /** The ops libtorch cannot run on meta, which the class comment lists; each still fails here. */
  @Test
  void metaKernelGaps() {
    OmniBioTA model = new OmniBioTA(CONFIG);
    try (PointerScope scope = new PointerScope()) {
      Tensor ids = torch.zeros(new long[] {B, T}, on(Long));
      Tensor x = torch.zeros(new long[] {B, T, N}, on(Float));
      Tensor q = torch.zeros(new long[] {B, CONFIG.nHead(), T, CONFIG.headSize()}, on(Float));
      assertNoMetaKernel("incompatible tensor type", () -> model.to(meta, false));
      assertNoMetaKernel(
          "aten::index_select",
          () -> torch.embedding(torch.zeros(new long[] {CONFIG.vocabSize(), N}, on(Float)), ids));
      assertNoMetaKernel(
          "aten::native_batch_norm",
          () ->
              torch.layer_norm(
                  x,
                  new long[] {N},
                  new TensorOptional(torch.zeros(new long[] {N}, on(Float))),
                  new TensorOptional(),
                  1e-5,
                  false));
      assertNoMetaKernel(
          "aten::where",
          () ->
              torch.scaled_dot_product_attention(
                  q,
                  q,
                  q,
                  new TensorOptional(OmniBioTA.AttentionMask.build(ids, true)),
                  0.0,
                  false,
                  new DoubleOptional(0.25),
                  false));
      assertNoMetaKernel(
          "aten::nonzero", () -> TrainStep.lossSum(model, x, ids, TrainStep.Readout.MASKED));
      assertNoMetaKernel("aten::_local_scalar_dense", () -> OmniBioTA.AttentionMask.of(ids, true));
      assertNoMetaKernel(
          "aten::_local_scalar_dense", () -> TrainStep.maskedCount(new MaskedLm.Batch(ids, ids)));
      Tensor valid = ids.ne(new Scalar(OmniBioTA.PAD));
      assertNoMetaKernel("aten::logical_not", valid::logical_not);
      assertNoMetaKernel("aten::logical_and", () -> valid.logical_and(valid));
      assertNoMetaKernel("aten::logical_or", () -> valid.logical_or(valid));
      assertNoMetaKernel("aten::where", () -> torch.where(valid, ids, new Scalar(0L)));
      assertEquals(ScalarType.Bool, valid.bitwise_not().scalar_type().intern());
      assertTrue(torch.eye(T, on(Bool)).is_meta());
    }
  }

  /**
   * Gives the linear layer {@code child} of {@code parent} the weight its forward computes with.
   */
  private static void useWeight(Module parent, String child, Tensor weight) {
    StringSharedModuleDict children = parent.named_children();
    for (long i = 0; i < children.size(); i++) {
      if (children.get(i).key().getString().equals(child)) {
        LinearImpl linear = children.get(i).value().asLinear();
        assertArrayEquals(linear.weight().shape(), weight.shape(), child);
        linear.weight(weight);
        return;
      }
    }
    fail("no child module " + child);
  }

  private static void assertNoMetaKernel(String op, Executable run) {
    RuntimeException e = assertThrows(RuntimeException.class, run, op + " ran on meta");
    String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
    assertTrue(
        first.contains(op),
        "expected libtorch to lack "
            + op
            + " on meta (now covered? extend the test), got: "
            + first);
  }
}
