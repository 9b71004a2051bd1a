#!/usr/bin/env python3
"""libsampleattn benchmark: our dense and SampleAttention kernels against PyTorch CPU SDPA and an
OpenBLAS sgemm ceiling, on real captured attention inputs (see bench/README.md).

    SAMPLEATTN_LIBRARY=build/libsampleattn.so python bench/bench.py [--quick] [--json PATH]

In one process, for each (length, layer, threads) every method runs once per round, rounds
repeat (round-robin, rotating start), and each ratio is the median of the per-round ratios: the
machine is shared and noisy, so only comparisons made side by side are trusted. Peak extra
memory of one call is measured per (length, method) in a fresh subprocess (--_memprobe).
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import sampleattn

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_ROOTS = [REPO.parent / "shared" / "data", REPO.parent / "realdata"]
OPENBLAS = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
TILE = 512                        # sgemm "attn": 512-token Q and K/V tiles (K = head dim)
PEAK_N = 1024                     # sgemm "peak": square 1024^3 products
MB = 1 << 20


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- data
def find_captures(roots, text):
    """{folder: meta} of every capture folder (with meta.json) under the roots."""
    found = {}
    for root in roots:
        root = Path(root)
        for meta_path in sorted(root.glob("*/meta.json")) if root.is_dir() else []:
            meta = json.loads(meta_path.read_text())
            if text is None or meta.get("text", text) == text:
                found[meta_path.parent] = meta
    return found


def layer_files(folder, layer):
    return [Path(folder) / ("L%02d_%s.npy" % (layer, n)) for n in "qkv"]


def load_layer(folder, layer, length):
    """Float16 (q, k, v), head-major, the first `length` tokens (valid: attention is causal),
    or None when the capture is missing/incomplete/too short."""
    try:
        q, k, v = (np.load(f, mmap_mode="r") for f in layer_files(folder, layer))
    except (OSError, ValueError):
        return None
    if min(q.shape[1], k.shape[1], v.shape[1]) < length:
        return None
    return tuple(np.ascontiguousarray(x[:, :length]) for x in (q, k, v))


def resolve_data(args):
    """{length: folder}: explicit --data L=PATH first, else the shortest capture under
    --data-root that is at least L long and holds every requested layer."""
    explicit = dict((int(s.split("=", 1)[0]), Path(s.split("=", 1)[1])) for s in args.data)
    captures = find_captures(args.data_root, args.text)
    chosen, notes = {}, []
    for length in args.lengths:
        if length in explicit:
            chosen[length] = explicit[length]
            continue
        fits = [(m.get("seq_len", 0), f) for f, m in captures.items()
                if m.get("seq_len", 0) >= length
                and all(all(p.exists() for p in layer_files(f, l)) for l in args.layers)]
        if fits:
            chosen[length] = min(fits)[1]
        else:
            notes.append("length %d: no complete capture (text=%s, layers %s) under %s -- skipped"
                         % (length, args.text, args.layers, ", ".join(map(str, args.data_root))))
    return chosen, notes


def capture_scale(folder, d):
    meta = Path(folder) / "meta.json"
    return json.loads(meta.read_text()).get("scale", 1 / math.sqrt(d)) if meta.exists() else 1 / math.sqrt(d)


# ---------------------------------------------------------------- library
def snapshot_library():
    """Copy $SAMPLEATTN_LIBRARY to a private directory and use the copy (here and in the
    memory-probe children): a shared build tree may be rebuilt during a long run. Returns
    (original path, snapshot directory) or (None, None)."""
    src = os.environ.get("SAMPLEATTN_LIBRARY")
    if not src or not Path(src).is_file():
        return None, None
    real = Path(src).resolve()
    tmp = tempfile.mkdtemp(prefix="sabench-")
    os.environ["SAMPLEATTN_LIBRARY"] = str(shutil.copy2(real, Path(tmp) / real.name))
    return str(real), tmp


def check_binding():
    """The installed binding's sa_params must be at least as large as the library's:
    sa_params_default writes the library's sizeof(sa_params) (a stale binding = heap overflow)."""
    from sampleattn import _capi
    buf = ctypes.create_string_buffer(4096)
    _capi.lib().sa_params_default(ctypes.cast(buf, ctypes.POINTER(_capi.sa_params)))
    lib_size = int.from_bytes(buf.raw[:4], "little")
    if lib_size > ctypes.sizeof(_capi.sa_params):
        sys.exit("error: the sampleattn binding (%s, sa_params %d bytes) is older than the library "
                 "(%s, %d bytes): reinstall bindings/python" % (Path(_capi.__file__).parent,
                 ctypes.sizeof(_capi.sa_params), sampleattn.library_path(), lib_size))


