"""Run inside a fresh venv where only the built wheel (and numpy) is installed, by test_wheel.sh.

Checks that `import sampleattn` finds the library bundled in the package (no SAMPLEATTN_LIBRARY),
that the process maps libomp from the package and nothing from a Swift toolchain, and that dense
and SampleAttention results match a float64 numpy reference (over the plan's mask for the
sparse mode).
"""
import os
import sys

import numpy as np

import sampleattn

assert "SAMPLEATTN_LIBRARY" not in os.environ, "the wheel must work without SAMPLEATTN_LIBRARY"
pkg = os.path.dirname(os.path.realpath(sampleattn.__file__))
lib = os.path.realpath(sampleattn.library_path())
assert os.path.dirname(lib) == pkg, "loaded %s, not the copy inside %s" % (lib, pkg)


def reference(q, k, v, keep):
    """float64 causal attention of (S, H_q, d) q over (S, H_kv, d) k, v where keep[h] is True."""
    s, h_q, d = q.shape
    group = h_q // k.shape[1]
    out = np.empty((s, h_q, d))
    for h in range(h_q):
        scores = q[:, h, :].astype(np.float64) @ k[:, h // group, :].astype(np.float64).T / np.sqrt(d)
        scores[~keep[h]] = -np.inf
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        out[:, h, :] = (p / p.sum(axis=1, keepdims=True)) @ v[:, h // group, :].astype(np.float64)
    return out


def rel_err(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


rng = np.random.default_rng(7)
S, H_Q, H_KV, D = 1536, 4, 2, 64
q = rng.standard_normal((S, H_Q, D), dtype=np.float32)
k = rng.standard_normal((S, H_KV, D), dtype=np.float32)
v = rng.standard_normal((S, H_KV, D), dtype=np.float32)
causal = np.tril(np.ones((S, S), dtype=bool))

dense = sampleattn.attention(q, k, v, mode="dense")
err = rel_err(dense, reference(q, k, v, [causal] * H_Q))
assert err < 1e-5, "dense: relative L2 error %.3g against float64" % err

out, plan = sampleattn.attention(q, k, v, mode="sample", alpha=0.5, return_plan=True, force_sparse=True)
with plan:
    masks = [plan.mask(h) for h in range(H_Q)]
    assert plan.density < 1.0, "forced sparse plan kept every entry"
    sparse_err = rel_err(out, reference(q, k, v, masks))
assert sparse_err < 1e-5, "sample: relative L2 error %.3g against float64 over its mask" % sparse_err

with open("/proc/self/maps") as f:
    mapped = sorted({os.path.realpath(line.split()[-1]) for line in f if "/" in line.split()[-1]})
omp = [m for m in mapped if os.path.basename(m).startswith("libomp")]
assert omp == [os.path.join(pkg, "libomp.so.5")], "libomp mapped from %s" % omp
swift = [m for m in mapped if "swift" in m.lower()]
assert not swift, "Swift files mapped: %s" % swift

print("wheel check passed: %s %s from %s; dense rel err %.2g, sample (density %.3f) rel err %.2g "
      "over its mask; libomp from the package, no Swift file mapped (python %s)"
      % (sampleattn.__version__, sampleattn.version(), lib, err, plan.density, sparse_err,
         sys.version.split()[0]))
