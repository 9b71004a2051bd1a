#!/usr/bin/env python3
"""SampleAttention on real attention inputs, with its plan shown per head.

    python examples/python/sample_attention_demo.py [DATA_DIR] [--layers 1 12] [--threads N]

DATA_DIR holds L{layer}_{q,k,v}.npy (float16, head-major [H, S, d], GQA h // (H_q / H_kv)),
or a folder with one such directory inside. Default: the repo's bundled slice data/ if it
exists, else ../shared/data/qwen05b_code_2k. Prints, per head, whether it fell back to dense,
the window, how many key stripes it keeps and a few of them, the kept density and the CRA
estimate; then the output error against dense attention and the timing of dense vs sample.

Library: $SAMPLEATTN_LIBRARY, else the repo's build (build/ or .build/release/), else the system.
"""
import argparse
import os
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]

try:
    import sampleattn
except ImportError:  # not pip-installed: use the source tree
    sys.path.insert(0, str(REPO / "bindings" / "python"))
    import sampleattn

if not os.environ.get("SAMPLEATTN_LIBRARY"):
    for lib in (REPO / "build" / "libsampleattn.so", REPO / ".build" / "release" / "libSampleAttnDynamic.so"):
        if lib.exists():
            os.environ["SAMPLEATTN_LIBRARY"] = str(lib)
            break


def default_data() -> pathlib.Path:
    bundled = REPO / "data"
    if bundled.is_dir():
        return bundled
    return pathlib.Path(os.path.realpath(REPO / ".." / "shared" / "data" / "qwen05b_code_2k"))


def resolve(path: pathlib.Path) -> pathlib.Path:
    """The directory holding L??_q.npy: path itself or the first subdirectory that has them."""
    if sorted(path.glob("L*_q.npy")):
        return path
    for sub in sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []:
        if sorted(sub.glob("L*_q.npy")):
            return sub
    sys.exit("no L*_q.npy files in %s (or its subdirectories)" % path)


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def best_time(fn, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def show_layer(data: pathlib.Path, layer: int, args) -> None:
    q, k, v = (np.load(data / ("L%02d_%s.npy" % (layer, n)), mmap_mode="r") for n in "qkv")
    h_q, s, d = q.shape
    group = h_q // k.shape[0]
    print("\n=== layer %d: q %s, k/v %s, %s, head-major (passed without copies), GQA %d:1"
          % (layer, list(q.shape), list(k.shape), q.dtype, group))
    common = dict(layout="hsd", threads=args.threads)
    sample_opts = dict(alpha=args.alpha, window_ratio=args.window_ratio, sample_ratio=args.sample_ratio)

    t_dense, dense = best_time(lambda: sampleattn.attention(q, k, v, mode="dense", **common), args.repeat)
    t_sample, (out, st) = best_time(
        lambda: sampleattn.attention(q, k, v, mode="sample", stats=True, **sample_opts, **common),
        args.repeat)
    out_p, plan = sampleattn.attention(q, k, v, mode="sample", return_plan=True, **sample_opts, **common)
    with plan:
        assert np.array_equal(out_p, out)
        print("head dense  window  stripes  first stripe keys (after the sinks)      density  "
              "CRA est (mean/min)  rel L2 vs dense")
        for h, hp in enumerate(plan.heads):
            err = rel_l2(out[h].astype(np.float32), dense[h].astype(np.float32))
            if hp.dense:
                print("%4d  yes   %6s  %7s  %-40s %7.3f  %8s            %.2e"
                      % (h, "-", "-", "(all causal keys)", 1.0, "1", err))
                continue
            stripes = hp.indices
            shown = " ".join(str(j) for j in stripes[stripes >= 4][:6])
            more = " ..." if (stripes >= 4).sum() > 6 else ""
            print("%4d  no    %6d  %7d  %-40s %7.3f  %.3f / %.3f       %.2e"
                  % (h, hp.window, hp.n_indices, shown + more, hp.density, hp.cra_mean, hp.cra_min, err))
        print("layer %d: density %.3f of the causal entries, %d/%d heads dense; output rel L2 vs dense %.3e"
              % (layer, plan.density, plan.n_dense_heads, plan.n_heads, rel_l2(out, dense)))
    o_path = data / ("L%02d_o.npy" % layer)
    if o_path.exists():
        print("dense output vs the shipped reference o: rel L2 %.3e" % rel_l2(dense, np.load(o_path)))
    print("time (best of %d, %d threads): dense %.1f ms, sample %.1f ms (sampling %.1f + filtering %.1f + "
          "attention %.1f) -> speedup %.2fx"
          % (args.repeat, st["n_threads"], t_dense * 1e3, t_sample * 1e3, st["time_sample_s"] * 1e3,
             st["time_filter_s"] * 1e3, st["time_attention_s"] * 1e3, t_dense / t_sample))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("data", nargs="?", type=pathlib.Path, default=None,
                    help="directory of L??_{q,k,v}.npy (default: repo data/ or ../shared/data/qwen05b_code_2k)")
    ap.add_argument("--layers", type=int, nargs="*", help="layers to run (default: all present)")
    ap.add_argument("--threads", type=int, default=0, help="0 = OpenMP default")
    ap.add_argument("--alpha", type=float, default=0.95)
    ap.add_argument("--window-ratio", type=float, default=0.08)
    ap.add_argument("--sample-ratio", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3, help="timing: best of this many runs")
    args = ap.parse_args()

    data = resolve(args.data or default_data())
    layers = args.layers or sorted(int(p.name[1:3]) for p in data.glob("L*_q.npy"))
    print("sampleattn %s (library %s at %s), data %s"
          % (sampleattn.__version__, sampleattn.version(), sampleattn.library_path(), data))
    for layer in layers:
        show_layer(data, layer, args)


if __name__ == "__main__":
    main()
