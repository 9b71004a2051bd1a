"""Time of SampleAttention calls under several settings on real captured layers, with the
planner's share (docs/DEFAULTS.md: what the per-head window and the ranking cost and save).

Per (layer, threads): our dense kernel and each setting (`--set`, as in mask_density.py), every
round running every method once in a rotating order, `--repeats` rounds; prints the median
time, its ratio to dense, the median stage 1 and stage 2 times from sa_stats, and the density.

    SAMPLEATTN_LIBRARY=build/libsampleattn.so.0 PYTHONPATH=bindings/python python bench/mask_time.py \
        --data data/qwen05b_code_4k --layers 12,23 --threads 1,8 \
        --set default --set min_window=0,rank_prior_rows=0 --json /tmp/mask_time.json
"""
import argparse
import json
import platform
import statistics
import time

import numpy as np
import sampleattn

from mask_density import add_capture_args, git_revision, load, parse_setting


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_capture_args(ap, layers=[12, 23])
    ap.add_argument("--threads", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    settings = args.set or ["default"]
    rows = []
    for layer in args.layers:
        q, k, v = load(args.data, layer, args.tokens)
        out = np.empty_like(q)
        methods = [("dense", {"mode": "dense"})] + [(s, parse_setting(s)) for s in settings]
        for threads in args.threads:
            times = {name: [] for name, _ in methods}
            stages = {name: [] for name, _ in methods}
            density = {}
            for r in range(args.repeats):
                for i in range(len(methods)):
                    name, opts = methods[(i + r) % len(methods)]
                    t = time.perf_counter()
                    _, st = sampleattn.attention(q, k, v, layout="hsd", threads=threads, out=out, stats=True, **opts)
                    times[name].append(time.perf_counter() - t)
                    stages[name].append((st["time_sample_s"], st["time_filter_s"]))
                    density[name] = st["density"]
            dense_ms = statistics.median(times["dense"]) * 1e3
            for name, _ in methods:
                ms = statistics.median(times[name]) * 1e3
                row = {"layer": layer, "tokens": q.shape[1], "threads": threads, "method": name,
                       "median_ms": ms, "times_ms": [t * 1e3 for t in times[name]],
                       "ratio_vs_dense": dense_ms / ms, "density": density[name],
                       "stage1_ms": statistics.median(s[0] for s in stages[name]) * 1e3,
                       "stage2_ms": statistics.median(s[1] for s in stages[name]) * 1e3}
                rows.append(row)
                print(f"L{layer:02d} {row['tokens']:6d} t{threads:<3d} {name:32s} {ms:9.1f} ms"
                      f"  x{row['ratio_vs_dense']:5.2f}  stage1 {row['stage1_ms']:7.1f} ms"
                      f"  stage2 {row['stage2_ms']:7.1f} ms  density {row['density']:.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"data": args.data, "git": git_revision(), "machine": platform.machine(),
                       "processor": platform.processor(), "nproc": __import__("os").cpu_count(),
                       "repeats": args.repeats, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
