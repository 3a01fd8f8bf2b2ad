"""The modules make_hostile.py scripts. They live in a module of their own (not __main__) so that
their TorchScript code lands in a record of a known name, code/__torch__/hostile_models.py, which
make_hostile.py then renames, doubles or moves."""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReadsFile(nn.Module):
    """Returns the first bytes of a server file: what the layout check must stop however the code
    record is named."""

    def forward(self, x):
        return torch.from_file("/etc/passwd", False, 4, dtype=torch.uint8)


class WritesFile(nn.Module):
    """Writes its input to a file in the working directory of whoever runs it."""

    def forward(self, x):
        torch.save(x, "fl-hostile-written.pt")
        return x


class Echo(nn.Module):
    """A linear layer with the identity as weight and zero bias: its output is exactly its input
    (for finite values), so a test can tell its own marker from anybody else's."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        with torch.no_grad():
            self.fc.weight.copy_(torch.eye(8))
            self.fc.bias.zero_()

    def forward(self, x, mc: bool = False):
        return self.fc(x)


class UninitRaw(nn.Module):
    """Uninitialised memory, one byte per output value: as many bytes as the input has values, in
    the input's shape, as float32 (0..255)."""

    def forward(self, x, mc: bool = False):
        return torch.empty(x.shape, dtype=torch.uint8).to(torch.float32)


class UninitOneHot(nn.Module):
    """Uninitialised memory made visible through argmax(dim=1): one row per input value, with a 1 at
    the column of the byte found there, so argmax returns the bytes themselves."""

    def forward(self, x, mc: bool = False):
        b = torch.empty([x.numel()], dtype=torch.uint8)
        return F.one_hot(b.to(torch.int64), 256).to(torch.float32)


class LoopForever(nn.Module):
    """Never returns: the condition is a tensor that stays 1."""

    def forward(self, x, mc: bool = False):
        c = torch.ones([1])
        while bool(c[0] > 0):
            c = c * 1.0
        return x + c


class AllocHuge(nn.Module):
    """One allocation of 1 TiB, filled with zeros."""

    def forward(self, x, mc: bool = False):
        big = torch.zeros([1 << 40], dtype=torch.uint8)
        return x + big[0].to(x.dtype)


class AllocGrow(nn.Module):
    """Keeps int(x[0, 0]) blocks of 64 MiB alive, each written (ones plus x[0, 1]), then returns their
    sums. The blocks depend on the input: TorchScript's optimiser would otherwise fold a constant
    torch.ones into one tensor shared by every list entry, and nothing would grow."""

    def forward(self, x, mc: bool = False):
        n = int(x[0, 0])
        blocks: List[torch.Tensor] = []
        for i in range(n):
            blocks.append(torch.ones([1 << 24]) + x[0, 1])
        sums: List[torch.Tensor] = [b.sum() for b in blocks]
        if len(sums) == 0:
            return torch.zeros([1, 1])
        return torch.stack(sums).reshape([1, n])


class Spin(nn.Module):
    """int(x[0, 0]) products of two 256 x 256 matrices, then returns its input unchanged: a model whose
    run time the caller picks, and whose output still identifies the caller."""

    def forward(self, x, mc: bool = False):
        n = int(x[0, 0])
        a = torch.full([256, 256], 1.0 / 256)
        acc = torch.eye(256)
        for i in range(n):
            acc = torch.mm(acc, a)
        return x + acc[0, 0] * 0.0


class EmptyHugeOutput(nn.Module):
    """An output bounded by bytes but not by shape: [1, 0, 10^9] holds no bytes, yet argmax over
    dimension 1 would be 10^9 class indices (8 GB of longs in the server)."""

    def forward(self, x, mc: bool = False):
        return torch.zeros([1, 0, 1000000000])


class NoClasses(nn.Module):
    """An output with no classes: [1, 0], an argmax over nothing and a class count of 0 for the
    entropies to divide by."""

    def forward(self, x, mc: bool = False):
        return torch.zeros([1, 0])
