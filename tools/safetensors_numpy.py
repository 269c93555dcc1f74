"""The safetensors format with numpy only (Debian has no safetensors package), float32 tensors.

A file is an 8-byte little-endian header length, a JSON header (name -> dtype, shape,
data_offsets; plus "__metadata__", string to string) padded with spaces to 8 bytes, then the
raw little-endian data of every tensor back to back. OmniBioTE-JVM keeps the model config as
JSON under the metadata key "config", with the original's names: vocab_size, n_embd,
n_layer, n_head, ctx_len, dropout.

Used by state_dict_to_safetensors.py, safetensors_to_state_dict.py and the Python
reference model of the tests (worker/src/test/resources/omnibiota_reference.py).
"""
import json

import numpy as np
import torch

CONFIG_KEYS = ("vocab_size", "n_embd", "n_layer", "n_head", "ctx_len", "dropout")


def read_safetensors(path):
    """(state_dict of float32 CPU tensors in file order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    n = int.from_bytes(raw[:8], "little")
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} does not fit a file of {len(raw)} bytes")
    header = json.loads(raw[8:8 + n])
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']}; only F32 is supported")
        begin, end = e["data_offsets"]
        if end > len(data):
            raise ValueError(f"{path}: tensor {name} ends past the end of the file (truncated?)")
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(e["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, meta


def config_of(meta, path="file"):
    """The model config dict stored in a file's metadata."""
    if "config" not in meta:
        raise ValueError(f"{path}: no model config in the safetensors metadata")
    return json.loads(meta["config"])


def write_safetensors(path, state_dict, config):
    """state_dict -> .safetensors (float32), with the model config as JSON in the metadata."""
    header = {"__metadata__": {"format": "pt", "config": json.dumps(config)}}
    chunks, offset = [], 0
    for name, t in state_dict.items():
        a = np.ascontiguousarray(t.detach().float().cpu().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        chunks.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h)
        for c in chunks:
            f.write(c)
