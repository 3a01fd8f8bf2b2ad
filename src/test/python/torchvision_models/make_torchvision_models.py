"""Writes torch.save(model) files of torchvision's classification and detection models (and of a
model whose classes live in the user package mysite.nets, next to this script) for fl-server's
tests, deterministically (seeded by model name), with Debian's PyTorch and torchvision:

    /usr/bin/python3 make_torchvision_models.py list
        one JSON object: the models in order with their tier, and the ones skipped and why
    /usr/bin/python3 make_torchvision_models.py write OUT NAME [N0 N1 ...]
        OUT/NAME.pt (the model), OUT/NAME.client<i>.pt (its weights perturbed, one per sample size)
        and, with sample sizes, OUT/NAME.expected.pt: the clients' FedAvg mean; prints a JSON line
    /usr/bin/python3 make_torchvision_models.py serve OUT
        every model of `list` one after the other: writes its files as `write` does (clients and
        expected only for tier "average") and prints a JSON line; the reader sends "next" when it
        is done with a model, which deletes that model's files. The next model is written while
        the reader reads the current one, so at most two models are on disk at a time (vgg19
        alone is 575 MB)

The FedAvg mean follows the server's rounding rule: acc = 0.0 in float64, acc += float64(x_i) * n_i
in client order, mean = acc / N, rounded once to float32 (to nearest even); integer tensors
trunc(sum(n_i * x_i) / N) in exact integer arithmetic. No weights are downloaded (weights=None).
"""
import contextlib
import copy
import json
import os
import sys
import warnings
import zlib

import torch

try:
    import torchvision
    from torchvision import models
    from torchvision.models import detection, quantization
except ImportError:
    sys.stderr.write("torchvision is missing: install Debian's python3-torchvision "
                     "(apt-get install python3-torchvision) for /usr/bin/python3\n")
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mysite.nets import SiteNet  # noqa: E402  (the user package lives next to this script)

USER_MODEL = "mysite.nets.SiteNet"
# Models whose file is at most this big are also averaged (two perturbed clients and the expected
# mean: three more files); bigger ones are read and fingerprinted only, to keep the test fast.
AVERAGE_MAX_PARAMS = 12_500_000
# Bigger than this is "enormous": files of 1.2 GB to 2.6 GB each, 7.5 GB together.
MAX_PARAMS = 250_000_000
# Parameter counts of the skipped models (torchvision 0.14), so `list` need not build them.
ENORMOUS = {"vit_l_16": 304_326_632, "vit_l_32": 306_535_400, "vit_h_14": 632_045_800,
            "regnet_y_128gf": 644_812_894}


def model_names():
    cls = models.list_models(module=models)
    det = models.list_models(module=detection)
    quant = models.list_models(module=quantization)
    return cls, det, quant


