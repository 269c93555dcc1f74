"""Python baseline of one OmniBioTA training step for `omnibiote bench train`.

Written from shared/notes/original-recipe.md (not the original's code) for Debian's
python3-torch 1.13 (CPU, OpenBLAS): attention by hand (1.13 has no
scaled_dot_product_attention), block-diagonal mask from EOS positions with tensor ops,
dropout as the original (embedding, attention probabilities, each branch), readout at
every position and the original's per-micro-batch loss weighting, grad-norm clip
1.0, AdamW with µP's two groups. bf16 = torch.autocast('cpu', dtype=torch.bfloat16) around
forward and loss, float32 master weights and optimiser state (the same definition as the
Java side's --precision bf16).

Same inputs as the Java side: data_dir holds what the bench wrote, read with numpy only
(Debian has no safetensors package): initial.safetensors (our initial model under the
original's parameter names, loaded with load_state_dict(strict=True)), inputs.npy and
targets.npy (int64 [steps, micro-batches, mini_batch, ctx_len], warm-up steps first).

Usage: train_baseline.py '{"vocab_size":65536,"n_embd":128,"n_layer":2,"n_head":4,
"ctx_len":256,"dropout":0.1,"mini_batch":8,"batch":8,"steps":3,"warmup":1,"precision":"fp32",
"seed":0,"data_dir":"/tmp/..."}'
Prints two JSON lines. First, before anything is timed: "loss_check", the first step's loss
before any update at dropout 0 (a model with dropout 0 loaded from the same file; "loss": each
micro-batch's mean cross-entropy over its masked tokens, divided by the micro-batches, as the
timed step computes it; "global_loss": summed cross-entropy / masked tokens of the step), and
"environment" (torch, threads, BLAS). Then the timed run at the configured dropout:
tokens_per_s, step_seconds, step_cpu_seconds, losses.
"""
import ctypes
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EOS = 3


class LayerNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


def rope_tables(t, d):
    freqs = 1.0 / (10000.0 ** (torch.arange(0, d, 2).float() / d))
    angles = torch.outer(torch.arange(t).float(), freqs).view(t, 1, d // 2)
    return angles.cos(), angles.sin()


def rope(x, cos, sin):
    """x [B, T, H, d]: pairs (2j, 2j+1) rotated in float32, result in x's dtype."""
    b, t, h, d = x.shape
    pairs = x.float().view(b, t, h, d // 2, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
    return out.flatten(3).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, n, n_head, dropout):
        super().__init__()
        self.n, self.n_head, self.p = n, n_head, dropout
        self.c_attn = nn.Linear(n, 3 * n, bias=False)
        self.c_proj = nn.Linear(n, n, bias=False)

    def forward(self, x, rot, bias):
        b, t, n = x.shape
        d = n // self.n_head
        q, k, v = self.c_attn(x).split(n, dim=2)
        q = rope(q.view(b, t, self.n_head, d), *rot).transpose(1, 2)
        k = rope(k.view(b, t, self.n_head, d), *rot).transpose(1, 2)
        v = v.view(b, t, self.n_head, d).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) * (8.0 / n)
        if bias is not None:
            scores = scores + bias.to(scores.dtype)
        probs = F.dropout(torch.softmax(scores, dim=-1), self.p, self.training)
        y = torch.matmul(probs.to(v.dtype), v)
        return F.dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, n)), self.p, self.training)


class MLP(nn.Module):
    def __init__(self, n, dropout):
        super().__init__()
        self.p = dropout
        self.c_fc = nn.Linear(n, 4 * n, bias=False)
        self.c_proj = nn.Linear(4 * n, n, bias=False)

    def forward(self, x):
        x = self.c_fc(x)
        return F.dropout(self.c_proj(x * 0.5 * (1.0 + torch.erf(x / 1.41421))), self.p, self.training)


class Block(nn.Module):
    def __init__(self, n, n_head, dropout):
        super().__init__()
        self.ln_1 = LayerNorm(n)
        self.attn = Attention(n, n_head, dropout)
        self.ln_2 = LayerNorm(n)
        self.mlp = MLP(n, dropout)

    def forward(self, x, rot, bias):
        x = x + self.attn(self.ln_1(x), rot, bias)
        return x + self.mlp(self.ln_2(x))


class OmniBioTA(nn.Module):
    def __init__(self, vocab_size, n_embd, n_layer, n_head, dropout):
        super().__init__()
        self.n, self.d, self.p = n_embd, n_embd // n_head, dropout
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            h=nn.ModuleList([Block(n_embd, n_head, dropout) for _ in range(n_layer)]),
            ln_f=LayerNorm(n_embd),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        with torch.no_grad():
            self.lm_head.weight.mul_(math.sqrt(n_embd / 24.0))

    def forward(self, ids):
        rot = rope_tables(ids.shape[1], self.d)
        bias = block_diagonal_bias(ids)
        x = F.dropout(self.transformer.wte(ids), self.p, self.training)
        for block in self.transformer.h:
            x = block(x, rot, bias)
        return self.lm_head(self.transformer.ln_f(x) * (24.0 / self.n))


def block_diagonal_bias(ids):
    """Additive mask [B, 1, T, T]: 0 within a document (EOS ends its own), -inf across."""
    eos = (ids == EOS).long()
    doc = eos.cumsum(1) - eos
    same = doc.unsqueeze(2) == doc.unsqueeze(1)
    bias = torch.zeros(same.shape, dtype=torch.float32)
    return bias.masked_fill(~same, float("-inf")).unsqueeze(1)


