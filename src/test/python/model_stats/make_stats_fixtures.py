"""Writes the model-stats fixtures and the `stats` block fl-server must report for each of them.

Usage (from anywhere; Debian's torch, not a pyenv python):
    /usr/bin/python3 src/test/python/model_stats/make_stats_fixtures.py [OUT_DIR]
OUT_DIR defaults to src/test/resources/model-stats. Deterministic: fixed seeds, PYTHONHASHSEED=0
(TorchScript's code order depends on it) and the script re-runs itself compiled under its bare
name, so the TorchScript debug records name no path of this machine.

Four small models (mlp, cnn_bn with BatchNorm, frozen with a requires_grad=False layer, tied with
a weight shared by two layers), each written four ways: torch.jit.save (<m>.torchscript.pt),
torch.save of the module (<m>.module.pt), torch.save of its state_dict (<m>.state_dict.pt), of its state_dict(keep_vars=True), which pickles the
Parameter objects (<m>.state_dict_vars.pt), and
safetensors (<m>.safetensors, written here by hand like safetensors.torch.save_model: a tensor
shared by several names is stored once, under its first name).

<m>.<variant>.stats.json is the whole `stats` object expected for that file when the model's
input_shape is the one in models.json. Its numbers are torchinfo's, computed WITHOUT torchinfo
(which is not a Debian package) from the eager model, the way torchinfo 1.8 counts:
total_params = sum of numel over model.parameters() (each parameter object once, buffers never),
trainable_params = those with requires_grad, total_param_bytes = numel * element size of the
same; one summary_list entry per named_modules() entry whose num_params / trainable_params /
param_bytes count that submodule's own parameters() (its children's included, each once).

A state_dict or safetensors file does not say which tensors are parameters. For those variants the
expected values follow fl-server's documented rule (and carry "params_inferred": true): floating
point tensors are trainable parameters except the buffers named running_mean, running_var and
num_batches_tracked; tensors that share one storage view count once; there is no summary_list.
"""
import json
import os
import struct
import sys
from pathlib import Path

HERE = Path(sys.argv[0]).resolve().parent
ROOT = HERE.parents[3]
# The models are defined in this script, and TorchScript's debug records name the file their code
# comes from: the script re-runs itself compiled under its bare name (../bare_source.py), so the
# archives name no folder of this machine.
sys.path.insert(0, str(HERE.parent))
from bare_source import rerun_under_bare_name  # noqa: E402

rerun_under_bare_name(__file__)

import torch  # noqa: E402  (after the re-exec)
import torch.nn as nn  # noqa: E402

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src" / "test" / "resources" / "model-stats"
BUFFER_NAMES = ("running_mean", "running_var", "num_batches_tracked")
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 3 * 3, 3))

    def forward(self, x):
        return self.head(self.pool(self.relu(self.bn(self.conv(x)))))


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Linear(6, 8)
        self.act = nn.Tanh()
        self.classifier = nn.Linear(8, 2)
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.classifier.bias.requires_grad_(False)

    def forward(self, x):
        return self.classifier(self.act(self.features(x)))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.hidden = nn.Linear(6, 6)
        self.decoder = nn.Linear(6, 10, bias=False)
        self.decoder.weight = self.embed.weight

    def forward(self, x):
        return self.decoder(torch.relu(self.hidden(self.embed(x))))


def models():
    torch.manual_seed(7)
    cnn = CNN()
    with torch.no_grad():  # move BatchNorm's running statistics away from their initial values
        cnn.train()
        for _ in range(3):
            cnn(torch.randn(4, 1, 8, 8))
    return {
        "mlp": (nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), [None, 8]),
        "cnn_bn": (cnn, [None, 1, 8, 8]),
        "frozen": (Frozen(), [None, 6]),
        "tied": (Tied(), [None, 5]),
    }


def unique(tensors):
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def counts(params):
    return {
        "num_params": sum(p.numel() for p in params),
        "trainable_params": sum(p.numel() for p in params if p.requires_grad),
        "param_bytes": sum(p.numel() * p.element_size() for p in params),
    }


def kernel_size(m):
    """torchinfo's LayerInfo.get_kernel_size: the module's kernel_size attribute, a list or an int."""
    k = getattr(m, "kernel_size", None)
    if isinstance(k, int):
        return k
    return list(k) if k is not None else None


