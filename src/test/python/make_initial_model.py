#!/usr/bin/env python3
"""Writes the initial global model of the PyTorch end-to-end test: a TorchScript MLP 64-32-10.

TorchScript because that is what the server can aggregate without running Python (it rewrites
the storage bytes of this very file) and what the DLR client re-saves with ``torch.jit.save``.
The seed fixes the weights, so every run starts from the same, untrained model.

usage: make_initial_model.py OUT [--seed N] [--hidden N]
"""

import argparse
import sys

import torch

import digits_data
import digits_model


class DigitsMLP(torch.nn.Module):
    """64 pixel values in, 10 class logits out."""

    def __init__(self, hidden):
        super().__init__()
        self.hidden = torch.nn.Linear(digits_data.NUM_FEATURES, hidden)
        self.out = torch.nn.Linear(hidden, digits_data.NUM_CLASSES)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args(argv)
    digits_model.quiet_torch()
    torch.manual_seed(args.seed)
    scripted = torch.jit.script(DigitsMLP(args.hidden))
    torch.jit.save(scripted, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