def optimizer(model, lr, batch):
    width = model.n / 24.0
    hidden = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
    h = [p for name, p in model.named_parameters() if name.endswith(hidden)]
    rest = [p for name, p in model.named_parameters() if not name.endswith(hidden)]
    lr0 = lr * math.sqrt(batch) / 32
    return torch.optim.AdamW([
        dict(params=h, lr=lr0 / width, weight_decay=0.01 * width),
        dict(params=rest, lr=lr0, weight_decay=0.01),
    ], betas=(0.9, 0.999), eps=1e-8)


def read_safetensors(path):
    """{name: float32 tensor} of a .safetensors file, with numpy only (the reader of
    tools/safetensors_numpy.py, which cannot be imported from the bench jar)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = memoryview(raw)[8 + n:]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']}; only F32 is supported")
        begin, end = e["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype="<f4").reshape(e["shape"]).copy())
    return tensors


def build(cfg, dropout, weights):
    model = OmniBioTA(cfg["vocab_size"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"], dropout)
    model.load_state_dict(weights, strict=True)
    model.train()
    return model


def first_step_losses(cfg, weights, inputs, targets):
    """The first step's losses at dropout 0, before any update (the forward of the timed step)."""
    model = build(cfg, 0.0, weights)
    v, micro = cfg["vocab_size"], inputs.shape[1]
    sums, counts = [], []
    with torch.no_grad():
        for i in range(micro):
            x, y = inputs[0, i], targets[0, i]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["precision"] == "bf16"):
                logits = model(x)
                ce = F.cross_entropy(logits.reshape(-1, v).float(), y.reshape(-1), reduction="sum")
            sums.append(ce.item())
            counts.append(int((y != -100).sum()))
    return dict(
        loss=sum(s / (max(c, 1) * micro) for s, c in zip(sums, counts)),
        global_loss=sum(sums) / max(sum(counts), 1),
        ce_sums=sums, masked=counts)


def environment():
    """torch's threads and build, and the BLAS library this process has mapped (after a matmul)."""
    a = torch.randn(64, 64)
    (a @ a).sum()
    show = torch.__config__.show()

    def setting(key):
        at = show.find(key + "=")
        return show[at:show.find(",", at)] if at >= 0 else key + " unknown"

    blas, library, threads = "unknown", "none mapped", "unknown"
    with open("/proc/self/maps") as f:
        mapped = {l.split()[-1] for l in f if "/" in l and "blas" in os.path.basename(l.split()[-1])}
    # The OpenBLAS library itself first (libblas.so.3 is Debian's alternatives name for it).
    for path in sorted(mapped, key=lambda p: ("openblas" not in os.path.basename(p), p)):
        library = path
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            blas = lib.openblas_get_config().decode()
            threads = str(lib.openblas_get_num_threads())
            break
        except (OSError, AttributeError):
            continue
    onednn = [l.strip(" -") for l in show.splitlines() if "MKL-DNN" in l or "oneDNN" in l]
    return dict(
        torch=torch.__version__, threads=torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        parallel_info=torch.__config__.parallel_info(),
        blas_info=setting("BLAS_INFO"), blas=blas, blas_library=library, blas_threads=threads,
        onednn=(onednn[0] if onednn else "no oneDNN") + ", torch.backends.mkldnn.is_available() "
        + str(torch.backends.mkldnn.is_available()))


def main():
    cfg = json.loads(sys.argv[1])
    folder = cfg["data_dir"]
    weights = read_safetensors(os.path.join(folder, "initial.safetensors"))
    inputs = torch.from_numpy(np.load(os.path.join(folder, "inputs.npy")))
    targets = torch.from_numpy(np.load(os.path.join(folder, "targets.npy")))
    m, t, v = cfg["mini_batch"], cfg["ctx_len"], cfg["vocab_size"]
    micro = cfg["batch"] // m
    total_steps = cfg["warmup"] + cfg["steps"]
    if tuple(inputs.shape) != (total_steps, micro, m, t) or inputs.shape != targets.shape:
        sys.exit(f"{folder}: inputs {tuple(inputs.shape)} / targets {tuple(targets.shape)} are not "
                 f"[{total_steps}, {micro}, {m}, {t}]")
    print(json.dumps(dict(loss_check=first_step_losses(cfg, weights, inputs, targets),
                          environment=environment())), flush=True)

    torch.manual_seed(cfg["seed"])
    model = build(cfg, cfg["dropout"], weights)
    del weights  # copied into the model
    opt = optimizer(model, 1e-2, cfg["batch"])
    bf16 = cfg["precision"] == "bf16"
    times, cpu, losses = [], [], []
    for step in range(total_steps):
        batches = [(inputs[step, i], targets[step, i]) for i in range(micro)]
        start, cpu_start = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for x, y in batches:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x)
                loss = F.cross_entropy(logits.reshape(-1, v).float(), y.reshape(-1)) / micro
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= cfg["warmup"]:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
            losses.append(total)
    tokens = cfg["batch"] * t * len(times)
    print(json.dumps(dict(
        tokens_per_s=tokens / sum(times), step_seconds=times, step_cpu_seconds=cpu, losses=losses,
        threads=torch.get_num_threads(), torch=torch.__version__,
        autocast_matmul_dtype=str(logits.dtype))))


if __name__ == "__main__":
    main()