def summary_list(model):
    out, per_depth = [], {}
    for index, (name, m) in enumerate(model.named_modules()):
        depth = 0 if name == "" else name.count(".") + 1
        per_depth[depth] = per_depth.get(depth, 0) + 1
        entry = {
            "layer_id": index, "path": name, "var_name": name.rsplit(".", 1)[-1] if name else type(m).__name__,
            "class_name": type(m).__name__, "depth": depth, "depth_index": per_depth[depth],
            "is_leaf_layer": not any(True for _ in m.children()), "contains_lazy_param": False,
            "kernel_size": kernel_size(m),
            "executed": None, "is_recursive": None, "input_size": None, "output_size": None,
            "output_bytes": None, "macs": None,
        }
        entry.update(counts(unique(m.parameters())))
        out.append(entry)
    return out


def tensor_row(name, t, parameter, trainable):
    return {"name": name, "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "num_params": t.numel(), "parameter": parameter, "trainable": trainable}


def exact_tensors(model):
    """The state_dict's tensors, each tensor object once under its first name, with its role."""
    params = {id(p): p for p in model.parameters()}
    rows, seen = [], set()
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            continue
        seen.add(id(t))
        p = params.get(id(t))
        rows.append(tensor_row(name, t, p is not None, p is not None and p.requires_grad))
    return rows


def inferred_parameter(name, t):
    return t.is_floating_point() and name.rsplit(".", 1)[-1] not in BUFFER_NAMES


def inferred_tensors(state):
    return [tensor_row(n, t, inferred_parameter(n, t), inferred_parameter(n, t)) for n, t in state.items()]


def inferred_totals(state):
    seen, params = set(), []
    for n, t in state.items():
        view = (t.storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        if inferred_parameter(n, t) and view not in seen:
            seen.add(view)
            params.append(t)
    c = counts(params)
    return {"total_params": c["num_params"], "trainable_params": c["num_params"],
            "non_trainable_params": 0, "total_param_bytes": c["param_bytes"]}


def stats(fmt, kind, input_shape, totals, tensors, summary, inferred):
    return dict({"format": fmt, "kind": kind, "input_size": [[1 if d is None else d for d in input_shape]],
                 "total_input": None, "total_mult_adds": None, "total_output_bytes": None,
                 "params_inferred": inferred, "summary_list": summary, "tensors": tensors}, **totals)


def safetensors_state(model):
    """What safetensors.torch.save_model keeps: each storage once, under its first state_dict name."""
    state, seen = {}, set()
    for name, t in model.state_dict().items():
        if t.storage().data_ptr() not in seen:
            seen.add(t.storage().data_ptr())
            state[name] = t
    return state


def safetensors_bytes(state):
    header, data, offset = {"__metadata__": {"format": "pt"}}, b"", 0
    for name, t in state.items():
        raw = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def write_json(name, obj):
    (OUT / name).write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    shapes = {}
    for name, (model, input_shape) in models().items():
        model.eval()
        shapes[name] = input_shape
        params = unique(model.parameters())
        c = counts(params)
        exact = {"total_params": c["num_params"], "trainable_params": c["trainable_params"],
                 "non_trainable_params": c["num_params"] - c["trainable_params"],
                 "total_param_bytes": c["param_bytes"]}
        summary = summary_list(model)

        torch.jit.save(torch.jit.script(model), str(OUT / (name + ".torchscript.pt")))
        write_json(name + ".torchscript.pt.stats.json",
                   stats("torchscript", "torchscript", input_shape, exact, exact_tensors(model), summary, False))

        torch.save(model, OUT / (name + ".module.pt"))
        write_json(name + ".module.pt.stats.json",
                   stats("torch.save", "module", input_shape, exact, exact_tensors(model), summary, False))

        state = model.state_dict()
        torch.save(state, OUT / (name + ".state_dict.pt"))
        write_json(name + ".state_dict.pt.stats.json",
                   stats("torch.save", "state_dict", input_shape, inferred_totals(state), inferred_tensors(state),
                         None, True))

        # keep_vars=True pickles the Parameter objects themselves: the file tells parameters and requires_grad
        torch.save(model.state_dict(keep_vars=True), OUT / (name + ".state_dict_vars.pt"))
        write_json(name + ".state_dict_vars.pt.stats.json",
                   stats("torch.save", "state_dict", input_shape, exact, exact_tensors(model), None, False))

        st = safetensors_state(model)
        (OUT / (name + ".safetensors")).write_bytes(safetensors_bytes(st))
        write_json(name + ".safetensors.stats.json",
                   stats("safetensors", "safetensors", input_shape, inferred_totals(st), inferred_tensors(st),
                         None, True))
    write_json("models.json", {"input_shape": shapes})


if __name__ == "__main__":
    main()
