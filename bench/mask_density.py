"""Density and true CRA of the SampleAttention mask on real captured layers (docs/DEFAULTS.md).

Per layer: the mask's density (kept / causal entries, sa_stats) and its true CRA (per head, the
mean over rows of exp(lse_sparse - lse_dense), the share of the dense attention mass the mask
keeps; then the mean and the worst head), at the library's defaults unless options override them;
then the mean over layers. Several settings can be compared in one run (`--set`). The dense
log-sum-exp is computed once per layer and cached (`--cache`).

    SAMPLEATTN_LIBRARY=build/libsampleattn.so.0 PYTHONPATH=bindings/python python bench/mask_density.py \
        --data ../shared/data/qwen05b_code_8k --layers 1,6,12,18,23 \
        --set default --set "window_choices=1" --json bench/results/mask_density_8k.json
"""
import argparse
import hashlib
import json
import os
import platform
import subprocess

import numpy as np
import sampleattn


def load(folder, layer, tokens=None):
    arrays = [np.load(f"{folder}/L{layer:02d}_{t}.npy", mmap_mode="r") for t in "qkv"]
    if tokens:
        arrays = [a[:, :tokens] for a in arrays]
    return [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]


def dense_lse(folder, layer, tokens, q, k, v, cache, threads):
    key = hashlib.sha1(f"{os.path.abspath(folder)}:{layer}:{tokens}".encode()).hexdigest()[:16]
    path = os.path.join(cache, f"dense_lse_{key}.npy") if cache else None
    if path and os.path.exists(path):
        return np.load(path)
    _, lse = sampleattn.attention(q, k, v, mode="dense", layout="hsd", return_lse=True, threads=threads)
    if path:
        os.makedirs(cache, exist_ok=True)
        np.save(path, lse)
    return lse


def parse_setting(text):
    """'default' or 'name=value,name=value' (sampleattn.attention keywords)."""
    if text == "default":
        return {}
    out = {}
    for item in text.split(","):
        name, value = item.split("=")
        try:
            out[name] = float(value) if "." in value else int(value)
        except ValueError:
            out[name] = value       # a word: precision=bfloat16
    return out


def git_revision():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def add_capture_args(ap, layers):
    """The options of the tools that run settings over a capture's layers."""
    ap.add_argument("--data", required=True)
    ap.add_argument("--layers", type=lambda s: [int(x) for x in s.split(",")], default=layers)
    ap.add_argument("--tokens", type=int, default=None, help="first N tokens of the capture")
    ap.add_argument("--set", action="append", default=None, help="'default' or name=value,...")
    ap.add_argument("--json", default=None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_capture_args(ap, layers=[1, 6, 12, 18, 23])
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--cache", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "sampleattn_dense_lse"))
    args = ap.parse_args()
    settings = args.set or ["default"]

    rows = []
    for layer in args.layers:
        q, k, v = load(args.data, layer, args.tokens)
        tokens = q.shape[1]
        ref = dense_lse(args.data, layer, tokens, q, k, v, args.cache, args.threads).astype(np.float64)
        for text in settings:
            _, lse, st = sampleattn.attention(q, k, v, layout="hsd", return_lse=True, stats=True,
                                              threads=args.threads, **parse_setting(text))
            cra = np.minimum(1, np.exp(lse.astype(np.float64) - ref)).mean(axis=1)
            row = {"setting": text, "layer": layer, "tokens": tokens, "density": st["density"],
                   "cra_mean": float(cra.mean()), "cra_worst_head": float(cra.min()),
                   "dense_heads": st["n_dense_heads"], "cra_per_head": [float(c) for c in cra]}
            rows.append(row)
            print(f"{text:40s} L{layer:02d} {tokens:6d}  density {row['density']:.4f}  "
                  f"true CRA {row['cra_mean']:.4f} (worst head {row['cra_worst_head']:.4f})  "
                  f"dense heads {row['dense_heads']}", flush=True)
    summary = []
    for text in settings:
        mine = [r for r in rows if r["setting"] == text]
        s = {"setting": text, "density": float(np.mean([r["density"] for r in mine])),
             "cra_mean": float(np.mean([r["cra_mean"] for r in mine])),
             "cra_worst_head": float(np.min([r["cra_worst_head"] for r in mine]))}
        summary.append(s)
        print(f"{text:40s} mean over layers: density {s['density']:.4f}  true CRA {s['cra_mean']:.4f}  "
              f"worst head {s['cra_worst_head']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"data": os.path.basename(os.path.normpath(args.data)), "layers": args.layers,
                       "tokens": args.tokens, "threads": args.threads, "git": git_revision(),
                       "machine": platform.machine(), "summary": summary, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
