"""The data of the PyTorch end-to-end test (PyTorchClientsIT): scikit-learn's digits.

The digits ship inside Debian's python3-sklearn (no download at run time), are small enough to
train on in seconds with one CPU thread, and are hard enough that a randomly initialised model is
clearly worse than a trained one. Every split here is fixed by a seed, so the three clients, the
initial-model script and the evaluation script agree on which sample belongs where without
talking to each other:

* a held-out set (20 %) that no client ever sees, for judging the global models;
* the rest cut into disjoint shards, one per client; each shard keeps 20 % of its samples as
  the client's own test part, which the client uses in the server's test rounds.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SPLIT_SEED = 20240
HELD_OUT_FRACTION = 0.2
SHARD_TEST_FRACTION = 0.2
NUM_FEATURES = 64
NUM_CLASSES = 10


def _all():
    digits = load_digits()
    # Pixel values are 0..16; scaled to [0, 1] so that plain SGD behaves.
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=HELD_OUT_FRACTION, random_state=SPLIT_SEED, stratify=y)


def held_out():
    """(x, y) that no client trains or tests on."""
    _, x_held, _, y_held = _all()
    return x_held, y_held


def shard(index, count):
    """Client ``index`` of ``count``: ((x_train, y_train), (x_test, y_test)), disjoint from the others."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} outside 0..{count - 1}")
    x_rest, _, y_rest, _ = _all()
    order = np.random.RandomState(SPLIT_SEED + 1).permutation(len(y_rest))
    mine = np.array_split(order, count)[index]
    x, y = x_rest[mine], y_rest[mine]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=SHARD_TEST_FRACTION, random_state=SPLIT_SEED + 2 + index)
    return (x_train, y_train), (x_test, y_test)
