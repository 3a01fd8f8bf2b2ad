#!/usr/bin/env python3
"""Writes the TorchScript fixtures of the inference backend's tests (DjlBackendTest,
InferenceRuntimeInContainerIT) and the outputs PyTorch computes for them.

Run with Debian's python3-torch (1.13), from the repository root:
    /usr/bin/python3 src/test/python/inference_backend/gen_backend_fixtures.py

Writes into src/test/resources/inference-backend/:
  mc_mlp.pt          scripted MLP 8 -> 16 -> BatchNorm -> ReLU -> dropout -> 16 -> dropout -> 4 whose
                     forward(x, mc: bool = False) keeps dropout on when mc is True (the MC-dropout
                     contract of the README), BatchNorm in eval mode
  plain_mlp.pt       the same weights with nn.Dropout modules and forward(x) only (no MC flag)
  plain_mlp_traced.pt torch.jit.trace of plain_mlp
  mc_cnn.pt          scripted CNN on 1x8x8 images: conv 4 -> BatchNorm2d -> ReLU -> max-pool ->
                     dropout (flag) -> linear 3
  two_outputs.pt     forward returns a tuple of two tensors (the backend wants exactly one)
  double_it.pt       forward(x) = x + x, any dtype (dtype round trips)
  positive.pt        forward(x) = x > 0 (a bool output)
  one_tuple.pt       forward returns a tuple of one tensor (accepted: its one tensor)
  transpose.pt       forward(x) = x.t() (a non-contiguous output)
  cast_int16.pt, cast_bfloat16.pt  forward(x) = x.to(int16 / bfloat16): dtypes DJL cannot name
  reads_file.pt      forward returns torch.from_file("/etc/hostname", ...): TorchScript that reads a
                     server file (the server must refuse it)
  writes_file.pt     forward calls torch.save(x, "fl-inference-test-written.pt"): writes a file (refused)
  broken_code.pt     mc_mlp.pt with its TorchScript code replaced by a syntax error: a valid archive
                     (the server's reader accepts it) that libtorch cannot compile
  expected.json      inputs, outputs, seeded MC-dropout passes and seeded SWAG samples

Every number in expected.json is what torch 1.13 computed: the Java side must match within
1e-5 (forward, MC dropout) and 1e-4 (SWAG).
"""
import os
import sys

# TorchScript's debug records name the files of the scripted code and, for traced modules, every
# frame of the Python stack: the script re-runs itself with its code compiled under its bare name
# (../bare_source.py), so the archives say "<string>" and "gen_backend_fixtures.py", not this
# machine's folders.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), os.pardir))
from bare_source import rerun_under_bare_name  # noqa: E402

if __name__ == "__main__":
    rerun_under_bare_name(__file__)

import json
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters

OUT = os.path.join("src", "test", "resources", "inference-backend")
TIED = os.path.join("src", "test", "resources", "pytorch", "models", "tied.torchscript.pt")


class McMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 4)

    def forward(self, x, mc: bool = False):
        h = F.relu(self.bn(self.fc1(x)))
        h = F.dropout(h, 0.3, self.training or mc)
        h = F.relu(self.fc2(h))
        h = F.dropout(h, 0.3, self.training or mc)
        return self.fc3(h)


class PlainMlp(nn.Module):
    def __init__(self, src):
        super().__init__()
        self.fc1 = src.fc1
        self.bn = src.bn
        self.drop1 = nn.Dropout(0.3)
        self.fc2 = src.fc2
        self.drop2 = nn.Dropout(0.3)
        self.fc3 = src.fc3

    def forward(self, x):
        h = self.drop1(F.relu(self.bn(self.fc1(x))))
        h = self.drop2(F.relu(self.fc2(h)))
        return self.fc3(h)


class McCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x, mc: bool = False):
        h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        h = F.dropout(torch.flatten(h, 1), 0.25, self.training or mc)
        return self.fc(h)


class TwoOutputs(nn.Module):
    def forward(self, x):
        return x, x * 2


class OneTuple(nn.Module):
    def forward(self, x):
        return (x * 3,)


class Transpose(nn.Module):
    def forward(self, x):
        return x.t()


class CastInt16(nn.Module):
    def forward(self, x):
        return x.to(torch.int16)


class CastBFloat16(nn.Module):
    def forward(self, x):
        return x.to(torch.bfloat16)


