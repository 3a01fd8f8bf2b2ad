#!/usr/bin/env python3
"""Writes the fixtures of the robust aggregation tests into src/test/resources/robust/.

Run with Debian's python3-torch and python3-numpy (no network, no other package):
    /usr/bin/python3 src/test/python/robust_aggregation/make_robust_fixtures.py

For each set (an architecture of ../fixtures/fixture_nets.py written in one file kind) it writes
twelve clients client00..client11 and expected.json: for N = 1..12 (the first N clients) and every
rule, what the server must produce, computed here independently with numpy in float64:

  median        per coordinate, unweighted, np.median (mean of the two middle values for even N)
  trimmed_mean  per coordinate, unweighted: np.sort, drop floor(beta*N) at each end, exact sum
                (math.fsum) of the rest divided by their count
  krum          scores: for each update the sum (ascending) of its squared L2 distances (over every
                floating-point storage, each storage once) to its N-f-2 nearest others; the
                lowest score wins, ties to the earlier client (stable argsort)
  multi_krum    the m best-scored, averaged by the mean rule with their sample sizes
Results are rounded once to the storage's dtype (float16/bfloat16 through float32). Integer and bool
storages follow the mean rule (trunc(sum n_i x_i / sum n_i), bool: any client with n_i > 0) over the
clients the rule keeps: all of them for median and trimmed mean, the selected ones for
(Multi-)Krum (Krum: the selected client's own values).

Values are stored per storage (keyed by the first tensor name that views it), over the whole
storage, as JSON numbers that are exactly the dtype's values. Client 4 of every set is an attacker
(an honest update scaled by 1000); set "ties" has values on a coarse grid (many equal coordinates)
and clients 6 and 7 identical to clients 0 and 1 (equal Krum scores). nonfinite/ holds updates with
NaN or +-Inf, which every rule must refuse naming file and tensor.
"""
import os
import sys

if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures"))
import make_pytorch_fixtures as FX  # noqa: E402  (the nets, the four file kinds, storage walking)

OUT = HERE.parents[1] / "resources" / "robust"
N_MAX = 12
SAMPLE_SIZES = [10 + (7 * i) % 23 for i in range(N_MAX)]
FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16)

# set name, net, seed, file kind
SETS = [
    ("mlp", FX.NETS.MLP, 11, "state_dict"),
    ("cnn_bn", FX.NETS.CnnBn, 33, "torchscript"),
    ("tied", FX.NETS.Tied, 44, "module"),
    ("dtypes", FX.NETS.Dtypes, 66, "safetensors"),
    ("ties", FX.NETS.MLP, 77, "state_dict"),
]
VARY = {"mlp": FX.vary_mlp, "cnn_bn": FX.vary_cnn, "tied": FX.vary_tied, "dtypes": FX.vary_dtypes,
        "ties": FX.vary_mlp}


def client_model(name, cls, seed, i):
    """Client i: the net varied by the fixture script's rule; client 4 scaled by 1000; "ties": on a
    grid of 1/4 in [-1, 1], clients 6 and 7 copies of 0 and 1."""
    if name == "ties" and i in (6, 7):
        return client_model(name, cls, seed, i - 6)
    # The fixture script's variations know clients 0..2 (cnn_bn: batches seen, dtypes: integer and
    # bool patterns); clients beyond differ by a perturbation of their own seed.
    model = FX.build(cls, seed, VARY[name], i % 3 if name in ("cnn_bn", "dtypes") else i)
    with torch.no_grad():
        if name in ("cnn_bn", "dtypes"):
            torch.manual_seed(5000 + i)
            FX.perturb(model, 0.05 * (i + 1))
        if name == "dtypes":
            model.f64.copy_(FX.NETS.on_float64_grid(model.f64))
            model.i64.add_(i)
            model.i32.sub_(17 * i)
        if name == "ties":
            for p in model.parameters():
                p.copy_(torch.clamp(torch.round(p * 4) / 4, -1, 1))
        if i == 4:
            for p in model.parameters():
                if p.dtype == torch.float64:
                    p.copy_(FX.NETS.on_float64_grid(p * 1000 / 1024))   # stays exact in sums
                elif p.dtype in FLOATS:
                    p.mul_(1000)
    return model.eval()