# ---------------------------------------------------------------- machine
def machine_info():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                                capture_output=True, text=True).stdout.strip() or None
    except OSError:
        commit = None
    blas = Sgemm.load()
    return {
        "cpu": cpu, "nproc": os.cpu_count(), "memory": mem, "kernel": platform.release(),
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch_version,
        "library_version": sampleattn.version(), "library_path": sampleattn.library_path(),
        "library_features": sampleattn.features(), "git": commit, "library_sha256":
            hashlib.sha256(Path(sampleattn.library_path()).read_bytes()).hexdigest()[:16]
            if Path(sampleattn.library_path()).is_file() else None,
        "openblas": blas.config if blas else None,
        "env": {k: v for k, v in sorted(os.environ.items())
                if k.startswith(("OMP_", "OPENBLAS_", "GOMP_", "KMP_", "MKL_", "SAMPLEATTN_"))},
    }


# ---------------------------------------------------------------- OpenBLAS ceiling
class Sgemm:
    """cblas_sgemm from the system OpenBLAS, two hardware ceilings:
    attn: the GEMMs of dense causal attention without the softmax -- for each head and each
      causal (query tile, key tile) pair, S = Q_t K_t^T [TILE x TILE, K=d], O_t += S V_t;
    peak: square PEAK_N^3 products, as many as make the dense-equivalent flop count."""
    RowMajor, NoTrans, Trans = 101, 111, 112

    def __init__(self, lib):
        self.lib = lib
        f32p = ctypes.POINTER(ctypes.c_float)
        lib.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, f32p, ctypes.c_int, f32p,
                                                          ctypes.c_int, ctypes.c_float, f32p, ctypes.c_int]
        lib.cblas_sgemm.restype = None
        lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
        lib.openblas_get_config.restype = ctypes.c_char_p
        self.config = lib.openblas_get_config().decode()

    @classmethod
    def load(cls, path=OPENBLAS):
        try:
            return cls(ctypes.CDLL(path))
        except (OSError, AttributeError):
            return None

    def set_threads(self, n):
        self.lib.openblas_set_num_threads(n)

    def plan_peak(self, flops_target):
        a = np.random.default_rng(0).standard_normal((PEAK_N, PEAK_N), dtype=np.float32)
        c = np.empty_like(a)
        pa, pc = (x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)) for x in (a, c))
        n = max(1, round(flops_target / (2 * PEAK_N ** 3)))

        def run():
            for _ in range(n):
                self.lib.cblas_sgemm(self.RowMajor, self.NoTrans, self.NoTrans, PEAK_N, PEAK_N, PEAK_N,
                                     1.0, pa, PEAK_N, pa, PEAK_N, 0.0, pc, PEAK_N)
        return run, n * 2 * PEAK_N ** 3

    def plan(self, q, k, v):
        """The bound runner and the flops it performs."""
        h_q, s, d = q.shape
        group = h_q // k.shape[0]
        tiles = [(h, i, j) for h in range(h_q) for i in range(0, s, TILE) for j in range(0, i + 1, TILE)]
        scores = np.empty((TILE, TILE), np.float32)
        out = np.empty((TILE, d), np.float32)
        ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        p_scores, p_out, sgemm = ptr(scores), ptr(out), self.lib.cblas_sgemm
        flops = 0
        for _, i, j in tiles:
            m, n = min(TILE, s - i), min(TILE, s - j)
            flops += 2 * m * n * d * 2

        def run():
            for h, i, j in tiles:
                m, n = min(TILE, s - i), min(TILE, s - j)
                kv = h // group
                sgemm(self.RowMajor, self.NoTrans, self.Trans, m, n, d, 1.0, ptr(q[h, i:]), d,
                      ptr(k[kv, j:]), d, 0.0, p_scores, TILE)
                sgemm(self.RowMajor, self.NoTrans, self.NoTrans, m, d, n, 1.0, p_scores, TILE,
                      ptr(v[kv, j:]), d, 1.0, p_out, d)
            return None
        return run, flops


