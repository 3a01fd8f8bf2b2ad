"""Loads torch.save archives with real PyTorch and prints what it found as JSON.

Usage: /usr/bin/python3 load_torch_save.py FILE...

For each FILE, torch.load(FILE, weights_only=True) must succeed (only dicts, OrderedDicts,
_rebuild_tensor_v2 and typed storages are allowed then), and must give the same as a plain
torch.load. The JSON printed on stdout maps each FILE to its object: a dict becomes
{"type": "dict"|"OrderedDict", "items": {key: ...}} (keys in the file's order), a tensor becomes
{"type": "tensor", "dtype": "torch.float32", "shape": [...], "stride": [...],
"storage_offset": 0, "contiguous": true, "values": nested lists (t.tolist())}.
Used by TorchSaveWriterPythonIT; exits non-zero with a message on any failure.
"""
import collections
import json
import sys

import torch


def describe(obj):
    if isinstance(obj, torch.Tensor):
        return {
            "type": "tensor",
            "dtype": str(obj.dtype),
            "shape": list(obj.shape),
            "stride": list(obj.stride()),
            "storage_offset": obj.storage_offset(),
            "contiguous": obj.is_contiguous(),
            "requires_grad": obj.requires_grad,
            "values": obj.tolist(),
        }
    if isinstance(obj, dict):
        kind = "OrderedDict" if isinstance(obj, collections.OrderedDict) else "dict"
        return {"type": kind, "items": {k: describe(v) for k, v in obj.items()}}
    raise SystemExit("unexpected object of type %s" % type(obj).__name__)


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    return type(a) is type(b) and list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)


def main(paths):
    result = {}
    for path in paths:
        safe = torch.load(path, weights_only=True)
        full = torch.load(path)
        if not same(safe, full):
            raise SystemExit("%s: weights_only=True and plain torch.load differ" % path)
        result[path] = describe(safe)
    json.dump({"torch": torch.__version__, "files": result}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