def storages(model, kind):
    """name -> flat tensor over each storage as the file of this kind holds it."""
    if kind == "safetensors":
        return {n: t.contiguous().reshape(-1).clone() for n, t in model.state_dict().items()}
    return {n: t.clone() for n, t in FX.storages_of(model).items()}


def as_float64(t):
    return t.detach().to(torch.float64).numpy() if t.dtype in FLOATS else None


def round_to(values, dtype):
    """float64 values rounded once to dtype (float16/bfloat16 through float32), back as floats."""
    t = torch.tensor(values, dtype=torch.float64)
    if dtype == torch.float64:
        return [float(v) for v in t]
    t = t.to(torch.float32)
    if dtype != torch.float32:
        t = t.to(dtype)
    return [float(v) for v in t.to(torch.float64)]


def mean_rule(xs, sizes, dtype):
    """The FedAvg rule: floats exact sum of n_i x_i / sum n_i, rounded once; ints trunc; bool any."""
    total = sum(sizes)
    if dtype in FLOATS:
        vals = [math.fsum(float(x[j]) * n for x, n in zip(xs, sizes)) / total for j in range(len(xs[0]))]
        return round_to(vals, dtype)
    if dtype == torch.bool:
        return [bool(any(bool(x[j]) and n > 0 for x, n in zip(xs, sizes))) for j in range(len(xs[0]))]
    out = []
    for j in range(len(xs[0])):
        acc = sum(int(x[j]) * n for x, n in zip(xs, sizes))
        q = abs(acc) // total
        v = q if acc >= 0 else -q
        out.append(int(torch.tensor([v], dtype=torch.int64).to(dtype)[0]))   # wraps like a cast
    return out


def coordinatewise(sts, names, sizes, how):
    out = {}
    for name in names:
        dtype = sts[0][name].dtype
        if dtype not in FLOATS:
            out[name] = mean_rule([s[name] for s in sts], sizes, dtype)
            continue
        stack = np.stack([as_float64(s[name]) for s in sts])          # N x numel, float64
        out[name] = round_to(how(stack), dtype)
    return out


def median(stack):
    return np.median(stack, axis=0) if stack.shape[1] else np.zeros(0)


def trimmed(beta):
    def how(stack):
        n = stack.shape[0]
        k = int(math.floor(beta * n))
        srt = np.sort(stack, axis=0)[k:n - k]
        return np.array([math.fsum(srt[:, j]) / (n - 2 * k) for j in range(stack.shape[1])])
    return how


def trimmed_counts(sts, names, beta):
    n = len(sts)
    k = int(math.floor(beta * n))
    low, high = [0] * n, [0] * n
    if k == 0:
        return low, high
    for name in names:
        if sts[0][name].dtype not in FLOATS:
            continue
        stack = np.stack([as_float64(s[name]) for s in sts])
        srt = np.sort(stack, axis=0)
        lo, hi = srt[k], srt[n - k - 1]
        for c in range(n):
            low[c] += int(np.sum(stack[c] < lo))
            high[c] += int(np.sum(stack[c] > hi))
    return low, high


def krum_scores(sts, names, f):
    n = len(sts)
    flat = [np.concatenate([as_float64(s[name]) for name in names if s[name].dtype in FLOATS]) for s in sts]
    d = np.array([[float(np.sum((flat[a] - flat[b]) ** 2)) for b in range(n)] for a in range(n)])
    scores = []
    for i in range(n):
        others = sorted(d[i][j] for j in range(n) if j != i)
        s = 0.0
        for v in others[:n - f - 2]:
            s += v
        scores.append(s)
    return scores


def krum_case(sts, names, sizes, f, m, multi):
    scores = krum_scores(sts, names, f)
    order = list(np.argsort(np.array(scores), kind="stable"))
    chosen = sorted(int(i) for i in order[:m])
    weights = [1] if not multi else [sizes[i] for i in chosen]
    values = {name: mean_rule([sts[i][name] for i in chosen], weights, sts[0][name].dtype) for name in names}
    return {"byzantine": f, "select": m, "scores": scores, "selected": chosen, "values": values}


