"""Writes the inference test fixtures and the values PyTorch computes for them.

Usage (from the repository root; Debian's torch, not a pyenv python):
    /usr/bin/python3 src/test/python/inference/make_fixtures.py [OUT_DIR]
OUT_DIR defaults to src/test/resources/inference; its README.md says what each file
holds. Everything is deterministic: fixed seeds, PYTHONHASHSEED=0 (TorchScript's code order depends
on it; the script re-runs itself with it), and the models are compiled under a fixed file name so the
TorchScript debug records carry no machine path. Regenerating gives byte-identical files with the
same torch build (Debian python3-torch 1.13).

Every expected value is computed here by PyTorch, on the module loaded back with torch.jit.load
from the written file (what the server runs), and stored as JSON beside the fixtures.
"""
import json
import linecache
import os
import struct
import sys
import types
import zlib
from pathlib import Path

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402  (after the re-exec)
from torch.nn.utils import parameters_to_vector, vector_to_parameters  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[1] / "resources" / "inference"

MC_SEED, MC_N = 123, 10
SWAG_SEED, SWAG_N = 7, 5

FORMULAS = {
    "passes": "out_k = model(x, True) for k = 1..N after torch.manual_seed(seed), one module, "
              "passes in order (MC dropout); or out_k = member_k(x) (ensemble); or the k-th SWAG sample",
    "mean": "mean = (1/N) * sum_k out_k, elementwise",
    "variance": "variance = (1/N) * sum_k (out_k - mean)^2, elementwise: population variance, "
                "torch.var(stack, dim=0, unbiased=False)",
    "std": "std = sqrt(variance)",
    "predictive_entropy": "H[mean] = -sum_c mean[i,c] * ln(mean[i,c]) per input row i "
                          "(natural log; 0*ln(0) = 0, torch.special.xlogy)",
    "expected_entropy": "(1/N) * sum_k ( -sum_c out_k[i,c] * ln(out_k[i,c]) ) per input row i",
    "mutual_info": "predictive_entropy - expected_entropy",
    "precision": "model outputs are float32 as the model computes them; the statistics are computed "
                 "in float64 from those float32 outputs",
}


def load_models_module():
    """fixture_models.py compiled under a fixed name, so TorchScript records no path of this machine."""
    name = "fixture_models"
    filename = name + ".py"
    source = (HERE / filename).read_text()
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


M = load_models_module()


def values(t):
    return t.detach().tolist()