# ---------------------------------------------------------------- methods
def ours(q, k, v, scale, threads, **kw):
    def run():
        out, lse, st = sampleattn.attention(q, k, v, layout="hsd", scale=scale, threads=threads,
                                            return_lse=True, stats=True, **kw)
        return out, lse, st
    return run


def torch_sdpa(torch, q, k, v, scale):
    tq, tk, tv = (torch.from_numpy(x).unsqueeze(0) for x in (q, k, v))   # [1, H, S, d], no copy

    def run():
        with torch.inference_mode():
            out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True,
                                                                   scale=scale, enable_gqa=True)
        return out[0].numpy(), None, None
    return run


def dense_flops(q, k):
    """Dense-equivalent flops of causal attention: 4 * H_q * S^2 / 2 * d (QK^T and PV)."""
    h_q, s, d = q.shape
    return 4 * h_q * s * s / 2 * d


def build_methods(args, f16, f32, scale, threads, torch, blas):
    """[(name, runner, performed flops for sgemm else None)] for one (length, layer, threads)."""
    (q16, k16, v16), (q, k, v) = f16, f32
    methods = [("ours dense f32", ours(q, k, v, scale, threads, mode="dense"), None)]
    if args.fp16:
        methods.append(("ours dense f16", ours(q16, k16, v16, scale, threads, mode="dense"), None))
    for alpha in args.alphas:
        methods.append(("ours sample a=%.2f" % alpha,
                        ours(q, k, v, scale, threads, mode="sample", alpha=alpha), None))
    if not args.no_slash:
        methods.append(("ours slash", ours(q, k, v, scale, threads, mode="sample_slash"), None))
    if torch is not None:
        methods.append(("torch sdpa f32", torch_sdpa(torch, q, k, v, scale), None))
    if blas is not None:
        methods.append(("openblas sgemm attn",) + blas.plan(q, k, v))
        methods.append(("openblas sgemm peak",) + blas.plan_peak(dense_flops(q, k)))
    return methods


# ---------------------------------------------------------------- metrics
def accuracy(out, lse, ref_out, ref_lse):
    """(cra_mean, cra_min_head, rel_err, rel_err_max_head): true CRA = mean over heads of the
    row-mean of exp(lse - lse_dense); rel_err = median over heads of the relative L2 error."""
    if out is None:
        return None, None, None, None
    errs = []
    for h in range(ref_out.shape[0]):
        r = ref_out[h].astype(np.float64)
        errs.append(float(np.linalg.norm(out[h].astype(np.float64) - r) / np.linalg.norm(r)))
    err, err_max = statistics.median(errs), max(errs)
    if lse is None:
        return None, None, err, err_max
    cra = np.exp(lse.astype(np.float64) - ref_lse).mean(axis=1)
    return float(cra.mean()), float(cra.min()), err, err_max


