"""Checks a global model that fl-server aggregated, with PyTorch: /usr/bin/python3 check_fedavg.py
RESULT N0 CLIENT0 N1 CLIENT1 ... loads RESULT with torch.load (a whole pickled module, so
weights_only=False: these are the test's own files), runs it once on a zero image, and compares every
parameter and buffer with the clients' weighted mean computed here by the same rule as the
generator's (float64 accumulation in client order, rounded once to the tensor's dtype; integers
truncated). Prints one JSON object; exit status 0 when every tensor is bit-identical."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_torchvision_models import fedavg, tensors  # noqa: E402


def main(argv):
    result = torch.load(argv[0], weights_only=False)
    ns = [int(n) for n in argv[1::2]]
    clients = [torch.load(f) for f in argv[2::2]]
    expected = tensors(fedavg(clients[0], clients, ns))
    got = tensors(result)
    differing = [k for k, t in expected.items()
                 if k not in got or got[k].dtype != t.dtype or not torch.equal(got[k], t)]
    max_diff = max((float((got[k].double() - t.double()).abs().max()) for k, t in expected.items()
                    if k in got and got[k].shape == t.shape and t.is_floating_point()), default=0.0)
    result.eval()
    with torch.no_grad():
        out = result(torch.zeros(1, 3, 64, 64))
    report = {"class": type(result).__module__ + "." + type(result).__name__, "tensors": len(expected),
              "differing": differing[:10], "max_abs_diff": max_diff, "output_shape": list(out.shape)}
    print(json.dumps(report))
    return 0 if not differing and len(got) == len(expected) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
