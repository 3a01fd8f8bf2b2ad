#!/usr/bin/env python3
"""Prints the accuracy of a model file on the held-out digits as one JSON object.

The Java test runs it on the initial and on the final global model: "the final model, loaded in
PyTorch, is more accurate than the initial one" has to be judged by torch itself, not by the
server's own reader. The file is loaded with ``torch.load`` as a client would.

usage: evaluate_model.py FILE   ->   {"accuracy": 0.93, "loss": 0.21, "samples": 360, "file": FILE}
"""

import json
import sys

import digits_data
import digits_model


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 1
    digits_model.quiet_torch()
    with open(argv[0], "rb") as f:
        module = digits_model.load_module(f.read())
    x, y = digits_data.held_out()
    result = digits_model.evaluate(module, x, y)
    result["file"] = argv[0]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