def bench_case(args, layer, threads, f16, f32, ref, torch, blas):
    """Timed rounds of every method for one (length, layer, threads); the table rows."""
    h_q, s, d = f32[0].shape
    scale = args.scale
    ref_out, ref_lse = ref
    flops_dense = dense_flops(*f32[:2])
    if torch is not None:
        torch.set_num_threads(threads)
    if blas is not None:
        blas.set_threads(threads)
    methods = build_methods(args, f16, f32, scale, threads, torch, blas)
    # warm-up (contexts, thread pools, code) on a short prefix, untimed
    prefix = lambda xs: tuple(np.ascontiguousarray(x[:, :min(1024, s)]) for x in xs)
    for _, run, _ in build_methods(args, prefix(f16), prefix(f32), scale, threads, torch, blas):
        run()

    names = [m[0] for m in methods]
    times = {n: [] for n in names}
    stats = {n: [] for n in names}
    last = {}
    for r in range(args.repeats):
        k0 = r % len(methods)
        for name, run, _ in methods[k0:] + methods[:k0]:          # every method once per round
            time.sleep(args.pause)                                 # let other pools stop spinning
            t0 = time.perf_counter()
            res = run()
            times[name].append(time.perf_counter() - t0)
            if res is not None:
                last[name] = res
                if res[2] is not None:
                    stats[name].append(res[2])
        print("  round %d/%d done" % (r + 1, args.repeats), file=sys.stderr, flush=True)

    torch_name = "torch sdpa f32" if "torch sdpa f32" in times else None
    rows = []
    for name, _, flops in methods:
        t = times[name]
        ratio = lambda base: (None if base is None else
                              statistics.median(b / x for b, x in zip(times[base], t)))
        st = stats[name]
        out, lse, _ = last.get(name, (None, None, None))
        cra, cra_min, err, err_max = accuracy(out, lse, ref_out, ref_lse)
        rows.append({
            "length": s, "layer": layer, "threads": threads, "method": name,
            "median_ms": 1e3 * statistics.median(t), "times_ms": [1e3 * x for x in t],
            "ratio_vs_torch": ratio(torch_name), "ratio_vs_dense": ratio("ours dense f32"),
            "gflops": (flops or flops_dense) / statistics.median(t) / 1e9,
            "stage12_share": median([(x["time_sample_s"] + x["time_filter_s"]) / x["time_total_s"]
                                     for x in st]) if st else None,
            "density": st[-1]["density"] if st else None,
            "cra_mean": cra, "cra_min_head": cra_min, "rel_err": err, "rel_err_max_head": err_max,
        })
    return rows


# ---------------------------------------------------------------- printing
COLUMNS = [("method", "method", "%-20s"), ("median_ms", "ms", "%10.1f"),
           ("ratio_vs_torch", "x torch", "%8.2f"), ("ratio_vs_dense", "x dense", "%8.2f"),
           ("gflops", "GFLOP/s", "%8.1f"), ("stage12_share", "st1+2", "%6.3f"),
           ("density", "density", "%8.4f"), ("cra_mean", "CRA", "%7.4f"),
           ("cra_min_head", "CRAmin", "%7.4f"), ("rel_err", "rel err", "%9.2e")]


def print_table(rows):
    r0 = rows[0]
    print("\n== length %d, layer %d, threads %d" % (r0["length"], r0["layer"], r0["threads"]))
    widths = [int(re.search(r"\d+", fmt).group()) for _, _, fmt in COLUMNS]
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, ((_, h, _), w) in enumerate(zip(COLUMNS, widths))))
    for row in rows:
        print("  ".join((fmt % row[key]) if row[key] is not None else "-".rjust(w)
                        for (key, _, fmt), w in zip(COLUMNS, widths)))
    sys.stdout.flush()


def print_memory(mem):
    methods = list(dict.fromkeys(m["method"] for m in mem))
    print("\n== peak extra memory of one call, MB (fresh process, threads %d; inputs/output excluded)"
          % mem[0]["threads"])
    print("%8s  " % "length" + "  ".join("%18s" % m for m in methods))
    for length in sorted(set(m["length"] for m in mem)):
        cell = {m["method"]: m["extra_mb"] for m in mem if m["length"] == length}
        print("%8d  " % length + "  ".join("%18s" % ("%.1f" % cell[m] if cell.get(m) is not None else "-")
                                           for m in methods))


