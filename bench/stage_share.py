#!/usr/bin/env python3
"""Call time, stage 1 (sampling) and stage 2 (filtering) of SampleAttention (and dense calls)
for two or more builds of the library, through the Python binding (no Swift toolchain needed
where it runs).

Each round runs every build in its own process, the builds alternating (load drifts hit them
alike); a process does one warm-up call and then `--calls` calls per precision and thread count,
and the medians of sa_stats' times over all rounds are printed and saved, with a digest of
each build's output (equal digests: bitwise equal outputs). `wall` is the call as Python times
it: sa_stats' total plus what the call spends after its clock stops (freeing its workspace).

  python3 bench/stage_share.py --lib before=/path/a/libsampleattn.so.0 --lib after=build/libsampleattn.so.0 \
      --data DIR:12 --threads 1 16 --rounds 3 [--modes sample,dense] --json out.json

A build is NAME=PATH[,cache=BYTES][,pythonpath=DIR]: cache keeps that many bytes of workspace
between calls (sampleattn.set_workspace_cache; the same library with and without it is an A/B
of the cache), pythonpath runs the build with another copy of the binding (one of its version);
any other NAME=VALUE is passed to sampleattn.attention as a JSON number (sample_ratio=0.02: the
same library at another setting).

DIR holds one layer's L{layer}_{q,k,v}.npy (float16, head-major [H, S, d]) as bench/xeon.py reads.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import hashlib, json, math, sys, time
from pathlib import Path
import numpy as np
import sampleattn
path, layer, threads, calls = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3].split(",")], int(sys.argv[4])
modes = sys.argv[5].split(",")
if int(sys.argv[6]):
    sampleattn.set_workspace_cache(int(sys.argv[6]))
settings = json.loads(sys.argv[7])
q, k, v = (np.ascontiguousarray(np.load(Path(path) / ("L%02d_%s.npy" % (layer, n))), dtype=np.float32) for n in "qkv")
meta = Path(path) / "meta.json"
scale = (json.loads(meta.read_text()).get("scale") if meta.exists() else None) or 1 / math.sqrt(q.shape[2])
out = []
for mode in modes:
    for prec in ("float32", "bfloat16"):
        for t in threads:
            run = lambda: sampleattn.attention(q, k, v, layout="hsd", scale=scale, threads=t, mode=mode,
                                               alpha=0.95, precision=prec, stats=True, **settings)
            digest = hashlib.sha256(np.ascontiguousarray(run()[0]).tobytes()).hexdigest()[:16]
            for _ in range(calls):
                start = time.perf_counter()
                st = run()[-1]
                wall = time.perf_counter() - start
                out.append({"mode": mode, "precision": prec, "threads": t, "total": st["time_total_s"],
                            "output": digest, "stage1": st["time_sample_s"], "stage2": st["time_filter_s"],
                            "attention": st["time_attention_s"], "wall": wall})
print(json.dumps({"isa": sampleattn.features().get("isa"), "rows": out}))
"""


BUILD_KEYS = ("lib", "cache", "pythonpath")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", action="append", required=True, help="NAME=PATH of a libsampleattn.so.0")
    ap.add_argument("--data", required=True, help="DIR:LAYER")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--modes", default="sample", help="comma-separated: sample, dense")
    ap.add_argument("--json")
    a = ap.parse_args()
    path, layer = a.data.rsplit(":", 1)
    libs = []
    for spec in a.lib:
        name, rest = spec.split("=", 1)
        lib, *opts = rest.split(",")
        libs.append((name, dict([("lib", lib)] + [o.split("=", 1) for o in opts])))
    runs = {name: [] for name, _ in libs}
    isa = {}
    for _ in range(a.rounds):
        for name, build in libs:
            env = dict(os.environ, SAMPLEATTN_LIBRARY=build["lib"])
            if "pythonpath" in build:
                env["PYTHONPATH"] = build["pythonpath"]
            proc = subprocess.run([sys.executable, "-c", CHILD, path, layer, ",".join(map(str, a.threads)),
                                   str(a.calls), a.modes, build.get("cache", "0"),
                                   json.dumps({k: json.loads(v) for k, v in build.items() if k not in BUILD_KEYS})],
                                  env=env, capture_output=True, text=True)
            if proc.returncode:
                raise SystemExit(f"{name} failed: {proc.stderr}")
            res = json.loads(proc.stdout)
            runs[name] += res["rows"]
            isa[name] = res["isa"]
    results = []
    for mode, prec, t in ((m, p, t) for m in a.modes.split(",") for p in ("float32", "bfloat16") for t in a.threads):
        for name, _ in libs:
            rs = [r for r in runs[name] if r["mode"] == mode and r["precision"] == prec and r["threads"] == t]
            keys = ("total", "stage1", "stage2", "attention", "wall")
            med = {key: statistics.median(r[key] for r in rs) for key in keys}
            share = statistics.median((r["stage1"] + r["stage2"]) / r["total"] for r in rs)
            digests = sorted({r["output"] for r in rs})
            results.append({"build": name, "build_options": dict(libs)[name], "isa": isa[name], "mode": mode,
                            "precision": prec, "threads": t,
                            "calls": len(rs),
                            **{key + "_s": val for key, val in med.items()}, "stage12_share": share,
                            "output_sha256": digests})
            print(f"{mode:>6} {prec:>8} {t:2d} thr {name:>8}: call {med['total'] * 1e3:8.2f} ms, stage1 "
                  f"{med['stage1'] * 1e3:7.2f} ms, stage2 {med['stage2'] * 1e3:6.2f} ms, attention "
                  f"{med['attention'] * 1e3:7.2f} ms, wall {med['wall'] * 1e3:8.2f} ms, "
                  f"stage1+2 = {share:.1%} of the call, output {' '.join(digests)}", flush=True)
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((x.split(":", 1)[1].strip() for x in cpuinfo.splitlines() if x.startswith("model name")), "?")
    flags = next((x.split(":", 1)[1].split() for x in cpuinfo.splitlines() if x.startswith("flags")), [])
    if a.json:
        Path(a.json).write_text(json.dumps({"data": a.data, "rounds": a.rounds, "cpu": model, "nproc": os.cpu_count(),
                                            "flags": flags, "results": results}, indent=1))


if __name__ == "__main__":
    main()
