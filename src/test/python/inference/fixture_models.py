"""The models behind the inference fixtures (see src/test/resources/inference/README.md).

make_fixtures.py compiles this file under the fixed name ``fixture_models.py`` (not imported from
its path), so the TorchScript archives' debug records hold no machine-specific path and the
fixtures regenerate byte for byte.

MC dropout convention (inference.md section 3 a, the client export contract): ``forward(self, x,
mc: bool = False)`` applies dropout with ``F.dropout(h, p, self.training or mc)``, so the server
switches dropout on per call while BatchNorm stays in eval mode.
"""
import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """8 -> Linear 16 -> BatchNorm1d -> ReLU -> dropout(p) -> Linear 4 [-> softmax], with the mc flag."""

    def __init__(self, softmax: bool = False, p: float = 0.3):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 4)
        self.p = p
        self.softmax = softmax

    def forward(self, x, mc: bool = False):
        h = F.relu(self.bn(self.fc1(x)))
        h = F.dropout(h, self.p, self.training or mc)
        out = self.fc2(h)
        if self.softmax:
            out = F.softmax(out, dim=1)
        return out


class MLPNoFlag(nn.Module):
    """The same layers (same parameter names) with an nn.Dropout module and no way to switch it on per call."""

    def __init__(self, p: float = 0.3):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(p)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.bn(self.fc1(x)))))


class CNN(nn.Module):
    """(N, 1, 8, 8) -> conv 4x3x3 -> BatchNorm2d -> ReLU -> max-pool 2 -> dropout(p) -> Linear 10, with the mc flag."""

    def __init__(self, p: float = 0.25):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 10)
        self.p = p

    def forward(self, x, mc: bool = False):
        h = self.pool(F.relu(self.bn(self.conv(x))))
        h = F.dropout(h, self.p, self.training or mc)
        return self.fc(torch.flatten(h, 1))


class Preprocess(nn.Module):
    """Raw uint8 values (any shape) -> float32 scaled to [0, 1] by 1/255, then normalised: (v - 0.5) / 0.25."""

    def forward(self, x):
        return (x.to(torch.float32) / 255.0 - 0.5) / 0.25