# ---------------------------------------------------------------- memory probe
MEMPROBE_METHODS = {"ours dense f32": {"mode": "dense"}, "ours sample a=0.95": {"mode": "sample", "alpha": 0.95},
                    "ours sample a=0.80": {"mode": "sample", "alpha": 0.80}, "ours slash": {"mode": "sample_slash"},
                    "torch sdpa f32": None}


def _status_kb(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))


def memprobe(args):
    """Child process: one call; prints JSON {extra_mb, ...}. The peak (VmHWM, reset through
    /proc/self/clear_refs) minus the resident size just before the call, minus any output the
    callee allocates (ours writes into a preallocated, touched `out`). ru_maxrss is recorded too:
    it cannot be reset, so it only shows growth above everything before."""
    method = args.memprobe_method
    folder = args.data[0].split("=", 1)[1]
    data = load_layer(folder, args.layers[0], args.lengths[0])
    q, k, v = (x.astype(np.float32) for x in data)
    del data
    scale = args.scale or capture_scale(folder, q.shape[2])
    threads = args.threads[0]
    kw = MEMPROBE_METHODS[method]
    if kw is None:
        import torch
        torch.set_num_threads(threads)
        tq, tk, tv = (torch.from_numpy(x).unsqueeze(0) for x in (q, k, v))
        sdpa = lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(
            a, b, c, is_causal=True, scale=scale, enable_gqa=True)
        with torch.inference_mode():
            sdpa(tq[..., :256, :], tk[..., :256, :], tv[..., :256, :])         # warm-up
        call, out_bytes = (lambda: sdpa(tq, tk, tv)), q.nbytes
    else:
        out = np.zeros_like(q)                                            # touched
        sampleattn.attention(q[:, :256], k[:, :256], v[:, :256], layout="hsd", threads=threads, **kw)
        call, out_bytes = (lambda: sampleattn.attention(q, k, v, layout="hsd", scale=scale,
                                                        threads=threads, out=out, **kw)), 0
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                                                  # reset VmHWM
        how = "VmHWM-VmRSS"
    except OSError:
        how = "ru_maxrss"
    rss0, ru0 = _status_kb("VmRSS"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = call()
    hwm, ru1 = _status_kb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del result
    grow_kb = (hwm - rss0) if how.startswith("VmHWM") else (ru1 - ru0)
    print(json.dumps({"extra_mb": (grow_kb * 1024 - out_bytes) / MB, "rss_before_mb": rss0 / 1024,
                      "peak_mb": hwm / 1024, "ru_maxrss_growth_mb": (ru1 - ru0) / 1024,
                      "output_subtracted_mb": out_bytes / MB, "measure": how}))


def run_memprobes(args, chosen, torch_ok):
    threads = max(args.threads)
    layer = args.layers[0]
    rows = []
    for length, folder in sorted(chosen.items()):
        for method in MEMPROBE_METHODS:
            if (MEMPROBE_METHODS[method] is None and not torch_ok) or (method == "ours slash" and args.no_slash):
                continue
            cmd = [sys.executable, str(Path(__file__).resolve()), "--_memprobe", method,
                   "--lengths", str(length), "--layers", str(layer), "--threads", str(threads),
                   "--data", "%d=%s" % (length, folder)] + (["--scale", repr(args.scale)] if args.scale else [])
            p = subprocess.run(cmd, capture_output=True, text=True)
            row = {"length": length, "layer": layer, "threads": threads, "method": method}
            if p.returncode == 0:
                row.update(json.loads(p.stdout.strip().splitlines()[-1]))
            else:
                row.update({"extra_mb": None, "error": p.stderr.strip()[-500:]})
                print("memprobe %s @%d failed: %s" % (method, length, row["error"]), file=sys.stderr)
            rows.append(row)
    return rows


# ---------------------------------------------------------------- main
def int_list(s):
    return [int(x) for x in s.split(",") if x]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int_list, default=[8192, 16384, 32768])
    p.add_argument("--layers", type=int_list, default=[12])
    p.add_argument("--threads", type=int_list, default=None, help="default: 1 and os.cpu_count()")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--alphas", type=lambda s: [float(x) for x in s.split(",")], default=[0.95, 0.80])
    p.add_argument("--quick", action="store_true", help="8K only, 1 thread, 3 repeats")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-slash", action="store_true", help="skip the slash mode (library defaults)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    p.add_argument("--fp16", action="store_true", help="also time our dense kernel on float16 inputs")
    p.add_argument("--data-root", action="append", default=None,
                   help="folder of captures (*/meta.json); repeatable; default ../shared/data, ../realdata")
    p.add_argument("--data", action="append", default=[], help="LENGTH=FOLDER (explicit capture)")
    p.add_argument("--text", default="code", help="capture text kind (meta.json 'text')")
    p.add_argument("--scale", type=float, default=None, help="default: the capture's meta.json")
    p.add_argument("--pause", type=float, default=0.05, help="seconds of idle before each call")
    p.add_argument("--json", default=str(HERE / "results" / "latest.json"))
    p.add_argument("--_memprobe", dest="memprobe_method", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.lengths, args.threads, args.repeats = [8192], [1], 3
    if args.threads is None:
        args.threads = sorted({1, os.cpu_count() or 1})
    args.data_root = args.data_root or [str(r) for r in DEFAULT_ROOTS]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.memprobe_method:
        return memprobe(args)
    library_source, snapshot_dir = snapshot_library()
    try:
        check_binding()
        run(args, library_source)
    finally:
        if snapshot_dir:
            shutil.rmtree(snapshot_dir, ignore_errors=True)


def run(args, library_source):
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("note: torch is not installed -- PyTorch SDPA rows skipped")
    blas = Sgemm.load()
    if blas is None:
        print("note: %s not loadable -- OpenBLAS sgemm ceiling skipped" % OPENBLAS)
    chosen, notes = resolve_data(args)
    for n in notes:
        print("note:", n)
    machine = machine_info()
    machine["library_source"] = library_source
    print("machine: %s, %d CPUs, %s, library %s (%s), torch %s, numpy %s, env %s" % (
        machine["cpu"], machine["nproc"], machine["memory"], machine["library_version"],
        machine["git"], machine["torch"], machine["numpy"], machine["env"]))
    results = []
    for length, folder in sorted(chosen.items()):
        print("\nlength %d from %s" % (length, folder))
        for layer in args.layers:
            f16 = load_layer(folder, layer, length)
            if f16 is None:
                notes.append("length %d layer %d: %s incomplete -- skipped" % (length, layer, folder))
                print("note:", notes[-1])
                continue
            f32 = tuple(x.astype(np.float32) for x in f16)                 # converted once
            case_args = argparse.Namespace(**{**vars(args), "scale": args.scale or
                                              capture_scale(folder, f32[0].shape[2])})
            # reference: our exact dense kernel, float32 (all threads)
            ref_out, ref_lse, _ = ours(*f32, case_args.scale, max(args.threads), mode="dense")()
            ref = (ref_out, ref_lse.astype(np.float64))
            for threads in args.threads:
                rows = bench_case(case_args, layer, threads, f16, f32, ref, torch, blas)
                print_table(rows)
                results.extend(rows)
    memory = []
    if not args.no_memory and chosen:
        memory = run_memprobes(args, chosen, torch is not None)
        print_memory(memory)
    config = {k: v for k, v in vars(args).items() if k != "memprobe_method"}
    config.update({"data": {str(l): str(f) for l, f in chosen.items()}, "notes": notes,
                   "sgemm_tile": TILE, "flops": "dense-equivalent 4*H_q*S^2/2*d (sgemm: performed)",
                   "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"schema_version": 1, "machine": machine, "config": config,
                               "results": results, "memory": memory}, indent=1) + "\n")
    print("\nwrote", out)


if __name__ == "__main__":
    sys.exit(main())
