package org.omnibiote.finetune;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * AdamW over parameter groups that each have their own peak lr, as the original's fine-tuning
 * builds it ({@code torch.optim.AdamW} with groups embeddings / body / head, PyTorch defaults:
 * weight decay 0.01, betas (0.9, 0.999), eps 1e-8). The update is MuAdamW's, op for op (decoupled
 * decay, bias-corrected moments); the lr of every group and beta1 are set per step by the schedule
 * ({@link OneCycle}), and beta1's bias correction uses the current beta1, as PyTorch does. A
 * parameter without a gradient (lm_head, which fine-tuning never reads) is skipped.
 */
final class GroupAdamW {
  /** A group: its parameters (handles kept here) and peak lr. */
  static final class Group {
    final String name;
    final double peakLr;
    final List<Tensor> params = new ArrayList<>();
    final List<Tensor> expAvg = new ArrayList<>();
    final List<Tensor> expAvgSq = new ArrayList<>();
    double lr;

    Group(String name, double peakLr) {
      this.name = name;
      this.peakLr = peakLr;
      this.lr = peakLr;
    }
  }

  private final List<Group> groups = new ArrayList<>();
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private double beta1 = 0.9;
  private long steps;

  GroupAdamW(double beta2, double eps, double weightDecay) {
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  /** Adds a group of {@code params} (must be on their device already) with peak lr {@code lr}. */
  void addGroup(String name, double lr, List<Tensor> params) {
    Group g = new Group(name, lr);
    try (PointerScope scope = new PointerScope()) {
      for (Tensor param : params) {
        Tensor p = new Tensor(param);
        Tensor m = torch.zeros_like(p, new TensorOptions(Float), new MemoryFormatOptional());
        Tensor v = torch.zeros_like(p, new TensorOptions(Float), new MemoryFormatOptional());
        scope.detach(p.retainReference());
        scope.detach(m.retainReference());
        scope.detach(v.retainReference());
        g.params.add(p);
        g.expAvg.add(m);
        g.expAvgSq.add(v);
      }
    }
    groups.add(g);
  }

  /** Every group's lr to its peak times {@code factor}, and beta1, for the next step. */
  void schedule(double factor, double beta1) {
    for (Group g : groups) {
      g.lr = g.peakLr * factor;
    }
    this.beta1 = beta1;
  }

  double[] lrs() {
    return groups.stream().mapToDouble(g -> g.lr).toArray();
  }

  void zeroGrad() {
    try (PointerScope scope = new PointerScope()) {
      for (Group g : groups) {
        for (Tensor p : g.params) {
          p.mutable_grad().reset();
        }
      }
    }
  }

  void step() {
    steps++;
    double bias1 = 1 - Math.pow(beta1, (double) steps);
    double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, (double) steps));
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      Scalar b1 = new Scalar(beta1);
      Scalar oneMinusB1 = new Scalar(1 - beta1);
      Scalar b2 = new Scalar(beta2);
      Scalar oneMinusB2 = new Scalar(1 - beta2);
      Scalar epsilon = new Scalar(eps);
      Scalar bias2 = new Scalar(bias2Sqrt);
      for (Group g : groups) {
        Scalar decay = new Scalar(1 - g.lr * weightDecay);
        Scalar stepSize = new Scalar(-g.lr / bias1);
        for (int i = 0; i < g.params.size(); i++) {
          Tensor p = g.params.get(i);
          Tensor grad = p.grad();
          if (!grad.defined()) {
            continue;
          }
          if (weightDecay != 0) {
            p.mul_(decay);
          }
          Tensor m = g.expAvg.get(i);
          Tensor v = g.expAvgSq.get(i);
          m.mul_(b1).add_(grad, oneMinusB1);
          v.mul_(b2).addcmul_(grad, grad, oneMinusB2);
          Tensor denom = v.sqrt().div_(bias2).add_(epsilon);
          p.addcdiv_(m, denom, stepSize);
        }
      }
    }
  }

  /** Frees the moments and handles (the parameters themselves stay with their model). */
  void close() {
    for (Group g : groups) {
      for (List<Tensor> l : List.of(g.params, g.expAvg, g.expAvgSq)) {
        l.forEach(Tensor::close);
        l.clear();
      }
    }
  }
}