class ReadsFile(nn.Module):
    def forward(self, x):
        return torch.from_file("/etc/hostname", False, 1, dtype=torch.uint8)


class WritesFile(nn.Module):
    def forward(self, x):
        torch.save(x, "fl-inference-test-written.pt")
        return x


class DoubleIt(nn.Module):
    def forward(self, x):
        return x + x


class Positive(nn.Module):
    def forward(self, x):
        return x > 0


def break_code(src, dst):
    """Copies a TorchScript archive, replacing its top-level code with a syntax error."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("/code/__torch__.py"):
                data = b"class McMlp(Module):\n  def forward(self, x: Tensor) -> Tensor:\n    return x +\n"
            out = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zout.writestr(out, data)


def warm_up_batch_norm(model, shape):
    """Running statistics that are not the initial 0/1, so that eval mode visibly uses them."""
    model.train()
    with torch.no_grad():
        for _ in range(20):
            model(torch.randn(*shape) * 2 + 0.5)
    model.eval()


def floats(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def tensor_json(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
            "values": [float(v) if t.is_floating_point() else int(v) for v in t.reshape(-1).tolist()]}


def mc_passes(module, x, seed, n):
    torch.manual_seed(seed)
    with torch.no_grad():
        return [floats(module(x, True)) for _ in range(n)]


def swag_samples(module, x, mean, second, seed, n):
    """api.md §15.9 as the server computes it: one seed, then per sample z ~ N(0, 1) over the whole
    flattened parameter vector, w = mean + sqrt(clamp(second - mean², 0)) * z."""
    torch.manual_seed(seed)
    outs = []
    with torch.no_grad():
        for _ in range(n):
            z = torch.randn(mean.numel())
            w = mean + (second - mean ** 2).clamp(min=0).sqrt() * z
            vector_to_parameters(w, module.parameters())
            outs.append(floats(module(x)))
    return outs


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20240601)
    expected = {"generator": "src/test/python/inference_backend/gen_backend_fixtures.py",
                "torch": torch.__version__}

    mc = McMlp()
    warm_up_batch_norm(mc, (32, 8))
    plain = PlainMlp(mc).eval()
    x = torch.randn(5, 8)

    torch.jit.save(torch.jit.script(mc), os.path.join(OUT, "mc_mlp.pt"))
    torch.jit.save(torch.jit.script(plain), os.path.join(OUT, "plain_mlp.pt"))
    torch.jit.save(torch.jit.trace(plain, x), os.path.join(OUT, "plain_mlp_traced.pt"))

    cnn = McCnn()
    warm_up_batch_norm(cnn, (16, 1, 8, 8))
    torch.jit.save(torch.jit.script(cnn), os.path.join(OUT, "mc_cnn.pt"))
    torch.jit.save(torch.jit.script(TwoOutputs()), os.path.join(OUT, "two_outputs.pt"))
    torch.jit.save(torch.jit.script(DoubleIt()), os.path.join(OUT, "double_it.pt"))
    torch.jit.save(torch.jit.script(Positive()), os.path.join(OUT, "positive.pt"))
    torch.jit.save(torch.jit.script(OneTuple()), os.path.join(OUT, "one_tuple.pt"))
    torch.jit.save(torch.jit.script(Transpose()), os.path.join(OUT, "transpose.pt"))
    torch.jit.save(torch.jit.script(CastInt16()), os.path.join(OUT, "cast_int16.pt"))
    torch.jit.save(torch.jit.script(CastBFloat16()), os.path.join(OUT, "cast_bfloat16.pt"))
    break_code(os.path.join(OUT, "mc_mlp.pt"), os.path.join(OUT, "broken_code.pt"))
    torch.jit.save(torch.jit.script(ReadsFile()), os.path.join(OUT, "reads_file.pt"))
    torch.jit.save(torch.jit.script(WritesFile()), os.path.join(OUT, "writes_file.pt"))

    # Everything below is computed on the archives as loaded back, like the server does.
    mc_s = torch.jit.load(os.path.join(OUT, "mc_mlp.pt")).eval()
    plain_s = torch.jit.load(os.path.join(OUT, "plain_mlp.pt")).eval()
    traced_s = torch.jit.load(os.path.join(OUT, "plain_mlp_traced.pt")).eval()
    cnn_s = torch.jit.load(os.path.join(OUT, "mc_cnn.pt")).eval()
    image = torch.randn(2, 1, 8, 8)
    single = torch.randn(1, 8)

    with torch.no_grad():
        expected["mlp"] = {
            "input": tensor_json(x),
            "single_input": tensor_json(single),
            "forward": floats(mc_s(x)),
            "forward_single": floats(mc_s(single)),
            "forward_plain": floats(plain_s(x)),
            "forward_traced": floats(traced_s(x)),
            "parameter_count": sum(p.numel() for p in mc_s.parameters()),
        }
    expected["mlp"]["mc"] = {"seed": 123, "passes": mc_passes(mc_s, x, 123, 4)}
    expected["mlp"]["mc_single"] = {"seed": 5, "passes": mc_passes(mc_s, single, 5, 3)}

    with torch.no_grad():
        expected["cnn"] = {"input": tensor_json(image), "forward": floats(cnn_s(image)),
                           "parameter_count": sum(p.numel() for p in cnn_s.parameters())}
    expected["cnn"]["mc"] = {"seed": 99, "passes": mc_passes(cnn_s, image, 99, 3)}

    # SWAG moments: the trained weights as the first moment; a variance of (0.05 |w| + 0.01)², and a
    # few entries whose second moment is below mean² (clamped to variance 0).
    swag_model = torch.jit.load(os.path.join(OUT, "mc_mlp.pt")).eval()
    mean = parameters_to_vector(swag_model.parameters()).detach().clone()
    var = (0.05 * mean.abs() + 0.01) ** 2
    second = mean ** 2 + var
    second[::7] = mean[::7] ** 2 - 0.001
    expected["mlp"]["swag"] = {"seed": 7, "mean": floats(mean), "second_moment": floats(second),
                               "samples": swag_samples(swag_model, x, mean, second, 7, 3)}

    tied = torch.jit.load(TIED).eval()
    expected["tied"] = {"file": "src/test/resources/pytorch/models/tied.torchscript.pt",
                        "parameter_count": sum(p.numel() for p in tied.parameters()),
                        "parameter_names": [n for n, _ in tied.named_parameters()]}

    dtypes = {}
    double_it = torch.jit.load(os.path.join(OUT, "double_it.pt"))
    samples = {
        "float32": torch.tensor([[1.5, -2.25], [0.0, 3.0]], dtype=torch.float32),
        "float64": torch.tensor([1e-300, -2.5, 1e300], dtype=torch.float64),
        "float16": torch.tensor([0.5, -1.5, 2.0], dtype=torch.float16),
        "bfloat16": torch.tensor([0.5, -1.5, 2.0], dtype=torch.bfloat16),
        "int64": torch.tensor([[1, -(2 ** 40)], [3, 4]], dtype=torch.int64),
        "int32": torch.tensor([7, -8, 2 ** 20], dtype=torch.int32),
        "int16": torch.tensor([7, -8, 300], dtype=torch.int16),
        "int8": torch.tensor([7, -8, 60], dtype=torch.int8),
        "uint8": torch.tensor([7, 8, 120], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }
    for name, t in samples.items():
        out = double_it(t)
        dtypes[name] = {"input": tensor_json(t.float() if name in ("float16", "bfloat16") else t),
                        "output": tensor_json(out.float() if name in ("float16", "bfloat16") else out),
                        "output_dtype": str(out.dtype).replace("torch.", "")}
    expected["double_it"] = dtypes
    positive = torch.jit.load(os.path.join(OUT, "positive.pt"))
    p_in = torch.tensor([[-1.0, 2.0, 0.0]])
    expected["positive"] = {"input": tensor_json(p_in), "output": tensor_json(positive(p_in))}

    small = torch.tensor([[1.25, -2.5, 3.0], [4.0, 5.5, -6.75]])
    expected["small_input"] = tensor_json(small)
    expected["one_tuple"] = tensor_json(torch.jit.load(os.path.join(OUT, "one_tuple.pt"))(small)[0])
    expected["transpose"] = tensor_json(torch.jit.load(os.path.join(OUT, "transpose.pt"))(small))
    expected["cast_int16"] = tensor_json(torch.jit.load(os.path.join(OUT, "cast_int16.pt"))(small).float())
    expected["cast_bfloat16"] = tensor_json(torch.jit.load(os.path.join(OUT, "cast_bfloat16.pt"))(small).float())
    try:
        torch.jit.load(os.path.join(OUT, "broken_code.pt"))
        raise SystemExit("broken_code.pt loads in torch: it should not")
    except RuntimeError:
        pass

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
