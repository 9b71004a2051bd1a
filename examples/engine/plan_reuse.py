#!/usr/bin/env python3
"""Is it worth reusing a SampleAttention plan across layers, or across prefill chunks?

    SAMPLEATTN_LIBRARY=build/libsampleattn.so.0 build/pyvenv/bin/python \\
        examples/engine/plan_reuse.py [--data ../shared/data/qwen05b_code_8k] [--layers 1,6,12,18,23]

Measures on real attention inputs (default: the 8K-token capture, layers 1, 6, 12, 18, 23), with
the true CRA of a row = exp(lse_sparse - lse_dense), the share of the dense attention mass the
mask kept (mean over heads and rows, and the worst head's mean):

1. Across layers: the plan made on layer A applied (sa_plan_apply) to layer B's q, k, v, for
   every pair, against B's own plan. Also what planning costs: the share of a SampleAttention
   call spent on stage 1 + 2 (what a reused plan would save).
2. Across chunks of a chunked prefill (--chunk tokens): the API refuses a plan made for another
   S_k (SA_ERR_PLAN_MISMATCH), so the reuse is evaluated here with numpy: the previous chunk's
   selected key columns (plus the current chunk's local window, which is a parameter, not a
   choice) applied to the current chunk's rows, against the chunk's own plan. The numpy mask of
   the own plan is cross-checked against the library's lse.
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
if not os.environ.get("SAMPLEATTN_LIBRARY") and (REPO / "build" / "libsampleattn.so.0").exists():
    os.environ["SAMPLEATTN_LIBRARY"] = str(REPO / "build" / "libsampleattn.so.0")

SCALE = 0.125


def load(data, layer):
    return [np.load(data / ("L%02d_%s.npy" % (layer, n))) for n in "qkv"]   # f16 [H, S, d]


def cra(lse_sparse, lse_dense):
    c = np.exp(lse_sparse.astype(np.float64) - lse_dense.astype(np.float64))   # [H, S]
    per_head = c.mean(axis=1)
    return float(per_head.mean()), float(per_head.min())


def cross_layer(data, layers, threads):
    dense_lse, plans, own, timing = {}, {}, {}, {}
    inputs = {L: load(data, L) for L in layers}
    for L in layers:
        q, k, v = inputs[L]
        _, dense_lse[L], st_d = sampleattn.attention(q, k, v, layout="hsd", mode="dense", scale=SCALE,
                                                     return_lse=True, threads=threads, stats=True)
        _, lse, plan, st = sampleattn.attention(q, k, v, layout="hsd", scale=SCALE, return_lse=True,
                                                return_plan=True, threads=threads, stats=True)
        plans[L] = plan
        own[L] = cra(lse, dense_lse[L]) + (plan.density,)
        plan_s = st["time_sample_s"] + st["time_filter_s"]
        t0 = time.perf_counter()
        plan.apply(q, k, v, layout="hsd", threads=threads)
        apply_s = time.perf_counter() - t0
        timing[L] = (st_d["time_total_s"], plan_s, apply_s)
    print("1. plan reuse across layers (S = %d): mean true CRA [worst head] of layer B's rows under "
          "layer A's plan" % inputs[layers[0]][0].shape[1])
    print("   A \\ B " + "".join("%19s" % ("L%02d" % B) for B in layers) + "   density of A's plan")
    matrix = {}
    for A in layers:
        row = []
        for B in layers:
            if A == B:
                m, w, _ = own[B]
            else:
                q, k, v = inputs[B]
                _, lse = plans[A].apply(q, k, v, layout="hsd", return_lse=True, threads=threads)
                m, w = cra(lse, dense_lse[B])
            matrix[A, B] = (m, w)
            row.append("%10.4f [%.3f]" % (m, w) + ("*" if A == B else " "))
        print("   L%02d   " % A + "".join("%19s" % r for r in row) + "   %.3f" % plans[A].density)
    print("   (* = the layer's own plan)")
    drops = [matrix[B, B][0] - matrix[A, B][0] for A in layers for B in layers if A != B]
    print("   CRA lost by a foreign plan: mean %.4f, max %.4f (own plans: mean CRA %.4f)"
          % (np.mean(drops), np.max(drops), np.mean([own[L][0] for L in layers])))
    print("   cost of planning per call (2 threads share the machine with others: ratios matter):")
    for L in layers:
        d_s, p_s, a_s = timing[L]
        print("     L%02d: dense %.0f ms, plan (stages 1+2) %.0f ms, apply %.0f ms -> planning is %.0f%% "
              "of a SampleAttention call" % (L, 1e3 * d_s, 1e3 * p_s, 1e3 * a_s, 100 * p_s / (p_s + a_s)))
    for p in plans.values():
        p.close()
    return matrix


def numpy_cra(q, k, rows, sk, mask_sets):
    """Per-head mean true CRA of rows [sk - len(rows), sk), one array per mask set; a mask set is
    a function h -> boolean mask [n, sk]."""
    out = [[] for _ in mask_sets]
    for h in range(q.shape[0]):
        s = (q[h, rows].astype(np.float64) @ k[h // (q.shape[0] // k.shape[0]), :sk].astype(np.float64).T) * SCALE
        pos = rows[:, None]
        s[np.arange(sk)[None, :] > pos] = -np.inf
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        for o, masks in zip(out, mask_sets):
            o.append(float((p * masks(h)).sum(axis=1).mean()))
    return [np.array(o) for o in out]


def mask_from(indices, window, rows, sk, dense):
    pos = rows[:, None]
    j = np.arange(sk)[None, :]
    causal = j <= pos
    if dense:
        return causal
    sel = np.zeros(sk, dtype=bool)
    sel[indices[indices < sk]] = True
    return causal & ((j > pos - window) | (sel[None, :] & (j <= pos - window)))


def cross_chunk(data, layers, chunk, threads):
    print("\n2. plan reuse across prefill chunks of %d tokens: mean true CRA [worst head] of each chunk's "
          "rows, own plan vs the previous chunk's stripes (+ this chunk's window)" % chunk)
    own_all, reuse_all, checks = [], [], []
    for L in layers:
        q, k, v = load(data, L)
        S = q.shape[1]
        prev = None
        cells = []
        for start in range(0, S, chunk):
            sk = start + chunk
            rows = np.arange(start, sk)
            qc = q[:, start:sk]
            _, lse_d = sampleattn.attention(qc, k[:, :sk], v[:, :sk], layout="hsd", mode="dense",
                                            scale=SCALE, return_lse=True, threads=threads)
            _, lse_s, plan = sampleattn.attention(qc, k[:, :sk], v[:, :sk], layout="hsd", scale=SCALE,
                                                  return_lse=True, return_plan=True, threads=threads)
            heads = [(h.indices.copy(), h.window, h.dense) for h in plan.heads]
            plan.close()
            if prev is not None and not all(d for _, _, d in heads) and not all(d for _, _, d in prev):
                # this chunk's window: ceil(window_ratio * S_k), as its own plan has it
                window = next((w for _, w, d in heads if not d), int(np.ceil(0.08 * sk)))
                own_np, reuse = numpy_cra(q, k, rows, sk, [
                    lambda h: mask_from(heads[h][0], heads[h][1], rows, sk, heads[h][2]),
                    lambda h: mask_from(prev[h][0], window, rows, sk, prev[h][2])])
                lib_own = np.exp(lse_s.astype(np.float64) - lse_d.astype(np.float64)).mean(axis=1)
                checks.append(float(np.abs(own_np - lib_own).max()))
                own_all.append(own_np)
                reuse_all.append(reuse)
                cells.append("S_k %5d: %.4f [%.3f] vs %.4f [%.3f]" % (sk, own_np.mean(), own_np.min(),
                                                                      reuse.mean(), reuse.min()))
            prev = heads
        print("   L%02d  " % L + "\n        ".join(cells))
    own_all, reuse_all = np.concatenate(own_all), np.concatenate(reuse_all)
    print("   over all: own %.4f, reused %.4f (worst head %.3f vs %.3f); numpy mask vs library lse: "
          "max |d CRA| %.1e" % (own_all.mean(), reuse_all.mean(), own_all.min(), reuse_all.min(), max(checks)))
    return own_all.mean(), reuse_all.mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.realpath(REPO / ".." / "shared" / "data" / "qwen05b_code_8k"))
    ap.add_argument("--layers", default="1,6,12,18,23")
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-chunks", action="store_true", help="only the cross-layer part")
    a = ap.parse_args()
    data = pathlib.Path(a.data)
    layers = [int(x) for x in a.layers.split(",")]
    print("libsampleattn %s at %s; data %s; alpha 0.95 (defaults)" % (sampleattn.version(),
                                                                    sampleattn.library_path(), data))
    cross_layer(data, layers, a.threads)
    if not a.skip_chunks:
        cross_chunk(data, layers, a.chunk, a.threads)


if __name__ == "__main__":
    main()
