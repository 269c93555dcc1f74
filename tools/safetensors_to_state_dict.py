#!/usr/bin/env python3
"""An OmniBioTE-JVM .safetensors weights file -> a PyTorch state_dict (.pt) for the
original OmniBioTE code: model = OmniBioTA(**config); model.load_state_dict(torch.load(OUT)).

Usage: safetensors_to_state_dict.py IN.safetensors OUT.pt [--bf16]

Prints the model config (JSON, the original's argument names) on stdout. The state_dict
holds float32 tensors under the original names (--bf16 casts them, as the original trains).
Needs only torch and numpy (Debian: apt-get install python3-torch python3-numpy).
"""
import argparse
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_numpy import config_of, read_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    try:
        tensors, meta = read_safetensors(a.weights)
        config = config_of(meta, a.weights)
    except (ValueError, OSError) as e:
        raise SystemExit(f"error: {e}")
    state = collections.OrderedDict(
        (n, t.to(torch.bfloat16) if a.bf16 else t) for n, t in tensors.items())
    tmp = a.out + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, a.out)
    print(json.dumps(config))


if __name__ == "__main__":
    main()