def tensor_json(t):
    return {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": values(t)}


def write_json(name, obj):
    """One top-level key per line, values compact (numbers keep full float precision)."""
    lines = ["  %s: %s" % (json.dumps(k), json.dumps(v, ensure_ascii=False)) for k, v in obj.items()]
    (OUT / name).write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


def warm_up(model, batches):
    """Runs batches in train mode without gradients, so BatchNorm's running stats move away from 0/1."""
    model.train()
    with torch.no_grad():
        for b in batches:
            model(b)
    model.eval()


def save_scripted(model, name):
    path = OUT / name
    torch.jit.save(torch.jit.script(model.eval()), str(path))
    loaded = torch.jit.load(str(path))
    loaded.eval()
    return loaded


def model_facts(model, example_shape, file_names):
    params = list(model.named_parameters())
    return {
        "files": file_names,
        "parameter_names": [n for n, _ in params],
        "parameter_shapes": [list(p.shape) for _, p in params],
        "state_dict_names": list(model.state_dict().keys()),
        "P": int(parameters_to_vector(model.parameters()).numel()),
        "input_shape": example_shape,  # as a model's input_shape in api.md §5.1: null = any size
    }


def stats(outputs, probabilities):
    """mean, variance (population), std over dim 0 of the stacked float32 outputs, computed in float64."""
    s = torch.stack(outputs).double()
    mean = s.mean(0)
    var = s.var(0, unbiased=False)
    r = {"mean": values(mean), "variance": values(var), "std": values(var.sqrt())}
    if probabilities:
        pe = -torch.special.xlogy(mean, mean).sum(-1)
        ee = (-torch.special.xlogy(s, s).sum(-1)).mean(0)
        r.update(predictive_entropy=values(pe), expected_entropy=values(ee), mutual_info=values(pe - ee))
    return r


def none_result(out):
    return {"output": values(out), "argmax": values(torch.argmax(out, dim=1))}


def mc_dropout(model, x, probabilities):
    torch.manual_seed(MC_SEED)
    with torch.no_grad():
        passes = [model(x, True) for _ in range(MC_N)]
    r = {"seed": MC_SEED, "N": MC_N, "passes": [values(p) for p in passes]}
    r.update(stats(passes, probabilities))
    return r


def check_same(a, b, what):
    if not torch.allclose(a, b, atol=1e-6, rtol=1e-6):
        raise SystemExit("%s: scripted and eager outputs differ" % what)


def safetensors_bytes(tensor_name, t):
    """One 1-D float32 tensor in the safetensors layout, as the server's SafetensorsWriter writes it."""
    data = t.detach().contiguous().numpy().astype("<f4").tobytes()
    header = json.dumps({"__metadata__": {"format": "pt"},
                         tensor_name: {"dtype": "F32", "shape": list(t.shape), "data_offsets": [0, len(data)]}},
                        separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def png_gray8(pixels):
    """A non-interlaced 8-bit grayscale PNG (no PIL needed): IHDR, one zlib IDAT with filter 0 rows, IEND."""
    h, w = pixels.shape

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes(pixels[r].tolist()) for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(2024)
    x = torch.randn(5, 8, generator=g)
    warm_batches = [torch.randn(32, 8, generator=g) * 1.5 + 0.3 for _ in range(10)]

    # --- mlp.pt, mlp_softmax.pt, mlp_noflag.pt: one set of weights -----------------------------
    torch.manual_seed(5)  # a seed whose outputs on x give four different argmax classes
    mlp = M.MLP()
    warm_up(mlp, warm_batches)
    mlp_softmax = M.MLP(softmax=True)
    mlp_softmax.load_state_dict(mlp.state_dict())
    noflag = M.MLPNoFlag()
    noflag.load_state_dict(mlp.state_dict())
    for m in (mlp_softmax, noflag):
        m.eval()
    s_mlp = save_scripted(mlp, "mlp.pt")
    s_soft = save_scripted(mlp_softmax, "mlp_softmax.pt")
    s_noflag = save_scripted(noflag, "mlp_noflag.pt")
    with torch.no_grad():
        out = s_mlp(x)
        out_soft = s_soft(x)
        out_noflag = s_noflag(x)
        check_same(out, mlp(x), "mlp")
        check_same(out_soft, torch.softmax(out, dim=1), "mlp_softmax")
        check_same(out_noflag, out, "mlp_noflag")
        try:
            s_noflag(x, True)
            raise SystemExit("mlp_noflag.pt accepted an mc argument")
        except RuntimeError:
            pass  # forward(x) only: "Expected at most 2 argument(s)"
    facts = model_facts(mlp, [None, 8], {"mlp": "mlp.pt", "mlp_softmax": "mlp_softmax.pt"})
    write_json("mlp.json", {
        "torch_version": torch.__version__,
        "architecture": "x(N,8) -> Linear(8,16) -> BatchNorm1d(16) -> ReLU -> F.dropout(p=0.3, "
                        "self.training or mc) -> Linear(16,4); mlp_softmax.pt: the same weights, then "
                        "softmax(dim=1). torch.manual_seed(5) before construction, BN running stats warmed up on 10 batches, "
                        "torch.jit.script, saved in eval mode",
        "forward_signature": "forward(self, x: Tensor, mc: bool = False) -> Tensor",
        **facts,
        "input": tensor_json(x),
        "none": none_result(out),
        "none_softmax": none_result(out_soft),
        "mc_dropout": mc_dropout(s_mlp, x, probabilities=False),
        "mc_dropout_softmax": mc_dropout(s_soft, x, probabilities=True),
        "formulas": FORMULAS,
    })
    write_json("mlp_noflag.json", {
        "torch_version": torch.__version__,
        "architecture": "the layers and weights of mlp.pt with an nn.Dropout(0.3) module and forward(self, x) "
                        "only: nothing switches dropout on per call, so MC dropout must be refused",
        "forward_signature": "forward(self, x: Tensor) -> Tensor",
        **model_facts(noflag, [None, 8], {"mlp_noflag": "mlp_noflag.pt"}),
        "mc_flag": False,
        "input": tensor_json(x),
        "none": none_result(out_noflag),
    })

    # --- ensemble: three MLPs with different seeds, raw and softmax variants --------------------
    members, members_soft = [], []
    for i, seed in enumerate((1, 2, 3)):
        torch.manual_seed(seed)
        m = M.MLP()
        warm_up(m, warm_batches)
        soft = M.MLP(softmax=True)
        soft.load_state_dict(m.state_dict())
        members.append(save_scripted(m, "ens%d.pt" % i))
        members_soft.append(save_scripted(soft, "ens_softmax%d.pt" % i))
    with torch.no_grad():
        outs = [m(x) for m in members]
        outs_soft = [m(x) for m in members_soft]
    write_json("ensemble.json", {
        "torch_version": torch.__version__,
        "architecture": "three MLPs like mlp.pt (torch.manual_seed(1), (2), (3) before construction, BN warmed "
                        "up); "
                        "ens_softmaxK.pt has the weights of ensK.pt and ends in softmax(dim=1)",
        "files": ["ens0.pt", "ens1.pt", "ens2.pt"],
        "files_softmax": ["ens_softmax0.pt", "ens_softmax1.pt", "ens_softmax2.pt"],
        "input": tensor_json(x),
        "raw": dict({"member_outputs": [values(o) for o in outs]}, **stats(outs, probabilities=False)),
        "softmax": dict({"member_outputs": [values(o) for o in outs_soft]}, **stats(outs_soft, probabilities=True)),
        "formulas": FORMULAS,
    })

    # --- SWAG moments for mlp.pt ---------------------------------------------------------------
    gs = torch.Generator().manual_seed(99)
    theta = parameters_to_vector(mlp.parameters()).detach()
    first = theta + 0.01 * torch.randn(theta.numel(), generator=gs)
    second = first ** 2 + (1e-4 + 1e-3 * torch.rand(theta.numel(), generator=gs))
    (OUT / "swag_first.safetensors").write_bytes(safetensors_bytes("swag_first_moment", first))
    (OUT / "swag_second.safetensors").write_bytes(safetensors_bytes("swag_second_moment", second))
    torch.save(first.clone(), str(OUT / "swag_first.pt"))
    torch.save(second.clone(), str(OUT / "swag_second.pt"))
    swag_model = torch.jit.load(str(OUT / "mlp.pt"))
    swag_model.eval()
    torch.manual_seed(SWAG_SEED)
    samples, outs = [], []
    with torch.no_grad():
        for _ in range(SWAG_N):
            z = torch.randn(first.numel())
            w = first + (second - first ** 2).clamp(min=0).sqrt() * z
            vector_to_parameters(w, swag_model.parameters())
            o = swag_model(x)
            check_same(parameters_to_vector(swag_model.parameters()), w, "swag parameters")
            samples.append({"z": values(z), "w": values(w), "output": values(o)})
            outs.append(o)
    write_json("swag.json", {
        "torch_version": torch.__version__,
        "model": "mlp.pt",
        "P": int(first.numel()),
        "parameter_names": facts["parameter_names"],
        "first_moment_files": {"safetensors": "swag_first.safetensors", "tensor_name": "swag_first_moment",
                               "torch_save": "swag_first.pt"},
        "second_moment_files": {"safetensors": "swag_second.safetensors", "tensor_name": "swag_second_moment",
                                "torch_save": "swag_second.pt"},
        "moments_made_as": "first = parameters_to_vector(mlp) + 0.01 * randn(P); second = first**2 + "
                           "(1e-4 + 1e-3 * rand(P)) (generator seed 99), float32",
        "first_moment": values(first),
        "second_moment": values(second),
        "seed": SWAG_SEED,
        "N": SWAG_N,
        "procedure": "torch.manual_seed(7); for i in range(N): z = torch.randn(P); "
                     "w = first + (second - first**2).clamp(min=0).sqrt() * z (float32); "
                     "torch.nn.utils.vector_to_parameters(w, model.parameters()); out_i = model(x) "
                     "(eval mode, mc False, the module of mlp.pt)",
        "input": tensor_json(x),
        "samples": samples,
        **stats(outs, probabilities=False),
        "formulas": FORMULAS,
    })

    # --- cnn.pt --------------------------------------------------------------------------------
    gc = torch.Generator().manual_seed(31)
    torch.manual_seed(10)
    cnn = M.CNN()
    warm_up(cnn, [torch.randn(16, 1, 8, 8, generator=gc) for _ in range(10)])
    xc = torch.randn(2, 1, 8, 8, generator=gc)
    s_cnn = save_scripted(cnn, "cnn.pt")
    with torch.no_grad():
        out_cnn = s_cnn(xc)
        check_same(out_cnn, cnn(xc), "cnn")
    write_json("cnn.json", {
        "torch_version": torch.__version__,
        "architecture": "x(N,1,8,8) -> Conv2d(1,4,3,padding=1) -> BatchNorm2d(4) -> ReLU -> MaxPool2d(2) -> "
                        "F.dropout(p=0.25, self.training or mc) -> flatten -> Linear(64,10); "
                        "torch.manual_seed(10) before construction, BN warmed up, torch.jit.script, eval mode",
        "forward_signature": "forward(self, x: Tensor, mc: bool = False) -> Tensor",
        **model_facts(cnn, [None, 1, 8, 8], {"cnn": "cnn.pt"}),
        "input": tensor_json(xc),
        "none": none_result(out_cnn),
        "mc_dropout": mc_dropout(s_cnn, xc, probabilities=False),
        "formulas": FORMULAS,
    })

    # --- preprocess.pt, input.pt, image.png ------------------------------------------------------
    s_pre = save_scripted(M.Preprocess(), "preprocess.pt")
    raw = torch.randint(0, 256, (5, 8), generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    torch.save(x.clone(), str(OUT / "input.pt"))
    pixels = torch.arange(64, dtype=torch.int64).reshape(8, 8).mul(4).add(1).to(torch.uint8)
    (OUT / "image.png").write_bytes(png_gray8(pixels))
    with torch.no_grad():
        pre = s_pre(raw)
        pre_img = s_pre(pixels)
        out_pre = s_mlp(pre)
        out_img = s_mlp(pre_img)
    write_json("preprocess.json", {
        "torch_version": torch.__version__,
        "preprocess": "preprocess.pt: torch.jit.script of forward(self, x) = (x.to(float32) / 255.0 - 0.5) / 0.25, "
                      "any shape; the model is mlp.pt",
        "raw_input": tensor_json(raw),
        "preprocessed": tensor_json(pre),
        "none": none_result(out_pre),
        "input_file": {"file": "input.pt", "made_by": "torch.save(x) with x = mlp.json input (float32 (5,8))",
                       "tensor": tensor_json(x), "none": none_result(s_mlp(x).detach())},
        "image_file": {
            "file": "image.png",
            "format": "8x8 8-bit grayscale PNG, non-interlaced, written by this script with zlib (Debian's "
                      "python3-pil is not installed here); pixel (r, c) = 4 * (8r + c) + 1",
            "decoded_as": "torch.as_tensor(numpy.array(PIL.Image.open('image.png'))): uint8, shape (8, 8)",
            "tensor": tensor_json(pixels),
            "preprocessed": tensor_json(pre_img),
            "none": none_result(out_img),
        },
    })
    print("wrote fixtures to", OUT)
    for p in sorted(OUT.iterdir()):
        print("%8d %s" % (p.stat().st_size, p.name))


if __name__ == "__main__":
    main()
