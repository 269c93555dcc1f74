package org.omnibiote.train;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.model.StrictTensors;

/**
 * AdamW with µP's two groups (mup 1.0.0's MuAdamW for base width 24): the hidden matrices (c_attn,
 * attn.c_proj, c_fc, mlp.c_proj) get lr * 24/N and weight_decay * N/24; every other parameter (wte,
 * LayerNorm gains, lm_head) keeps lr and weight_decay. Decay is decoupled, so LayerNorm gains decay
 * too, as in the original. {@code forceLr} gives one plain AdamW group instead (the original's
 * --force_lr).
 *
 * <p>Our own AdamW over tensor ops rather than libtorch's {@code torch::optim::AdamW}, whose state
 * the Java bindings do not expose: checkpoints and exact resume need the moments ({@link #state},
 * {@link #loadState}). The update is libtorch's, op for op, so it is bit-identical to it
 * (MuAdamWTest): decoupled decay {@code p *= 1 - lr*wd}, {@code m = beta1*m + (1-beta1)*g}, {@code
 * v = beta2*v + (1-beta2)*g*g}, {@code p -= lr/(1-beta1^t) * m/(sqrt(v)/sqrt(1-beta2^t) + eps)}.
 * (PyTorch 2's Python AdamW writes the first moment as {@code m.lerp_(g, 1-beta1)}: the same value
 * up to float rounding; we keep libtorch's form.) Moments are float32 whatever the forward's
 * precision (the parameters are fp32 master weights). One step counter t serves every parameter, as
 * all parameters of OmniBioTA get a gradient at every step; a parameter without a gradient is
 * skipped (not decayed, moments unchanged), as in torch.
 *
 * <p>Build it after the model is on its device (the moments are made beside the parameters). A step
 * allocates nothing large: sqrt(v) goes to one reused buffer the size of the largest parameter
 * instead of a fresh temporary per parameter and step.
 */
public final class MuAdamW {
  /** The original's optimiser flags. */
  public record Settings(
      double lr, double beta1, double beta2, double epsilon, double weightDecay) {
    public static final Settings ORIGINAL_DEFAULTS = new Settings(1e-2, 0.9, 0.999, 1e-8, 1e-2);
  }

  private static final String EXP_AVG = "exp_avg.";
  private static final String EXP_AVG_SQ = "exp_avg_sq.";

  /** One parameter group: its peak lr, current lr and decay, and its parameters' indices. */
  private static final class Group {
    final double peakLr;
    final double weightDecay;
    final int[] members;
    double lr;

    Group(double peakLr, double weightDecay, int[] members) {
      this.peakLr = peakLr;
      this.weightDecay = weightDecay;
      this.members = members;
      this.lr = peakLr;
    }
  }

  private final Settings settings;
  private final List<String> names = new ArrayList<>();
  private final List<Tensor> params = new ArrayList<>();
  private final List<Tensor> expAvg = new ArrayList<>();
  private final List<Tensor> expAvgSq = new ArrayList<>();
  private final List<Group> groups = new ArrayList<>();

  /** Room for the largest parameter's denominator, reused by every step. */
  private final Tensor scratch;

  private long steps;

  private double lrFactor = 1.0;

  /**
   * The optimiser over the model's parameters; group 0 is the hidden matrices (absent with
   * forceLr), then the rest. {@code s.lr()} is the peak lr before µP's per-group scaling.
   */
  public MuAdamW(OmniBioTA model, Settings s, boolean forceLr) {
    this(model::stateDict, model.config().nEmbd(), s, forceLr);
  }

  /**
   * The optimiser over {@code parameters} by their names in the model (which decide the µP group)
   * for a model of width {@code nEmbd}: tests give it parameters the model cannot hold (on the meta
   * device, which {@code Module.to} refuses).
   */
  public static MuAdamW over(
      Map<String, Tensor> parameters, int nEmbd, Settings s, boolean forceLr) {
    return new MuAdamW(() -> parameters, nEmbd, s, forceLr);
  }

  private MuAdamW(
      Supplier<Map<String, Tensor>> parameters, int nEmbd, Settings s, boolean forceLr) {
    this.settings = s;
    // Own handles made in an own scope and detached from it: what this object keeps must
    // outlive both the state dict they come from and any scope the caller has open.
    try (PointerScope scope = new PointerScope()) {
      parameters
          .get()
          .forEach(
              (name, param) -> {
                Tensor p = new Tensor(param);
                Tensor m =
                    torch.zeros_like(p, new TensorOptions(Float), new MemoryFormatOptional());
                Tensor v =
                    torch.zeros_like(p, new TensorOptions(Float), new MemoryFormatOptional());
                // detach() releases the scope's reference: retain first, or the tensor is freed.
                scope.detach(p.retainReference());
                scope.detach(m.retainReference());
                scope.detach(v.retainReference());
                names.add(name);
                params.add(p);
                expAvg.add(m);
                expAvgSq.add(v);
              });
    }
    Tensor largest = params.stream().max(Comparator.comparingLong(Tensor::numel)).orElseThrow();
    try (PointerScope scope = new PointerScope()) {
      Tensor room =
          torch.zeros_like(largest, new TensorOptions(Float), new MemoryFormatOptional()).view(-1);
      scope.detach(room.retainReference());
      scratch = room;
    }
    if (forceLr) {
      groups.add(new Group(s.lr(), s.weightDecay(), indices(i -> true)));
    } else {
      double width = nEmbd / OmniBioTA.BASE_WIDTH;
      groups.add(
          new Group(s.lr() / width, s.weightDecay() * width, indices(i -> isHidden(names.get(i)))));
      groups.add(new Group(s.lr(), s.weightDecay(), indices(i -> !isHidden(names.get(i)))));
    }
  }