def cases_for(sts, names, sizes):
    n = len(sts)
    cases = [{"rule": "median", "values": coordinatewise(sts, names, sizes, median)}]
    for beta in ((0.1, 0.25, 0.45) if n in (5, 9, 12) else (0.25,)):
        low, high = trimmed_counts(sts, names, beta)
        cases.append({"rule": "trimmed_mean", "trim_fraction": beta, "trimmed_low": low, "trimmed_high": high,
                      "values": coordinatewise(sts, names, sizes, trimmed(beta))})
    for f in range(0, (n - 3) // 2 + 1):
        if f in (0, 1, 3):
            c = krum_case(sts, names, sizes, f, 1, False)
            c["rule"] = "krum"
            cases.append(c)
            for m in sorted({2, n - f}):
                if 1 <= m <= n - f:
                    c = krum_case(sts, names, sizes, f, m, True)
                    c["rule"] = "multi_krum"
                    cases.append(c)
    return cases


def write_set(name, cls, seed, kind):
    folder = OUT / name
    folder.mkdir(parents=True)
    suffix = FX.KINDS[kind]
    models = [client_model(name, cls, seed, i) for i in range(N_MAX)]
    files = []
    for i, m in enumerate(models):
        f = "client%02d%s" % (i, suffix)
        FX.write_kind(kind, m, folder / f, True)
        files.append(f)
    sts = [storages(m, kind) for m in models]
    names = list(sts[0])
    dtypes = {n: str(sts[0][n].dtype).replace("torch.", "") for n in names}
    runs = []
    for n in range(1, N_MAX + 1):
        runs.append({"n": n, "cases": cases_for(sts[:n], names, SAMPLE_SIZES[:n])})
    write_json(folder / "expected.json", {"set": name, "kind": kind, "files": files,
                                             "sample_sizes": SAMPLE_SIZES, "dtypes": dtypes, "runs": runs})
    return models, files


def write_nonfinite(mlp_models, dtypes_models):
    """Copies of clients with one bad value each, and which tensor the refusal must name."""
    folder = OUT / "nonfinite"
    folder.mkdir(parents=True)
    cases = []
    for fname, model, kind, tensor, index, value in [
        ("nan.state_dict.pt", mlp_models[2], "state_dict", "net.2.weight", 17, float("nan")),
        ("posinf.state_dict.pt", mlp_models[3], "state_dict", "net.4.bias", 3, float("inf")),
        ("neginf_bf16.safetensors", dtypes_models[1], "safetensors", "bf16", 2, float("-inf")),
        ("nan_f16.safetensors", dtypes_models[2], "safetensors", "f16", 4, float("nan")),
    ]:
        m = FX.copy.deepcopy(model)
        with torch.no_grad():
            dict(m.named_parameters())[tensor].view(-1)[index] = value
        FX.write_kind(kind, m, folder / fname, True)
        cases.append({"file": fname, "set": "mlp" if kind == "state_dict" else "dtypes", "tensor": tensor,
                      "value": "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")})
    write_json(folder / "nonfinite.json", {"cases": cases})


# ---------------------------------------------------------------------------------------------
# Central DP-FedAvg with fixed clipping, and its noise (the rule of GaussianNoise.java, redone here)

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def noise(seed, rnd, k):
    key = mix64((mix64(seed & M64) + rnd) & M64)
    o1 = mix64(key + (2 * k + 1) * GOLDEN)
    o2 = mix64(key + (2 * k + 2) * GOLDEN)
    u1 = ((o1 >> 11) + 1) * 2.0 ** -53
    u2 = (o2 >> 11) * 2.0 ** -53
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def file_order(model, kind):
    """The storages as the file lists them: state_dict order for torch.save of a state_dict
    (first use in the pickle), the safetensors header order (alignment, then name) otherwise."""
    sts = storages(model, kind)
    if kind == "safetensors":
        code = {n: FX.DTYPES[FX.DTYPE_OF_TORCH[t.dtype]][2] for n, t in sts.items()}
        return sorted(sts, key=lambda n: (FX.ST_ORDER.index(code[n]), n))
    return list(sts)


