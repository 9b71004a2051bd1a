#!/usr/bin/env python3
"""Stage-1+2 time and share of a SampleAttention call for two or more builds of the CLI.

Runs `sampleattn time --mode sample --repeats 1` of each build in turn (one process per run,
the builds alternating, so load drifts hit them alike) for every layer and thread count, and
prints and saves the medians of the call time, stage 1 (sampling), stage 2 (filtering) and
their share of the call.

  python3 bench/plan_share.py --build before=/path/a/sampleattn --build after=.build/release/sampleattn \
      --data ../shared/data/qwen05b_code_8k --layers 12 --threads 1 2 --rounds 7 --json out.json
"""
import argparse
import json
import re
import statistics
import subprocess

LINE = re.compile(r"median ([0-9.]+) ms.*stage1 ([0-9.]+) ms, stage2 ([0-9.]+) ms, kernel ([0-9.]+) ms")


def run_once(binary, data, layer, threads):
    out = subprocess.run([binary, "time", "--data", data, "--layer", str(layer), "--mode", "sample",
                          "--threads", str(threads), "--repeats", "1"],
                         check=True, capture_output=True, text=True).stdout
    m = LINE.search(out)
    if not m:
        raise SystemExit(f"unexpected output of {binary}: {out!r}")
    total, s1, s2, kernel = (float(x) / 1e3 for x in m.groups())
    return {"total": total, "stage1": s1, "stage2": s2, "kernel": kernel}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, help="NAME=PATH of a sampleattn CLI")
    ap.add_argument("--data", required=True)
    ap.add_argument("--layers", type=int, nargs="+", default=[12])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build]
    results = []
    for layer in a.layers:
        for threads in a.threads:
            runs = {name: [] for name, _ in builds}
            for _ in range(a.rounds):
                for name, path in builds:
                    runs[name].append(run_once(path, a.data, layer, threads))
            for name, _ in builds:
                med = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
                share = statistics.median((r["stage1"] + r["stage2"]) / r["total"] for r in runs[name])
                row = {"build": name, "layer": layer, "threads": threads, "rounds": a.rounds,
                       **{k + "_s": v for k, v in med.items()}, "stage12_share": share}
                results.append(row)
                both = med['stage1'] + med['stage2']
                print(f"L{layer:02d} {threads} thr {name:>8}: call {med['total']:.4f} s, "
                      f"stage1 {med['stage1']:.4f} s, stage2 {med['stage2']:.4f} s, "
                      f"stage1+2 {both:.4f} s = {share:.1%} of the call", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"data": a.data, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
