"""Measures the data behind the defaults of sink_tokens, min_seq_len and max_density
(docs/DEFAULTS.md). Runs on real captures; prints tables.

  SAMPLEATTN_LIBRARY=build/libsampleattn.so.0 build/pyvenv/bin/python bench/defaults.py \
      --data ../shared/data/qwen05b_code_8k
"""
import argparse
import statistics
import time

import numpy as np
import sampleattn


def load(folder, layer, tokens=None):
    arrays = [np.load(f"{folder}/L{layer:02d}_{t}.npy") for t in "qkv"]
    if tokens:
        arrays = [a[:, :tokens] for a in arrays]
    return [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]


def true_cra(lse_sparse, lse_dense):
    """Per head: mean over rows of the dense mass the mask keeps, exp(lse_kept - lse_all)."""
    return np.minimum(1, np.exp(lse_sparse.astype(np.float64) - lse_dense)).mean(axis=1)


def head_errors(out, dense):
    num = np.linalg.norm((out - dense).reshape(out.shape[0], -1), axis=1)
    return num / np.linalg.norm(dense.reshape(dense.shape[0], -1), axis=1)


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def sinks(args):
    print("\n## sink_tokens at alpha 0.95 (all layers, 8K): true CRA mean / worst head, median error, density")
    print("sinks  cra_mean  cra_worst_head  err_median  density")
    layers = [load(args.data, l) for l in args.layers]
    dense = [sampleattn.attention(q, k, v, mode="dense", layout="hsd", return_lse=True, threads=args.threads)
             for q, k, v in layers]
    for s in (0, 1, 4, 16, 64):
        cras, errs, dens = [], [], []
        for (q, k, v), (do, dl) in zip(layers, dense):
            o, l, st = sampleattn.attention(q, k, v, layout="hsd", sink_tokens=s, return_lse=True, stats=True,
                                            threads=args.threads, max_density=1.0)
            cras += list(true_cra(l, dl))
            errs += list(head_errors(o, do))
            dens.append(st["density"])
        print(f"{s:5d}  {np.mean(cras):8.4f}  {np.min(cras):14.4f}  {np.median(errs):10.4f}  {np.mean(dens):7.3f}")


def break_even(args):
    print("\n## sparse time / dense time against density (8K, one thread, forced sparse)")
    print("layer  alpha  density  sparse/dense")
    q, k, v = load(args.data, 12)
    td, _ = timed(lambda: sampleattn.attention(q, k, v, mode="dense", layout="hsd", threads=1), args.repeats)
    for layer in (12, 23):
        q, k, v = load(args.data, layer)
        for alpha in (0.9, 0.95, 0.98, 0.995, 0.999):
            ts, (_, st) = timed(lambda: sampleattn.attention(q, k, v, layout="hsd", alpha=alpha, threads=1,
                                                             force_sparse=True, stats=True), args.repeats)
            print(f"{layer:5d}  {alpha:5.3f}  {st['density']:7.3f}  {ts / td:12.3f}")


def short_inputs(args):
    print("\n## sample / dense time for short prompts (layer 12 prefixes, one thread, forced sparse)")
    print("tokens  dense_ms  sample_ms  sample/dense  density")
    for n in (512, 1024, 2048, 4096, 8192):
        q, k, v = load(args.data, 12, n)
        td, _ = timed(lambda: sampleattn.attention(q, k, v, mode="dense", layout="hsd", threads=1), args.repeats)
        ts, (_, st) = timed(lambda: sampleattn.attention(q, k, v, layout="hsd", threads=1, force_sparse=True,
                                                         stats=True), args.repeats)
        print(f"{n:6d}  {td * 1e3:8.1f}  {ts * 1e3:9.1f}  {ts / td:12.3f}  {st['density']:7.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/qwen05b_code_8k")
    ap.add_argument("--layers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 6, 12, 18, 23])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["sinks", "break_even", "short"], default=None)
    args = ap.parse_args()
    for name, fn in (("sinks", sinks), ("break_even", break_even), ("short", short_inputs)):
        if args.only in (None, name):
            fn(args)


if __name__ == "__main__":
    main()
