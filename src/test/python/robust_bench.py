#!/usr/bin/env python3
"""The numpy side of the robust-aggregation benchmark (org.flserver.bench.RobustAggregationBenchmark,
README "Benchmarks"), as Flower's strategies compute the rules: every client model loaded and
stacked into one (N, S) float32 array, then

  fedavg        weighted sum over axis 0 (np.tensordot) / total weight
  median        np.median(stack, axis=0)                          (Flower's FedMedian)
  trimmed_mean  np.sort(stack, axis=0)[k:N-k].mean(axis=0), k = floor(beta N)   (the issue's reference)
  trimmed_mean_partition  the same rows k..N-k-1 from np.partition(stack, (k, N-k-1), axis=0), as
                Flower's FedTrimmedAvg computes them (its _trim_mean follows scipy.stats.trim_mean)
  krum          squared L2 distances of every pair of rows (upper triangle), scores, the best row (Krum)

    robust_bench.py generate --dir D --clients N --params S     writes D/client<i>.pt (torch.save of a
        state_dict of float32 tensors of 2^22 elements, standard normal values, seed i)
    robust_bench.py run --rule R [--trim-fraction B] [--byzantine F] [--repeat K] FILE:WEIGHT...
        prints one JSON line: load seconds, compute seconds (the median of K computations on the
        loaded stack, default 3, each time given in compute_runs_s), peak RSS (ru_maxrss) in MB

One process per run, so each peak RSS is that rule's.
"""
import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

TENSOR = 1 << 22


def generate(folder, clients, params):
    folder.mkdir(parents=True, exist_ok=True)
    for c in range(clients):
        rng = np.random.default_rng(c)
        state = {}
        left, k = params, 0
        while left > 0:
            n = min(TENSOR, left)
            state["layer%d.weight" % k] = torch.from_numpy(rng.standard_normal(n, dtype=np.float32))
            left -= n
            k += 1
        torch.save(state, str(folder / ("client%d.pt" % c)))


def compute(rule, beta, f, weights, stack):
    n = stack.shape[0]
    if rule == "fedavg":
        return (np.tensordot(weights, stack, 1) / weights.sum()).astype(np.float32)
    if rule == "median":
        return np.median(stack, axis=0)
    if rule == "trimmed_mean":
        k = int(math.floor(beta * n))
        return np.sort(stack, axis=0)[k:n - k].mean(axis=0)
    if rule == "trimmed_mean_partition":
        k = int(math.floor(beta * n))
        return np.partition(stack, (k, n - k - 1), axis=0)[k:n - k].mean(axis=0)
    if rule == "krum":
        d = np.zeros((n, n))
        for a in range(n):
            for b in range(a + 1, n):
                diff = stack[a] - stack[b]
                d[a, b] = d[b, a] = float(np.dot(diff, diff))
        scores = [np.sort(np.delete(d[i], i))[:n - f - 2].sum() for i in range(n)]
        return stack[int(np.argmin(scores))]
    raise SystemExit("unknown rule " + rule)


def run(rule, beta, f, repeat, specs):
    t0 = time.perf_counter()
    files = [s.rsplit(":", 1)[0] for s in specs]
    weights = np.array([float(s.rsplit(":", 1)[1]) for s in specs])
    rows = []
    for path in files:
        sd = torch.load(path)
        rows.append(np.concatenate([t.numpy().ravel() for t in sd.values()]))
    stack = np.stack(rows)
    del rows
    t1 = time.perf_counter()
    times = []
    for _ in range(repeat):
        t2 = time.perf_counter()
        result = compute(rule, beta, f, weights, stack)
        times.append(time.perf_counter() - t2)
        assert result.shape[0] == stack.shape[1]
        del result
    print(json.dumps({"rule": rule, "clients": stack.shape[0], "params": int(stack.shape[1]), "load_s": t1 - t0,
                      "compute_s": sorted(times)[len(times) // 2], "compute_runs_s": times,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--dir", required=True)
    g.add_argument("--clients", type=int, required=True)
    g.add_argument("--params", type=int, required=True)
    r = sub.add_parser("run")
    r.add_argument("--rule", required=True)
    r.add_argument("--trim-fraction", type=float, default=0.1)
    r.add_argument("--byzantine", type=int, default=0)
    r.add_argument("--repeat", type=int, default=3)
    r.add_argument("files", nargs="+")
    a = p.parse_args()
    torch.set_num_threads(2)
    if a.cmd == "generate":
        generate(Path(a.dir), a.clients, a.params)
    else:
        run(a.rule, a.trim_fraction, a.byzantine, a.repeat, a.files)


if __name__ == "__main__":
    sys.exit(main())
