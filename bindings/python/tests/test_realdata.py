"""Real attention inputs (Qwen2.5-Coder-0.5B on CPython source, float16, head-major [H, S, d],
scale 0.125 = 1/sqrt(64), GQA h // 7): ../shared/data/qwen05b_code_2k (layers 1 and 12) with its
dense output ``o``, skipped when ../shared/data is absent (see conftest.shared_data), and the first
2048 tokens of the repository's data/qwen05b_code_4k (layers 1 and 12; causal attention makes them
exactly a 2048-token prompt), which always run.

Note: the shipped ``o`` differs from exact (float64) attention over the stored float16 inputs by
~0.8-1.6e-3 relative L2 (it was presumably computed from the float32 activations before q/k/v
were rounded to float16 for storage), so it bounds the error at ~2e-3. The library itself is
also checked against a float64 oracle over the stored inputs (1e-5 for float32 I/O).
"""
import json

import numpy as np
import pytest

import sampleattn
from sampleattn import api
import sa_reference as ref

LAYERS = [1, 12]


S = 2048


def load(shared_data, layer, mmap=False):
    d = shared_data / "qwen05b_code_2k"
    if not d.is_dir():
        pytest.fail("fixture %s is missing" % d)
    arrays = [np.load(d / ("L%02d_%s.npy" % (layer, n)), mmap_mode="r" if mmap else None)
              for n in "qkvo"]
    for a in arrays:
        assert a.dtype == np.float16
    q, k, v, o = arrays
    assert q.shape == (14, S, 64) and k.shape == v.shape == (2, S, 64) and o.shape == q.shape
    return q, k, v, o


def load_shipped(shipped_data, layer):
    """The first S tokens of the shipped 4K capture (no dense output is shipped)."""
    d = shipped_data / "qwen05b_code_4k"
    q, k, v = (np.load(d / ("L%02d_%s.npy" % (layer, n)))[:, :S] for n in "qkv")
    assert q.dtype == np.float16 and q.shape == (14, S, 64) and k.shape == v.shape == (2, S, 64)
    return q, k, v


@pytest.fixture(params=["shipped_4k", "shared_2k"])
def capture(request):
    """(q, k, v) of a real capture, as a function of the layer."""
    if request.param == "shipped_4k":
        shipped = request.getfixturevalue("shipped_data")
        return lambda layer: load_shipped(shipped, layer)
    shared = request.getfixturevalue("shared_data")
    return lambda layer: load(shared, layer)[:3]


def token_major(*xs):
    return [np.asarray(x).transpose(1, 0, 2) for x in xs]


def test_fixture_meta(shared_data):
    meta = json.loads((shared_data / "qwen05b_code_2k" / "meta.json").read_text())
    assert meta["scale"] == 0.125 and meta["head_dim"] == 64 and meta["gqa_group"] == 7


@pytest.mark.parametrize("layer", LAYERS)
def test_dense_float16_against_shipped_output(shared_data, layer):
    q, k, v, o = load(shared_data, layer, mmap=True)     # read-only memory maps, head-major
    for x in (q, k, v):
        arr, _ = api._prepare(x, "x", "hsd")
        assert arr is x                                    # passed without a copy
    out = sampleattn.attention(q, k, v, mode="dense", layout="hsd")
    assert out.dtype == np.float16 and out.shape == (14, 2048, 64)
    err = ref.rel_l2(out, o)
    print("\nL%02d dense float16 in/out: rel L2 vs shipped o = %.3e" % (layer, err))
    assert err <= 2e-3
    # and against the float64 oracle over the same float16 inputs: only the output rounding
    want, _ = ref.attention(*token_major(q, k, v), scale=0.125)
    err64 = ref.rel_l2(out.transpose(1, 0, 2), want)
    print("L%02d dense float16 in/out: rel L2 vs float64 oracle = %.3e" % (layer, err64))
    assert err64 <= 5e-4