def write_dp(made):
    folder = OUT / "dp"
    folder.mkdir(parents=True)
    cases = []
    for set_name, cls, seed, kind, clients, clip, z, noise_seed, rnd in [
        ("mlp", FX.NETS.MLP, 11, "state_dict", [0, 1, 2, 3, 4], 1.0, 1.1, 42, 3),
        ("mlp", FX.NETS.MLP, 11, "state_dict", [0, 1, 2, 3, 4], 1.0, 0.0, 42, 3),
        ("mlp", FX.NETS.MLP, 11, "state_dict", [5, 6, 7], 50.0, 0.3, -5, 0),
        ("dtypes", FX.NETS.Dtypes, 66, "safetensors", [1, 2, 3, 4], 0.5, 0.7, 7, 1),
    ]:
        torch.manual_seed(seed)
        glob = cls().eval()
        if set_name == "dtypes":
            with torch.no_grad():
                glob.f64.copy_(FX.NETS.on_float64_grid(glob.f64))
        gfile = "global.%s%s" % (set_name, FX.KINDS[kind])
        FX.write_kind(kind, glob, folder / gfile, True)
        g = storages(glob, kind)
        models = [made[set_name][i] for i in clients]
        xs = [storages(m, kind) for m in models]
        order = file_order(glob, kind)
        floats = [name for name in order if g[name].dtype in FLOATS]
        n = len(xs)
        norms = [math.sqrt(math.fsum(float(v) ** 2 for name in floats
                                     for v in (as_float64(x[name]) - as_float64(g[name])))) for x in xs]
        factors = [clip / nm if nm > clip else 1.0 for nm in norms]
        sigma = z * clip / n
        values = {}
        k = 0
        for name in order:
            if g[name].dtype not in FLOATS:
                values[name] = mean_rule([x[name] for x in xs], [SAMPLE_SIZES[i] for i in clients], g[name].dtype)
                continue
            gv = as_float64(g[name])
            out = []
            for j in range(len(gv)):
                acc = 0.0
                for c in range(n):
                    acc += factors[c] * (float(as_float64(xs[c][name])[j]) - float(gv[j]))
                out.append(float(gv[j]) + acc / n + sigma * noise(noise_seed, rnd, k))
                k += 1
            values[name] = round_to(out, g[name].dtype)
        cases.append({"set": set_name, "global": gfile, "clients": clients, "clip_norm": clip,
                      "noise_multiplier": z, "seed": noise_seed, "round": rnd, "noise_stddev": sigma,
                      "norms": norms, "factors": factors, "values": values,
                      "noise_first": [noise(noise_seed, rnd, i) for i in range(8)]})
    write_json(folder / "dp.json", {"cases": cases})


def rdp_epsilon(q, z, rounds, delta):
    """The RDP accountant, computed independently of RdpAccountant.java: A_alpha summed exactly in
    50-digit decimal arithmetic (no log-space tricks), integer orders 2..256, Mironov's conversion."""
    import decimal
    D = decimal.Decimal
    decimal.getcontext().prec = 50
    best = None
    for a in range(2, 257):
        if q == 1:
            rdp = D(a) / (2 * D(z) ** 2)
        else:
            total = sum(D(math.comb(a, i)) * (1 - D(q)) ** (a - i) * D(q) ** i
                        * ((D(i * i - i)) / (2 * D(z) ** 2)).exp() for i in range(a + 1))
            rdp = total.ln() / (a - 1)
        eps = rounds * rdp + (1 / D(delta)).ln() / (a - 1)
        if best is None or eps < best[0]:
            best = (eps, a)
    return float(best[0]), best[1]


def write_rdp():
    cases = []
    for q, z, rounds, delta in [(1.0, 1.0, 1, 1e-5), (1.0, 1.1, 10, 1e-5), (1.0, 5.0, 100, 1e-6),
                                (0.01, 1.1, 1000, 1e-5), (0.1, 0.8, 50, 1e-5), (0.25, 1.5, 20, 1e-5),
                                (0.5, 2.0, 3, 1e-3), (256 / 60000, 1.1, 14040, 1e-5)]:
        eps, order = rdp_epsilon(q, z, rounds, delta)
        cases.append({"q": q, "z": z, "rounds": rounds, "delta": delta, "epsilon": eps, "order": order})
    write_json(OUT / "dp" / "rdp.json", {"cases": cases})


