"""An independent OmniBioTA in PyTorch 1.13 (Debian's python3-torch), written from
shared/notes/original-recipe.md, for parity tests of the Java model.

Usage: omnibiota_reference.py WEIGHTS.safetensors IDS.json OUT_DIR

Reads the weights with numpy only (no safetensors package on Debian), loads them with
load_state_dict(strict=True), runs the ids of IDS.json ({"ids": [[...], ...]}) and writes
float32 .npy files to OUT_DIR: logits.npy, logits_blockdiag.npy and encode_<method>.npy
for every pooling method (block-diagonal mask off), encode_all_blockdiag.npy; and
rewritten.safetensors, the loaded state_dict written back with write_safetensors (from
tools/safetensors_numpy.py, which the conversion scripts of the README use too).
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn


def _tools_folder():
    """The repository's tools/ (from target/test-classes or src/test/resources, or $OMNIBIOTE_TOOLS)."""
    if os.environ.get("OMNIBIOTE_TOOLS"):
        return os.environ["OMNIBIOTE_TOOLS"]
    here = os.path.dirname(os.path.abspath(__file__))
    while here != os.path.dirname(here):
        if os.path.isfile(os.path.join(here, "tools", "safetensors_numpy.py")):
            return os.path.join(here, "tools")
        here = os.path.dirname(here)
    sys.exit("tools/safetensors_numpy.py not found above " + __file__ + "; set OMNIBIOTE_TOOLS")


sys.path.insert(0, _tools_folder())
# The numpy-only safetensors reader/writer, shared with the conversion scripts.
from safetensors_numpy import read_safetensors, write_safetensors  # noqa: E402

PAD, EOS = 1, 3


class LayerNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return nn.functional.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)


def rope(x):
    """x [B, T, H, d]: rotate pairs (2j, 2j+1) by t * 10000^(-2j/d), as complex numbers."""
    b, t, h, d = x.shape
    freqs = 1.0 / (10000.0 ** (torch.arange(0, d, 2).float() / d))
    angles = torch.outer(torch.arange(t).float(), freqs)
    rot = torch.polar(torch.ones_like(angles), angles).view(1, t, 1, d // 2)
    xc = torch.view_as_complex(x.float().reshape(b, t, h, d // 2, 2))
    return torch.view_as_real(xc * rot).flatten(3).type_as(x)


class Attention(nn.Module):
    def __init__(self, n, n_head):
        super().__init__()
        self.n, self.n_head = n, n_head
        self.c_attn = nn.Linear(n, 3 * n, bias=False)
        self.c_proj = nn.Linear(n, n, bias=False)

    def forward(self, x, mask):
        b, t, n = x.shape
        d = n // self.n_head
        q, k, v = self.c_attn(x).split(n, dim=2)
        q = rope(q.view(b, t, self.n_head, d)).transpose(1, 2)
        k = rope(k.view(b, t, self.n_head, d)).transpose(1, 2)
        v = v.view(b, t, self.n_head, d).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (8.0 / n)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, n))


class MLP(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.c_fc = nn.Linear(n, 4 * n, bias=False)
        self.c_proj = nn.Linear(4 * n, n, bias=False)

    def forward(self, x):
        x = self.c_fc(x)
        return self.c_proj(x * 0.5 * (1.0 + torch.erf(x / 1.41421)))


class Block(nn.Module):
    def __init__(self, n, n_head):
        super().__init__()
        self.ln_1 = LayerNorm(n)
        self.attn = Attention(n, n_head)
        self.ln_2 = LayerNorm(n)
        self.mlp = MLP(n)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class OmniBioTA(nn.Module):
    def __init__(self, vocab_size, n_embd, n_layer, n_head, **_):
        super().__init__()
        self.n = n_embd
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd),
            h=nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)]),
            ln_f=LayerNorm(n_embd),
        ))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def hidden(self, ids, block_diagonal):
        mask = build_mask(ids, block_diagonal)
        x = self.transformer.wte(ids)
        for block in self.transformer.h:
            x = block(x, mask)
        return self.transformer.ln_f(x)

    def logits(self, h):
        return self.lm_head(h * (24.0 / self.n))

    def encode(self, ids, method, block_diagonal=False):
        h = self.hidden(ids, block_diagonal)
        out = []
        for row, hr in zip(ids.tolist(), h):
            keep = [i for i, tok in enumerate(row) if tok != PAD]  # plain loops: independent of the Java
            hv = hr[keep]
            if method == "mean":
                out.append(hv.mean(0))
            elif method == "first":
                out.append(hv[0])
            elif method == "last":
                out.append(hv[-1])
            elif method == "max":
                out.append(hv.max(0).values)
            elif method == "all":
                z = torch.zeros_like(hr)
                z[keep] = hv
                out.append(z)
        return torch.stack(out)


def build_mask(ids, block_diagonal):
    """Per-token loops on purpose: an independent construction of the Java tensor-op mask."""
    b, t = ids.shape
    rows = ids.tolist()
    if not block_diagonal and all(PAD not in r for r in rows):
        return None
    mask = torch.zeros(b, 1, t, t, dtype=torch.bool)
    for r, row in enumerate(rows):
        doc, docs = 0, []
        for tok in row:
            docs.append(doc)
            if tok == EOS:
                doc += 1
        for i in range(t):
            for j in range(t):
                same = (docs[i] == docs[j]) or not block_diagonal
                mask[r, 0, i, j] = (same and row[j] != PAD) or i == j
    return mask


def main():
    weights, ids_path, out_dir = sys.argv[1:4]
    tensors, meta = read_safetensors(weights)
    config = json.loads(meta["config"])
    torch.manual_seed(0)
    model = OmniBioTA(**config)
    model.load_state_dict(tensors, strict=True)
    model.eval()
    with open(ids_path) as f:
        ids = torch.tensor(json.load(f)["ids"], dtype=torch.long)
    os.makedirs(out_dir, exist_ok=True)

    def save(name, t):
        np.save(os.path.join(out_dir, name + ".npy"), t.detach().numpy().astype("<f4"))

    with torch.no_grad():
        save("logits", model.logits(model.hidden(ids, False)))
        save("logits_blockdiag", model.logits(model.hidden(ids, True)))
        for method in ["mean", "first", "last", "max", "all"]:
            save("encode_" + method, model.encode(ids, method))
        save("encode_all_blockdiag", model.encode(ids, "all", True))
    write_safetensors(os.path.join(out_dir, "rewritten.safetensors"), model.state_dict(), config)


if __name__ == "__main__":
    main()
