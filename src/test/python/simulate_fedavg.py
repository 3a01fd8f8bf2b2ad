#!/usr/bin/env python3
"""FedAvg by hand, without a server: the same clients' training steps, the same shards, the same
byte round trips (``torch.load`` of the global bytes, ``torch.jit.save`` of each update), and a
sample-size-weighted mean of the updates' state_dicts as the next global model.

It exists to check the learning side of the end-to-end test on its own: that the chosen model,
shards, epochs and learning rate really improve held-out accuracy within a few rounds, and how long
the clients' work takes. With ``--keep DIR`` it also writes every update and global model, for
checking them with the server's reader (TensorTool inspect / fedavg).

With ``--java-classes DIR`` (fl-server's compiled classes) the server's own aggregation does the
averaging instead, as the round engine will: ``TensorTool fedavg`` rewrites the storage bytes of the
initial file (the server-held template), and the clients load that file in the next round. The
Python mean is still computed and the largest difference to it is printed.

usage: simulate_fedavg.py INITIAL [--clients 3] [--rounds 3] [--epochs N] [--keep DIR] [--java-classes DIR]
Prints one JSON line per round and a summary line.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

import digits_data
import digits_model


def weighted_mean(updates):
    """updates: [(module, n)] -> state_dict of the sample-size-weighted mean (api.md §9)."""
    total = sum(n for _, n in updates)
    states = [(m.state_dict(), n) for m, n in updates]
    mean = {}
    for key, first in states[0][0].items():
        acc = torch.zeros_like(first, dtype=torch.float64)
        for state, n in states:
            acc += state[key].to(torch.float64) * n
        mean[key] = (acc / total).to(first.dtype)
    return mean


def server_fedavg(classes, template, updates):
    """The next global model's bytes as fl-server writes them: TensorTool fedavg over the template."""
    with tempfile.TemporaryDirectory() as tmp:
        args = ["java", "-cp", classes, "org.flserver.aggregation.TensorTool", "fedavg",
                "--out", os.path.join(tmp, "out.pt"), "--template", template]
        for i, (module, n) in enumerate(updates):
            path = os.path.join(tmp, f"update{i}.pt")
            with open(path, "wb") as f:
                f.write(digits_model.save_module(module))
            args.append(f"{path}:{n}")
        subprocess.run(args, check=True)
        with open(os.path.join(tmp, "out.pt"), "rb") as f:
            return f.read()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("initial")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=digits_model.DEFAULT_EPOCHS)
    parser.add_argument("--keep")
    parser.add_argument("--java-classes")
    args = parser.parse_args(argv)
    digits_model.quiet_torch()
    with open(args.initial, "rb") as f:
        global_bytes = f.read()
    x_held, y_held = digits_data.held_out()
    shards = [digits_data.shard(i, args.clients) for i in range(args.clients)]
    initial = digits_model.evaluate(digits_model.load_module(global_bytes), x_held, y_held)
    print(json.dumps({"round": 0, "held_out": initial}), flush=True)
    client_seconds = 0.0
    for r in range(args.rounds):
        updates = []
        for i, ((x, y), _) in enumerate(shards):
            started = time.perf_counter()
            module = digits_model.load_module(global_bytes)
            digits_model.train(module, x, y, epochs=args.epochs, seed=r * 1000 + i)
            data = digits_model.save_module(module)
            client_seconds += time.perf_counter() - started
            if args.keep:
                with open(os.path.join(args.keep, f"round{r}-client{i}.pt"), "wb") as f:
                    f.write(data)
            updates.append((digits_model.load_module(data), len(y)))
        mean = weighted_mean(updates)
        line = {}
        if args.java_classes:
            global_bytes = server_fedavg(args.java_classes, args.initial, updates)
            aggregated = digits_model.load_module(global_bytes)
            line["max_abs_diff_to_python_mean"] = max(
                float((aggregated.state_dict()[k] - v).abs().max()) for k, v in mean.items())
        else:
            aggregated = digits_model.load_module(global_bytes)
            aggregated.load_state_dict(mean)
            global_bytes = digits_model.save_module(aggregated)
        if args.keep:
            with open(os.path.join(args.keep, f"global{r + 1}.pt"), "wb") as f:
                f.write(global_bytes)
        tests = []
        for _, (x_test, y_test) in shards:
            started = time.perf_counter()
            tests.append(digits_model.evaluate(digits_model.load_module(global_bytes), x_test, y_test))
            client_seconds += time.perf_counter() - started
        held = digits_model.evaluate(aggregated, x_held, y_held)
        print(json.dumps(dict(line, round=r + 1, held_out=held,
                              client_test_accuracy=[t["accuracy"] for t in tests])), flush=True)
    print(json.dumps({"initial_accuracy": initial["accuracy"], "final_accuracy": held["accuracy"],
                      "client_work_seconds": round(client_seconds, 3),
                      "shard_sizes": [len(s[0][1]) for s in shards]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
