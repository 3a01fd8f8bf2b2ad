"""Training and evaluation steps shared by the client, the simulation and the evaluation script.

They work on any module that maps a (batch, 64) float tensor to (batch, 10) logits, in particular
on a TorchScript module loaded from the bytes the server hands out: that is the point of the test,
so nothing here may depend on the Python class the initial model was built from.
"""

import io

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_EPOCHS = 5
DEFAULT_BATCH = 32
DEFAULT_LR = 0.1


def quiet_torch():
    """One thread per process: three clients share two cores with the server."""
    torch.set_num_threads(1)


def load_module(data):
    """Loads model bytes as the DLR client does: ``torch.load`` (TorchScript archives are handed on to
    ``torch.jit.load`` by torch itself; torch 1.13 warns about that, which is expected)."""
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TorchScript archive.*")
        module = torch.load(io.BytesIO(data))
    if not isinstance(module, torch.nn.Module) and not isinstance(module, torch.jit.ScriptModule):
        raise TypeError(f"model bytes hold a {type(module).__name__}, not a module")
    return module


def save_module(module):
    """The update's bytes: ``torch.jit.save`` for TorchScript modules, as the DLR client does."""
    buf = io.BytesIO()
    if isinstance(module, torch.jit.ScriptModule):
        torch.jit.save(module, buf)
    else:
        torch.save(module, buf)
    return buf.getvalue()


def train(module, x, y, epochs=DEFAULT_EPOCHS, batch=DEFAULT_BATCH, lr=DEFAULT_LR, seed=0):
    """Plain minibatch SGD; returns the mean loss of the last epoch. The module stays in training mode."""
    generator = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    optimizer = torch.optim.SGD(module.parameters(), lr=lr, momentum=0.9)
    module.train()
    last = float("nan")
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=generator)
        total, count = 0.0, 0
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            optimizer.zero_grad()
            loss = F.cross_entropy(module(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += float(loss) * len(idx)
            count += len(idx)
        last = total / count
    return last


def evaluate(module, x, y):
    """{"accuracy", "loss", "samples"} of the module on (x, y); restores the module's mode."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            logits = module(torch.from_numpy(np.ascontiguousarray(x)))
            yt = torch.from_numpy(np.ascontiguousarray(y))
            loss = float(F.cross_entropy(logits, yt))
            accuracy = float((logits.argmax(dim=1) == yt).float().mean())
    finally:
        module.train(was_training)
    return {"accuracy": accuracy, "loss": loss, "samples": int(len(y))}
