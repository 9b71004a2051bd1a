#!/usr/bin/env python3
"""Where 16-thread scaling goes: the machine or the library.

For each method, three measurements of the same call on one layer:
  alone  one process, one thread, the rest of the machine idle;
  crowd  N processes at once, one thread each (every core busy, no sharing of work);
  team   one process, N threads.
alone / crowd is what a core loses when all cores run (clock, shared caches and memory), the
machine's share; crowd / (N x team) is how well one call uses N busy cores, the library's
share; their product is the usual scaling, alone / (N x team). The three run in turn, --rounds
times (the host drifts), and each is the median over its rounds' calls (the crowd: over all its
processes' calls).

  SAMPLEATTN_LIBRARY=... python3 bench/scaling_probe.py --data DIR:12 --procs 16 --calls 2 --rounds 3 --json out.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, math, sys, time
from pathlib import Path
import numpy as np
import sampleattn
path, layer, threads, calls, method = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
start = float(sys.argv[6])
q, k, v = (np.ascontiguousarray(np.load(Path(path) / ("L%02d_%s.npy" % (layer, n))), dtype=np.float32) for n in "qkv")
meta = Path(path) / "meta.json"
scale = (json.loads(meta.read_text()).get("scale") if meta.exists() else None) or 1 / math.sqrt(q.shape[2])
mode, prec = method.split("_")
sampleattn.set_workspace_cache(1 << 32)
run = lambda: sampleattn.attention(q, k, v, layout="hsd", scale=scale, threads=threads, mode=mode, alpha=0.95,
                                   precision={"f32": "float32", "bf16": "bfloat16"}[prec])
run()   # warm-up: code, pools, the kept workspace
while time.time() < start:
    time.sleep(0.001)
times = []
for _ in range(calls):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
print(json.dumps(times))
"""


def spawn(args, threads, method, start):
    path, layer = args.data.rsplit(":", 1)
    return subprocess.Popen([sys.executable, "-c", CHILD, path, layer, str(threads), str(args.calls), method,
                             str(start)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect(procs):
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise SystemExit("child failed: " + stderr)
        out += json.loads(stdout)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="DIR:LAYER")
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--calls", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", default="dense_f32,dense_bf16,sample_f32,sample_bf16")
    ap.add_argument("--json")
    args = ap.parse_args()
    n = args.procs
    rows = []
    for method in args.methods.split(","):
        times = {"alone": [], "crowd": [], "team": []}
        for _ in range(args.rounds):
            for kind, count, threads in (("alone", 1, 1), ("crowd", n, 1), ("team", 1, n)):
                start = time.time() + 3.0 + 0.3 * count   # all processes loaded and warmed up by then
                times[kind] += collect([spawn(args, threads, method, start) for _ in range(count)])
        res = {kind: statistics.median(ts) for kind, ts in times.items()}
        row = {"method": method, "procs": n, **{k + "_s": v for k, v in res.items()},
               **{k + "_times_s": v for k, v in times.items()},
               "machine_share": res["alone"] / res["crowd"], "library_share": res["crowd"] / (n * res["team"]),
               "scaling": res["alone"] / (n * res["team"])}
        rows.append(row)
        print("%-12s alone %.3f s  crowd %.3f s  team %.4f s  machine %.0f%%  library %.0f%%  scaling %.0f%%" % (
            method, res["alone"], res["crowd"], res["team"], 100 * row["machine_share"], 100 * row["library_share"],
            100 * row["scaling"]), flush=True)
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((x.split(":", 1)[1].strip() for x in cpuinfo.splitlines() if x.startswith("model name")), "?")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "cpu": model, "nproc": os.cpu_count(),
                                               "calls": args.calls, "rounds": args.rounds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