# ---------------------------------------------------------------------------------------------
# Server optimizers (Reddi et al.), two steps, with the rounding of the global model between them

def optimizer_step(name, lr, b1, b2, tau, x, a, m, v):
    """One coordinate: returns (new x before rounding, m, v), in OptimizerSettings' operation order."""
    d = a - x
    if name == "sgd":
        return x + lr * d, m, v
    if name == "momentum":
        m = b1 * m + d
        return x + lr * m, m, v
    m = b1 * m + (1 - b1) * d
    d2 = d * d
    if name == "adam":
        v = b2 * v + (1 - b2) * d2
    elif name == "yogi":
        v = v - (1 - b2) * d2 * float(np.sign(v - d2))
    else:
        v = v + d2
    return x + lr * m / (math.sqrt(v) + tau), m, v


def write_optimizers(made):
    folder = OUT / "optimizer"
    folder.mkdir(parents=True)
    cases = []
    for set_name, kind, name, lr, b1, b2, tau in [
        ("mlp", "state_dict", "sgd", 0.7, 0.9, 0.99, 1e-9),
        ("mlp", "state_dict", "momentum", 0.5, 0.8, 0.99, 1e-9),
        ("mlp", "state_dict", "adam", 0.1, 0.9, 0.99, 1e-3),
        ("mlp", "state_dict", "yogi", 0.05, 0.85, 0.95, 1e-3),
        ("mlp", "state_dict", "adagrad", 0.1, 0.9, 0.99, 1e-2),
        ("dtypes", "safetensors", "adam", 0.1, 0.9, 0.99, 1e-3),
    ]:
        gfile = "global.%s%s" % (set_name, FX.KINDS[kind])     # written by write_dp
        torch.manual_seed(11 if set_name == "mlp" else 66)
        glob = (FX.NETS.MLP if set_name == "mlp" else FX.NETS.Dtypes)().eval()
        if set_name == "dtypes":
            with torch.no_grad():
                glob.f64.copy_(FX.NETS.on_float64_grid(glob.f64))
        order = file_order(glob, kind)
        x = storages(glob, kind)
        aggs = [1, 2]
        m_all, v_all = [], []
        steps = []
        state = {}
        for step, ai in enumerate(aggs):
            a = storages(made[set_name][ai], kind)
            new = {}
            ms, vs = [], []
            for sname in order:
                if x[sname].dtype not in FLOATS:
                    new[sname] = [int(q) if x[sname].dtype != torch.bool else bool(q) for q in a[sname].tolist()]
                    continue
                xv, av = as_float64(x[sname]), as_float64(a[sname])
                m0, v0 = state.get(sname, ([0.0] * len(xv), [0.0] * len(xv)))
                outv, m1, v1 = [], [], []
                for j in range(len(xv)):
                    r, mm, vv = optimizer_step(name, lr, b1, b2, tau, float(xv[j]), float(av[j]), m0[j], v0[j])
                    outv.append(r)
                    m1.append(mm)
                    v1.append(vv)
                state[sname] = (m1, v1)
                ms += m1
                vs += v1
                new[sname] = round_to(outv, x[sname].dtype)
            steps.append({"aggregate": ai, "values": new, "m": ms if name != "sgd" else None,
                          "v": vs if name not in ("sgd", "momentum") else None})
            x = {sname: torch.tensor(new[sname], dtype=x[sname].dtype) for sname in order}
        cases.append({"set": set_name, "global": gfile, "optimizer": name, "lr": lr, "beta1": b1, "beta2": b2,
                      "tau": tau, "steps": steps})
    write_json(folder / "optimizer.json", {"cases": cases})


def write_json(path, obj):
    path.write_text(json.dumps(obj, separators=(",", ":")) + "\n")


def main():
    torch.set_num_threads(1)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    made = {}
    for name, cls, seed, kind in SETS:
        made[name] = write_set(name, cls, seed, kind)[0]
    write_nonfinite(made["mlp"], made["dtypes"])
    write_dp(made)
    write_rdp()
    write_optimizers(made)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print("%d bytes in %s" % (total, OUT))


if __name__ == "__main__":
    main()
