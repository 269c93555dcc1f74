"""What the original's RoPE computes once Module.to(torch.bfloat16) has cast its table.

The table is a complex64 buffer polar(1, angle) registered on the module (LLaMA form, channel
pairs (2j, 2j+1), theta_j = 10000^(-2j/d)); the cast keeps only its real part, in bf16. The
rotation then multiplies the complex view of each pair, in float32, by that real table and
casts back to the input's dtype. Written from shared/notes/original-recipe.md.

usage: rope_after_bf16_cast.py OUT.npy T H D  (input x[i] = ((7 i) mod 33 - 16) / 8, shape
[2, T, H, D], exact in bf16; output float32 values of the bf16 result)
"""
import sys
import warnings

import numpy as np
import torch


class WithTable(torch.nn.Module):
    def __init__(self, t, d):
        super().__init__()
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, d, 2).float() / d))
        angles = torch.outer(torch.arange(t).float(), inv_freq)
        self.register_buffer("freqs_cis", torch.polar(torch.ones_like(angles), angles))


def main():
    out, t, h, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Casting complex values to real discards the imaginary part"
        module = WithTable(t, d).to(torch.bfloat16)
    table = module.freqs_cis
    assert table.dtype == torch.bfloat16, table.dtype
    i = torch.arange(2 * t * h * d)
    x = (((i * 7) % 33 - 16).float() / 8).view(2, t, h, d).to(torch.bfloat16)
    pairs = torch.view_as_complex(x.float().reshape(2, t, h, d // 2, 2))
    y = torch.view_as_real(pairs * table.view(1, t, 1, d // 2)).flatten(3).type_as(x)
    np.save(out, y.float().numpy())


if __name__ == "__main__":
    main()
