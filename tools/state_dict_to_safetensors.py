#!/usr/bin/env python3
"""An original OmniBioTE checkpoint (torch.save of the model or of its state_dict) -> the
.safetensors weights file OmniBioTE-JVM loads (bin/omnibiote encode --checkpoint, ...).

Usage: state_dict_to_safetensors.py ORIGINAL.pt OUT.safetensors --n_head H
           [--ctx_len T] [--dropout P] [--vocab_size V --n_embd N --n_layer L]
           [--python_path DIR]

vocab_size, n_embd and n_layer are read from the tensors (given, they are checked); n_head
is not visible in the weights and must be given; ctx_len and dropout default to
train_encoder.py's defaults (2048, 0.1). Wrapper prefixes (torch.compile's "_orig_mod.",
DDP's "module.", FSDP's "_fsdp_wrapped_module.") are stripped; bf16 weights become float32
(exactly); entries that are not OmniBioTA parameters (buffers) are dropped and listed.
A pickled whole module needs the original's model.py importable: --python_path DIR.
Needs only torch and numpy (Debian: apt-get install python3-torch python3-numpy).
"""
import argparse
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_numpy import write_safetensors  # noqa: E402

WRAPPERS = re.compile(r"(^|\.)(_orig_mod|_fsdp_wrapped_module|_checkpoint_wrapped_module)\.")


def parameter_names(n_layer):
    names = ["transformer.wte.weight"]
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        names += [p + "ln_1.weight", p + "attn.c_attn.weight", p + "attn.c_proj.weight",
                  p + "ln_2.weight", p + "mlp.c_fc.weight", p + "mlp.c_proj.weight"]
    return names + ["transformer.ln_f.weight", "lm_head.weight"]


def clean_name(name):
    while name.startswith("module."):
        name = name[len("module."):]
    while WRAPPERS.search(name):
        name = WRAPPERS.sub(r"\1", name)
    return name


def state_dict_of(obj):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and not torch.is_tensor(obj[key]):
                return state_dict_of(obj[key])
        return obj
    raise SystemExit(f"error: the file holds a {type(obj).__name__}, neither a module nor a state_dict")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("original")
    ap.add_argument("out")
    ap.add_argument("--n_head", type=int, required=True)
    ap.add_argument("--ctx_len", type=int, default=2048)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--vocab_size", type=int)
    ap.add_argument("--n_embd", type=int)
    ap.add_argument("--n_layer", type=int)
    ap.add_argument("--python_path", action="append", default=[])
    a = ap.parse_args()
    sys.path[:0] = a.python_path

    try:
        # A pickled whole module is not "weights only" (torch >= 2.6 defaults to that).
        obj = torch.load(a.original, map_location="cpu", weights_only=False)
    except TypeError:
        obj = torch.load(a.original, map_location="cpu")
    raw = state_dict_of(obj)
    state = {}
    for name, t in raw.items():
        clean = clean_name(name)
        if clean in state:
            raise SystemExit(f"error: two entries become {clean} after stripping wrappers")
        state[clean] = t

    if "transformer.wte.weight" not in state:
        raise SystemExit("error: no transformer.wte.weight: not an OmniBioTA state_dict? keys: "
                         + ", ".join(list(state)[:8]))
    vocab_size, n_embd = state["transformer.wte.weight"].shape
    n_layer = len({int(m.group(1)) for k in state for m in [re.match(r"transformer\.h\.(\d+)\.", k)] if m})
    for flag, found in (("vocab_size", vocab_size), ("n_embd", n_embd), ("n_layer", n_layer)):
        given = getattr(a, flag)
        if given is not None and given != found:
            raise SystemExit(f"error: --{flag} {given}, but the weights have {found}")
    if n_embd % a.n_head or (n_embd // a.n_head) % 2:
        raise SystemExit(f"error: n_embd {n_embd} does not split into {a.n_head} heads of even size")

    wanted = parameter_names(n_layer)
    missing = [n for n in wanted if n not in state]
    if missing:
        raise SystemExit("error: missing parameters: " + ", ".join(missing))
    dropped = [n for n in state if n not in wanted]
    if dropped:
        print("dropped (not OmniBioTA parameters): " + ", ".join(dropped), file=sys.stderr)
    config = {"vocab_size": int(vocab_size), "n_embd": int(n_embd), "n_layer": n_layer,
              "n_head": a.n_head, "ctx_len": a.ctx_len, "dropout": a.dropout}
    tmp = a.out + ".tmp"
    write_safetensors(tmp, {n: state[n] for n in wanted}, config)
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {len(wanted)} tensors, config {config}", file=sys.stderr)


if __name__ == "__main__":
    main()