@contextlib.contextmanager
def init_skipped():
    """torch.nn.init's initializers (kaiming_uniform_, trunc_normal_, ...) as no-ops for a while.

    Building convnext_large with them takes 13 s, most of it in trunc_normal_; without them a model
    is only allocated. Buffers are not made by them (BatchNorm's statistics are zeros and ones from
    the constructors), so only the parameters are left for `fill_parameters`.
    """
    saved = {}
    for k in dir(torch.nn.init):
        f = getattr(torch.nn.init, k)
        if k.endswith("_") and not k.startswith("_") and callable(f):
            saved[k] = f
            setattr(torch.nn.init, k, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for k, f in saved.items():
            setattr(torch.nn.init, k, f)


def fill_parameters(model, name):
    """Every floating parameter drawn from N(0, 0.02²), seeded by the model's name (fast: 3 ns a value)."""
    g = torch.Generator().manual_seed(zlib.crc32(("%s/fill" % name).encode()))
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                p.normal_(0.0, 0.02, generator=g)


def build(name, initialized=True):
    """The model; with initialized=False its parameters are left uninitialized (see init_skipped)."""
    if not initialized:
        with init_skipped():
            return build(name)
    torch.manual_seed(zlib.crc32(name.encode()))
    if name == USER_MODEL:
        return SiteNet()
    cls, det, quant = model_names()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in det:
            return models.get_model(name, weights=None, weights_backbone=None)
        if name in quant:
            # quantize=False: the float model prepared for quantization (QuantStub etc.), no qtensors
            return models.get_model(name, weights=None, quantize=False)
        return models.get_model(name, weights=None)


def tensors(model):
    """Every parameter and buffer (also non-persistent ones), as the pickle holds them."""
    out = {}
    for prefix, mod in model.named_modules(remove_duplicate=False):
        for group in (mod._parameters, mod._buffers):
            for k, t in group.items():
                if t is not None:
                    out[(prefix + "." if prefix else "") + k] = t
    return out


def perturbed(model, name, client):
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(zlib.crc32(("%s/%d" % (name, client)).encode()))
    with torch.no_grad():
        for key, t in tensors(m).items():
            if t.is_floating_point():
                t.add_(torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.01)
            elif key.endswith("num_batches_tracked"):
                t.fill_(3 + 5 * client)
    return m


def fedavg(template, clients, ns):
    """The clients' weighted mean, written into a copy of the template (same object structure)."""
    out = copy.deepcopy(template)
    total = sum(ns)
    per_client = [tensors(c) for c in clients]
    with torch.no_grad():
        for key, t in tensors(out).items():
            if t.is_floating_point():
                acc = torch.zeros(t.shape, dtype=torch.float64)
                for tc, n in zip(per_client, ns):
                    acc += tc[key].detach().to(torch.float64) * n
                mean = acc / total
                t.copy_(mean if t.dtype == torch.float64 else mean.to(torch.float32).to(t.dtype))
            elif t.dtype == torch.bool:
                t.copy_(torch.stack([tc[key] for tc, n in zip(per_client, ns) if n > 0]).any(0))
            else:
                acc = torch.zeros(t.shape, dtype=torch.int64)
                for tc, n in zip(per_client, ns):
                    acc += tc[key].to(torch.int64) * n
                t.copy_(torch.div(acc, total, rounding_mode="trunc").to(t.dtype))
    return out


def listing():
    cls, det, quant = model_names()
    entries, skipped = [], []
    for kind, names in (("classification", cls), ("classification", quant), ("detection", det)):
        for name in names:
            if name in ENORMOUS:
                skipped.append({"name": name, "why": "enormous: %d parameters, a %.1f GB file"
                                % (ENORMOUS[name], ENORMOUS[name] * 4 / 1e9)})
            else:
                entries.append({"name": name, "kind": kind})
    entries.append({"name": USER_MODEL, "kind": "user package"})
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": entries,
            "skipped": skipped}


def write(out, name, ns):
    """ns None: tier by size (clients with sample sizes 30 and 70 for tier "average", none for "read").

    A model of tier "read" is only parsed by the tests, so its parameters need not follow the
    model's own initialization: they are filled from one seeded normal distribution instead
    (`fill_parameters`), which took the whole serve from 103 to 56 s here. Every other
    model is built as torchvision initializes it, seeded by its name.
    """
    model = build(name, initialized=False)
    params = sum(t.numel() for t in model.parameters())
    if params > MAX_PARAMS:
        raise SystemExit("%s has %d parameters: add it to ENORMOUS" % (name, params))
    tier = None
    if ns is None:
        tier = "average" if params <= AVERAGE_MAX_PARAMS else "read"
        ns = [30, 70] if tier == "average" else []
    if tier == "read":
        fill_parameters(model, name)
    else:
        model = build(name)
    files = {"model": os.path.join(out, name + ".pt")}
    torch.save(model, files["model"])
    if ns:
        clients = [perturbed(model, name, i) for i in range(len(ns))]
        for i, c in enumerate(clients):
            files["client%d" % i] = os.path.join(out, "%s.client%d.pt" % (name, i))
            torch.save(c, files["client%d" % i])
        files["expected"] = os.path.join(out, name + ".expected.pt")
        torch.save(fedavg(model, clients, ns), files["expected"])
    state = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
    return {"name": name, "params": params, "tier": tier, "ns": ns, "files": files, "state_dict": state}


def release(line):
    """Waits for the reader's "next" for the model of this line, then deletes its files."""
    if sys.stdin.readline().strip() != "next":
        return False
    for f in line["files"].values():
        os.remove(f)
    return True


def main(argv):
    if len(argv) >= 1 and argv[0] == "list":
        print(json.dumps(listing()))
    elif len(argv) >= 3 and argv[0] == "write":
        os.makedirs(argv[1], exist_ok=True)
        print(json.dumps(write(argv[1], argv[2], [int(n) for n in argv[3:]])), flush=True)
    elif len(argv) == 2 and argv[0] == "serve":
        os.makedirs(argv[1], exist_ok=True)
        # One model ahead: the next model is built and written while the reader checks the current
        # one (two cores busy instead of one), and announced once the reader is done with the
        # current one and its files are deleted. Every file name starts with its model's name.
        current = None
        for e in listing()["models"]:
            line = write(argv[1], e["name"], None)
            line["kind"] = e["kind"]
            if current is not None and not release(current):
                return 0
            print(json.dumps(line), flush=True)
            current = line
        if current is not None and not release(current):
            return 0
        print(json.dumps({"done": True}), flush=True)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
