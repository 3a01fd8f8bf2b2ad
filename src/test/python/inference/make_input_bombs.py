"""Writes tensor files that are small on disk and large in memory, for ModelInputsTest.

Usage (from the repository root; Debian's torch, not a pyenv python):
    /usr/bin/python3 src/test/python/inference/make_input_bombs.py [OUT_DIR]
OUT_DIR defaults to src/test/resources/inference. torch.save writes a view with the storage it
views: one stored element expanded (stride 0) to 2**24 elements is a file of under a kilobyte. The
server bounds inputs by elements (2**24) and by bytes (2**26, what 2**24 float32 take), and takes
only the dtypes its backend runs.
"""
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[1] / "resources" / "inference"

N = 2 ** 24

FILES = {
    # complex: a dtype inference does not take; 2**24 of them would be 256 MiB
    "input_expand_complex128.pt": torch.zeros(1, dtype=torch.complex128).expand(N),
    # float64 is taken, but 2**24 of them are 128 MiB, twice the byte bound
    "input_expand_float64.pt": torch.zeros(1, dtype=torch.float64).expand(N),
    # half as many: exactly at the byte bound, taken
    "input_expand_float64_half.pt": torch.full((1,), 0.5, dtype=torch.float64).expand(N // 2),
}

for name, t in FILES.items():
    assert t.stride() == (0,), name
    torch.save(t, str(OUT / name))
    back = torch.load(str(OUT / name))
    assert back.shape == t.shape and back.dtype == t.dtype, name
    print(name, (OUT / name).stat().st_size, "bytes,", t.numel(), "elements of", t.dtype)
