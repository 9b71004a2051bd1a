#!/usr/bin/env python3
"""Many-core benchmark: our kernels (the ISA the library chose at run time) against PyTorch's
CPU scaled_dot_product_attention in float32 and bfloat16, at 1..16 threads.

    SAMPLEATTN_LIBRARY=... python3 bench/xeon.py --data real16k=DIR:12 --data real8k=DIR:12:8192 \
        [--random 65536] [--threads 1,2,4,8,16] [--repeats 3] [--json PATH]

DIR holds one layer's L{layer}_{q,k,v}.npy (float16, head-major [H, S, d], any number of query
heads per K/V head, as ../shared/data). --random S adds random float32 data of S tokens
(7 query heads, 1 K/V head, d = 64) at the largest thread count only.

In one process, for each (data, threads) every method runs once per round, rounds repeat with
a rotating start, and a ratio is the median of the per-round ratios (as bench/bench.py). Errors
are against a float64 oracle: every row for real data, the last 512 rows for random data.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import sampleattn

ORACLE_ROWS_RANDOM = 512


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- data
def load_dir(path, layer, length=None):
    """The layer's first `length` tokens (all by default): a causal prefix is itself a real
    prefill of that length."""
    q, k, v = (np.load(Path(path) / ("L%02d_%s.npy" % (layer, n)))[:, :length] for n in "qkv")
    meta = Path(path) / "meta.json"
    scale = json.loads(meta.read_text()).get("scale") if meta.exists() else None
    return q, k, v, scale or 1 / math.sqrt(q.shape[2])


def random_data(s, seed=0):
    g = np.random.default_rng(seed)
    q = g.standard_normal((7, s, 64), dtype=np.float32)
    k = g.standard_normal((1, s, 64), dtype=np.float32)
    v = g.standard_normal((1, s, 64), dtype=np.float32)
    return q, k, v, 0.125


def oracle(q, k, v, scale, rows):
    """float64 causal attention for query rows `rows` (a range): out [H, rows, d], lse [H, rows]."""
    hq, s, d = q.shape
    g = hq // k.shape[0]
    out = np.empty((hq, len(rows), d))
    lse = np.empty((hq, len(rows)))
    kk = torch.from_numpy(k.astype(np.float64))
    vv = torch.from_numpy(v.astype(np.float64))
    for h in range(hq):
        for c0 in range(0, len(rows), 1024):
            r = rows[c0:c0 + 1024]
            qq = torch.from_numpy(q[h, r.start:r.stop].astype(np.float64))
            kv = h // g
            last = r.stop
            sc = (qq @ kk[kv, :last].T) * scale
            pos = torch.arange(r.start, r.stop).unsqueeze(1)
            sc.masked_fill_(torch.arange(last).unsqueeze(0) > pos, -math.inf)
            m = sc.max(dim=1, keepdim=True).values
            p = torch.exp(sc - m)
            l = p.sum(dim=1, keepdim=True)
            out[h, c0:c0 + len(r)] = ((p @ vv[kv, :last]) / l).numpy()
            lse[h, c0:c0 + len(r)] = (m + torch.log(l)).squeeze(1).numpy()
    return out, lse


def errors(out, lse, ref, rows):
    """(median over heads of the relative L2 error, max over heads, true CRA mean, min head)."""
    ref_out, ref_lse = ref
    o = np.asarray(out, dtype=np.float64)[:, rows.start:rows.stop]
    errs = [float(np.linalg.norm(o[h] - ref_out[h]) / np.linalg.norm(ref_out[h])) for h in range(o.shape[0])]
    cra = cra_min = None
    if lse is not None:
        c = np.exp(np.asarray(lse, dtype=np.float64)[:, rows.start:rows.stop] - ref_lse).mean(axis=1)
        cra, cra_min = float(c.mean()), float(c.min())
    return statistics.median(errs), max(errs), cra, cra_min


# ---------------------------------------------------------------- methods
def ours(q, k, v, scale, threads, **kw):
    def run():
        return sampleattn.attention(q, k, v, layout="hsd", scale=scale, threads=threads,
                                    return_lse=True, stats=True, **kw)
    return run


def sdpa(q, k, v, scale, dtype):
    tq, tk, tv = (torch.from_numpy(np.ascontiguousarray(x)).to(dtype).unsqueeze(0) for x in (q, k, v))

    def run():
        with torch.inference_mode():
            o = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True, scale=scale,
                                                                 enable_gqa=True)
        return o[0].float().numpy(), None, None
    return run


def methods(q32, k32, v32, scale, threads):
    m = [("ours dense f32", ours(q32, k32, v32, scale, threads, mode="dense")),
         ("ours dense bf16", ours(q32, k32, v32, scale, threads, mode="dense", precision="bfloat16")),
         ("ours sample a=0.95 f32", ours(q32, k32, v32, scale, threads, mode="sample", alpha=0.95)),
         ("ours sample a=0.95 bf16", ours(q32, k32, v32, scale, threads, mode="sample", alpha=0.95,
                                         precision="bfloat16")),
         ("ours slash f32", ours(q32, k32, v32, scale, threads, mode="sample_slash")),
         ("ours slash bf16", ours(q32, k32, v32, scale, threads, mode="sample_slash", precision="bfloat16")),
         ("torch sdpa f32", sdpa(q32, k32, v32, scale, torch.float32)),
         ("torch sdpa bf16", sdpa(q32, k32, v32, scale, torch.bfloat16))]
    return m


RATIOS = {   # (method, baseline): the comparisons
    "ours dense f32": "torch sdpa f32", "ours dense bf16": "torch sdpa bf16",
    "ours sample a=0.95 f32": "torch sdpa f32", "ours sample a=0.95 bf16": "torch sdpa bf16",
    "ours slash f32": "torch sdpa f32", "ours slash bf16": "torch sdpa bf16",
}


def bench(name, data, threads, repeats, pause, ref, rows):
    q, k, v, scale = data
    q32, k32, v32 = (np.ascontiguousarray(x, dtype=np.float32) for x in (q, k, v))
    torch.set_num_threads(threads)
    ms = methods(q32, k32, v32, scale, threads)
    pre = tuple(np.ascontiguousarray(x[:, :1024]) for x in (q32, k32, v32))
    for _, run in methods(*pre, scale, threads):   # warm-up: contexts, pools, code
        run()
    times = {n: [] for n, _ in ms}
    last, stats = {}, {n: [] for n, _ in ms}
    for r in range(repeats):
        k0 = r % len(ms)
        for n, run in ms[k0:] + ms[:k0]:
            time.sleep(pause)
            t0 = time.perf_counter()
            res = run()
            times[n].append(time.perf_counter() - t0)
            last[n] = res
            if res[2] is not None:
                stats[n].append(res[2])
        print("  %s threads %d: round %d/%d" % (name, threads, r + 1, repeats), file=sys.stderr, flush=True)
    out = []
    for n, _ in ms:
        base = RATIOS.get(n)
        o, lse, _ = last[n]
        err, err_max, cra, cra_min = errors(o, lse, ref, rows) if ref is not None else (None,) * 4
        st = stats[n]
        out.append({
            "data": name, "tokens": q.shape[1], "threads": threads, "method": n,
            "median_s": statistics.median(times[n]), "times_s": times[n],
            "baseline": base,
            "ratio": statistics.median(b / x for b, x in zip(times[base], times[n])) if base else None,
            "ratio_vs_torch_f32": statistics.median(b / x for b, x in zip(times["torch sdpa f32"], times[n])),
            "stage12_share": median([(x["time_sample_s"] + x["time_filter_s"]) / x["time_total_s"] for x in st]),
            "stage1_s": median([x["time_sample_s"] for x in st]), "stage2_s": median([x["time_filter_s"] for x in st]),
            "density": st[-1]["density"] if st else None,
            "rel_err": err, "rel_err_max_head": err_max, "cra": cra, "cra_min_head": cra_min,
        })
    return out


def machine():
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "nproc": os.cpu_count(), "library_version": sampleattn.version(),
            "library_features": sampleattn.features(),
            "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OMP_", "KMP_", "SAMPLEATTN_"))}}
    cpuinfo = open("/proc/cpuinfo").read()
    info["cpu"] = next((l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.startswith("model name")), "?")
    info["flags"] = next((l.split(":", 1)[1].split() for l in cpuinfo.splitlines() if l.startswith("flags")), [])
    try:
        info["lscpu"] = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        info["lscpu"] = None
    return info


def scaling(rows, lo, hi):
    """Per (data, method): speed-up from lo to hi threads and its share of linear."""
    out = []
    for r in rows:
        if r["threads"] != hi:
            continue
        base = next((x for x in rows if x["data"] == r["data"] and x["method"] == r["method"]
                     and x["threads"] == lo), None)
        if base:
            s = base["median_s"] / r["median_s"]
            out.append({"data": r["data"], "method": r["method"], "speedup": s,
                        "efficiency": s / (hi / lo)})
    return out


def save(args, info, rows, threads):
    result = {"machine": info, "describe": args.describe, "tag": args.tag, "repeats": args.repeats,
              "workspace_cache": args.workspace_cache, "rows": rows,
              "scaling_%d_vs_%d" % (max(threads), min(threads)): scaling(rows, min(threads), max(threads))}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", action="append", default=[],
                    help="NAME=DIR[:LAYER[:TOKENS]], e.g. real16k=d:12 or real8k=d:12:8192 (a prefix)")
    ap.add_argument("--random", type=int, default=0, help="tokens of random data (largest thread count only)")
    ap.add_argument("--threads", default="1,2,4,8,16")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pause", type=float, default=0.1, help="seconds between calls (thread pools settle)")
    ap.add_argument("--describe", default="", help="a note on the data, kept in the JSON")
    ap.add_argument("--tag", default="", help="a label of this run (e.g. the forced ISA), kept in the JSON")
    ap.add_argument("--workspace-cache", type=int, default=0,
                    help="bytes of workspace our contexts keep between calls (sampleattn.set_workspace_cache)")
    ap.add_argument("--json")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    if args.workspace_cache:
        sampleattn.set_workspace_cache(args.workspace_cache)
    info = machine()
    print("cpu: %s; torch %s (%s); library %s, isa %d, cpu_isa_mask 0x%x" % (
        info["cpu"], info["torch"], info["torch_cpu_capability"], info["library_version"],
        info["library_features"]["isa"], info["library_features"]["cpu_isa_mask"]), flush=True)
    rows = []
    cases = []
    for spec in args.data:
        name, rest = spec.split("=", 1)
        path, _, rest = rest.partition(":")
        layer, _, length = rest.partition(":")
        cases.append((name, load_dir(path, int(layer or 12), int(length) if length else None), threads, True))
    if args.random:
        cases.append(("random%dk" % (args.random // 1024), random_data(args.random), [max(threads)], False))
    for name, data, ts, full in cases:
        s = data[0].shape[1]
        oracle_rows = range(0, s) if full else range(s - ORACLE_ROWS_RANDOM, s)
        torch.set_num_threads(max(threads))
        t0 = time.perf_counter()
        ref = oracle(*data, oracle_rows)
        print("%s: q %s, oracle over %d rows in %.1f s" % (name, data[0].shape, len(oracle_rows),
                                                          time.perf_counter() - t0), flush=True)
        for t in ts:
            part = bench(name, data, t, args.repeats, args.pause, ref, oracle_rows)
            rows += part
            save(args, info, rows, threads)   # after every case: a run cut short keeps what it measured
            for r in part:
                print("%-10s %2d thr  %-24s %8.3f s  x%-6s (vs %s)  st1+2 %-6s  err %.2e  cra %s" % (
                    name, t, r["method"], r["median_s"], "%.2f" % r["ratio"] if r["ratio"] else "-",
                    r["baseline"] or "-", "%.3f" % r["stage12_share"] if r["stage12_share"] is not None else "-",
                    r["rel_err"] if r["rel_err"] is not None else float("nan"),
                    "%.4f" % r["cra"] if r["cra"] is not None else "-"), flush=True)
    result = save(args, info, rows, threads)
    for r in result["scaling_%d_vs_%d" % (max(threads), min(threads))] if max(threads) > min(threads) else []:
        print("scaling %-10s %-24s %5.2fx  %3.0f%% of linear" % (r["data"], r["method"], r["speedup"],
                                                              100 * r["efficiency"]))


if __name__ == "__main__":
    main()
