"""Python baseline of one OmniBioTA training step for `omnibiote bench train`.

Written from shared/notes/original-recipe.md (not the original's code) for Debian's
python3-torch 1.13 (CPU, OpenBLAS): attention by hand (1.13 has no
scaled_dot_product_attention), block-diagonal mask from EOS positions with tensor ops,
dropout as the original (embedding, attention probabilities, each branch), readout at
every position and the original's per-micro-batch loss weighting, grad-norm clip
1.0, AdamW with µP's two groups. bf16 = torch.autocast('cpu', dtype=torch.bfloat16) around
forward and loss, float32 master weights and optimiser state (the same definition as the
Java side's --precision bf16).

Usage: train_baseline.py '{"vocab_size":65536,"n_embd":128,"n_layer":2,"n_head":4,
"ctx_len":256,"dropout":0.1,"mini_batch":8,"batch":8,"steps":3,"warmup":1,"precision":"fp32",
"seed":0}'
Prints one JSON line: tokens_per_s, step_seconds, step_cpu_seconds, losses, threads, torch
version.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, MASK, EOS = 1, 2, 3


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


def packed_rows(rows, t, vocab, gen):
    """Random tokens in documents of random length (20..400), packed, each ending in EOS."""
    ids = torch.randint(20, vocab, (rows, t), generator=gen)
    for r in range(rows):
        pos = 0
        while True:
            pos += int(torch.randint(20, 400, (1,), generator=gen))
            if pos >= t:
                break
            ids[r, pos] = EOS
    return ids


def mask(ids, gen):
    eligible = (ids != PAD) & (ids != EOS)
    chosen = (torch.rand(ids.shape, generator=gen) < 0.15) & eligible
    return torch.where(chosen, torch.full_like(ids, MASK), ids), torch.where(chosen, ids, torch.full_like(ids, -100))


def main():
    cfg = json.loads(sys.argv[1])
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    model = OmniBioTA(cfg["vocab_size"], cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["dropout"])
    model.train()
    opt = optimizer(model, 1e-2, cfg["batch"])
    m, t, v = cfg["mini_batch"], cfg["ctx_len"], cfg["vocab_size"]
    micro = cfg["batch"] // m
    bf16 = cfg["precision"] == "bf16"
    times, cpu, losses = [], [], []
    for step in range(cfg["warmup"] + cfg["steps"]):
        batches = [mask(packed_rows(m, t, v, gen), gen) for _ in range(micro)]
        start, cpu_start = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for inputs, targets in batches:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(inputs)
                loss = F.cross_entropy(logits.reshape(-1, v).float(), targets.reshape(-1)) / micro
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