@pytest.mark.parametrize("layer", LAYERS)
def test_dense_float32_against_shipped_output(shared_data, layer):
    q, k, v, o = load(shared_data, layer)
    q32, k32, v32 = (x.astype(np.float32) for x in (q, k, v))
    out = sampleattn.attention(q32, k32, v32, mode="dense", layout="hsd", scale=0.125)
    assert out.dtype == np.float32
    err = ref.rel_l2(out, o)
    want, _ = ref.attention(*token_major(q32, k32, v32), scale=0.125)
    err64 = ref.rel_l2(out.transpose(1, 0, 2), want)
    print("\nL%02d dense float32: rel L2 vs shipped o = %.3e, vs float64 oracle = %.3e"
          % (layer, err, err64))
    assert err <= 2e-3
    assert err64 <= 1e-5


@pytest.mark.parametrize("layer", LAYERS)
def test_dense_against_float64_oracle(capture, layer):
    q, k, v = capture(layer)
    want, _ = ref.attention(*token_major(q, k, v), scale=0.125)
    out16 = sampleattn.attention(q, k, v, mode="dense", layout="hsd")
    q32, k32, v32 = (x.astype(np.float32) for x in (q, k, v))
    out32 = sampleattn.attention(q32, k32, v32, mode="dense", layout="hsd", scale=0.125)
    assert out16.dtype == np.float16 and out32.dtype == np.float32
    err16 = ref.rel_l2(out16.transpose(1, 0, 2), want)
    err32 = ref.rel_l2(out32.transpose(1, 0, 2), want)
    print("\nL%02d dense vs float64 oracle: float16 in/out %.3e, float32 %.3e" % (layer, err16, err32))
    assert err16 <= 5e-4
    assert err32 <= 1e-5


@pytest.mark.parametrize("layer", LAYERS)
def test_sample_mode_on_real_data(capture, layer):
    q, k, v = capture(layer)
    q32, k32, v32 = (x.astype(np.float32) for x in (q, k, v))
    out, lse, plan = sampleattn.attention(q32, k32, v32, layout="hsd", return_lse=True,
                                          return_plan=True)
    s = S
    with plan:
        assert (plan.n_heads, plan.s_q, plan.s_k) == (14, s, s)
        masks = []
        for hp in plan.heads:
            idx = hp.indices
            assert 0 < hp.density <= 1
            if not hp.dense:    # dense heads (fallback) have no indices
                assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < s
                assert {0, 1, 2, 3} <= set(idx[:4].tolist())        # default 4 sinks
            m = ref.plan_mask(hp, s, s)
            assert m.sum() == hp.kept_entries
            masks.append(m)
        qt, kt, vt = token_major(q32, k32, v32)
        want, want_lse = ref.attention(qt, kt, vt, scale=0.125, masks=masks)
        err_mask = ref.rel_l2(out.transpose(1, 0, 2), want)
        assert err_mask <= 1e-5
        np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-4)
        # the true share of attention mass the mask keeps (CRA), per head, over all rows
        dense_ref, dense_lse = ref.attention(qt, kt, vt, scale=0.125)
        cra = []
        for h, m in enumerate(masks):
            g = h // 7
            logits = (qt[:, h].astype(np.float64) @ kt[:, g].astype(np.float64).T) * 0.125
            p = np.exp(np.where(ref.causal_mask(s, s), logits, -np.inf) - dense_lse[h][:, None])
            cra.append(float((p * m).sum(axis=1).mean()))
        err_dense = ref.rel_l2(out.transpose(1, 0, 2), dense_ref)
        print("\nL%02d sample: density %.3f, dense heads %d, rel L2 vs mask oracle %.2e, vs dense "
              "%.3e; CRA estimate mean %.3f, true CRA mean %.3f (min head %.3f)"
              % (layer, plan.density, plan.n_dense_heads, err_mask, err_dense,
                 np.mean([h.cra_mean for h in plan.heads]), np.mean(cra), min(cra)))
        assert plan.density < 0.75
        assert np.mean(cra) >= 0.9
        assert err_dense <= 0.1