  /** Matrix-like in µP: a weight whose both dimensions grow with the width. */
  public static boolean isHidden(String name) {
    return name.endsWith(".attn.c_attn.weight")
        || name.endsWith(".attn.c_proj.weight")
        || name.endsWith(".mlp.c_fc.weight")
        || name.endsWith(".mlp.c_proj.weight");
  }

  private int[] indices(IntPredicate member) {
    return IntStream.range(0, names.size()).filter(member).toArray();
  }

  /** Drops every gradient (set to none, as libtorch's zero_grad does by default). */
  public void zeroGrad() {
    try (PointerScope scope = new PointerScope()) {
      for (Tensor p : params) {
        p.mutable_grad().reset();
      }
    }
  }

  /** One AdamW step on every parameter with a gradient (see the class comment). */
  public void step() {
    steps++;
    double bias1 = 1 - Math.pow(settings.beta1(), (double) steps);
    double bias2Sqrt = Math.sqrt(1 - Math.pow(settings.beta2(), (double) steps));
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Scalar beta1 = new Scalar(settings.beta1());
      Scalar oneMinusBeta1 = new Scalar(1 - settings.beta1());
      Scalar beta2 = new Scalar(settings.beta2());
      Scalar oneMinusBeta2 = new Scalar(1 - settings.beta2());
      Scalar eps = new Scalar(settings.epsilon());
      Scalar bias2 = new Scalar(bias2Sqrt);
      for (Group g : groups) {
        Scalar decay = new Scalar(1 - g.lr * g.weightDecay);
        Scalar stepSize = new Scalar(-g.lr / bias1);
        for (int i : g.members) {
          Tensor p = params.get(i);
          Tensor grad = p.grad();
          if (!grad.defined()) {
            continue;
          }
          if (g.weightDecay != 0) {
            p.mul_(decay);
          }
          Tensor m = expAvg.get(i);
          Tensor v = expAvgSq.get(i);
          m.mul_(beta1).add_(grad, oneMinusBeta1);
          v.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);
          Tensor denom =
              torch
                  .sqrt_out(scratch.narrow(0, 0, v.numel()).view(v.shape()), v)
                  .div_(bias2)
                  .add_(eps);
          p.addcdiv_(m, denom, stepSize);
        }
      }
    }
  }

  /** Sets every group's lr to its peak times {@code factor} (the schedule's linear decay). */
  public void setLrFactor(double factor) {
    lrFactor = factor;
    for (Group g : groups) {
      g.lr = g.peakLr * factor;
    }
  }

  /** The factor of the peak lr the groups are at now (1 until set). */
  public double lrFactor() {
    return lrFactor;
  }

  /** The current lr of each group, in group order. */
  public double[] groupLrs() {
    return groups.stream().mapToDouble(g -> g.lr).toArray();
  }

  /** Optimiser steps taken (AdamW's t, which the bias corrections use). */
  public long steps() {
    return steps;
  }

  /**
   * The moments by name, {@code exp_avg.<parameter>} and {@code exp_avg_sq.<parameter>} for each
   * parameter in the model's order: the live float32 tensors, not copies.
   */
  public Map<String, Tensor> state() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      out.put(EXP_AVG + names.get(i), expAvg.get(i));
      out.put(EXP_AVG_SQ + names.get(i), expAvgSq.get(i));
    }
    return out;
  }

  /**
   * Restores the moments (copied in) and the step counter. Strict: exactly the keys of {@link
   * #state}, with equal shapes, or a UserError naming the key.
   */
  public void loadState(Map<String, Tensor> state, long steps) {
    Map<String, Tensor> own = state();
    StrictTensors.check(own, state, "optimizer state");
    if (steps < 0) {
      throw new UserError("optimizer state: negative step count " + steps);
    }
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      for (Map.Entry<String, Tensor> e : own.entrySet()) {
        e.getValue().copy_(state.get(e.getKey()));
      }
    }
    this.steps = steps;
  }

  /** Sets AdamW's step count t (a rank taking rank 0's state). */
  public void setSteps(long steps) {
    if (steps < 0) {
      throw new IllegalArgumentException("negative step count " + steps);
    }
    this.steps = steps;
  }

  /** The parameters in the model's order (as the model's own parameters() lists them). */
  public List<Tensor> parameters() {
    return Collections.unmodifiableList(params);
  }
}
