#!/usr/bin/env python3
"""A Byzantine participant's update for RobustAggregationIT (api.md §6.7).

Loads robust/mlp/client04.state_dict.pt (written by make_robust_fixtures.py) and saves it with every
floating-point tensor multiplied by 1000, as torch.save of a state_dict like its source, to
robust/byzantine/client04_x1000.state_dict.pt. Run from the repository root:

    /usr/bin/python3 src/test/python/robust_aggregation/make_byzantine_update.py
"""
import os
import torch

ROOT = os.path.join("src", "test", "resources", "robust")
SOURCE = os.path.join(ROOT, "mlp", "client04.state_dict.pt")
TARGET = os.path.join(ROOT, "byzantine", "client04_x1000.state_dict.pt")


def main():
    # scaled in place, so the pickled object keeps the source's structure (an OrderedDict with its
    # _metadata), which the server checks against the global model's
    scaled = torch.load(SOURCE, weights_only=False)
    with torch.no_grad():
        for v in scaled.values():
            if v.is_floating_point():
                v.mul_(1000)
    os.makedirs(os.path.dirname(TARGET), exist_ok=True)
    torch.save(scaled, TARGET)
    print("wrote", TARGET, {k: tuple(v.shape) for k, v in scaled.items()})


if __name__ == "__main__":
    main()
