"""Bad input raises SampleAttnError with the right status, and writes nothing."""
import numpy as np
import pytest

import sampleattn
from sampleattn import _capi as C
import sa_reference as ref


def qkv(s_q=16, s_k=16, h_q=4, h_kv=2, d=64, dtype=np.float32):
    return ref.random_qkv(np.random.default_rng(7), s_q, s_k, h_q, h_kv, d, dtype=dtype)


Q, K, V = qkv()

CASES = {
    # shapes
    "q-2d": (lambda: (Q[:, 0], K, V), {}, C.SA_ERR_INVALID_SHAPE),
    "k-4d": (lambda: (Q, K[None], V), {}, C.SA_ERR_INVALID_SHAPE),
    "zero-tokens": (lambda: (Q[:0], K, V), {}, C.SA_ERR_INVALID_SHAPE),
    "head-dim-12": (lambda: qkv(d=12), {}, C.SA_ERR_UNSUPPORTED_HEAD_DIM),
    "head-dim-264": (lambda: qkv(d=264), {}, C.SA_ERR_UNSUPPORTED_HEAD_DIM),
    "head-dims-differ": (lambda: (Q, K[:, :, :32], V), {}, C.SA_ERR_UNSUPPORTED_HEAD_DIM),
    "gqa-not-multiple": (lambda: (Q[:, :3], K, V), {}, C.SA_ERR_GQA_MISMATCH),
    "gqa-kv-heads-differ": (lambda: (Q, K, V[:, :1]), {}, C.SA_ERR_GQA_MISMATCH),
    "sq-gt-sk": (lambda: (Q, K[:8], V[:8]), {}, C.SA_ERR_SEQ_MISMATCH),
    "k-v-tokens-differ": (lambda: (Q[:4], K, V[:8]), {}, C.SA_ERR_SEQ_MISMATCH),
    # parameters
    "alpha-0": (lambda: (Q, K, V), dict(alpha=0.0), C.SA_ERR_INVALID_PARAM),
    "alpha-1.5": (lambda: (Q, K, V), dict(alpha=1.5), C.SA_ERR_INVALID_PARAM),
    "alpha-nan": (lambda: (Q, K, V), dict(alpha=float("nan")), C.SA_ERR_INVALID_PARAM),
    "alpha-str": (lambda: (Q, K, V), dict(alpha="high"), C.SA_ERR_INVALID_PARAM),
    "window-ratio-neg": (lambda: (Q, K, V), dict(window_ratio=-0.1), C.SA_ERR_INVALID_PARAM),
    "sample-ratio-0": (lambda: (Q, K, V), dict(sample_ratio=0), C.SA_ERR_INVALID_PARAM),
    "sink-tokens-neg": (lambda: (Q, K, V), dict(sink_tokens=-1), C.SA_ERR_INVALID_PARAM),
    "sink-tokens-int64": (lambda: (Q, K, V), dict(sink_tokens=2**32 + 4), C.SA_ERR_INVALID_PARAM),
    "max-density-0": (lambda: (Q, K, V), dict(max_density=0.0), C.SA_ERR_INVALID_PARAM),
    "stripes": (lambda: (Q, K, V), dict(min_stripes=5, max_stripes=2), C.SA_ERR_INVALID_PARAM),
    "sample-group-0": (lambda: (Q, K, V), dict(sample_group=0), C.SA_ERR_INVALID_PARAM),
    "max-diagonals-neg": (lambda: (Q, K, V), dict(max_diagonals=-1), C.SA_ERR_INVALID_PARAM),
    "alpha-correction-neg": (lambda: (Q, K, V), dict(alpha_correction=-1), C.SA_ERR_INVALID_PARAM),
    "alpha-correction-17": (lambda: (Q, K, V), dict(alpha_correction=17), C.SA_ERR_INVALID_PARAM),
    "alpha-correction-nan": (lambda: (Q, K, V), dict(alpha_correction=float("nan")), C.SA_ERR_INVALID_PARAM),
    "precision-2": (lambda: (Q, K, V), dict(precision=2), C.SA_ERR_INVALID_PARAM),
    "precision-str": (lambda: (Q, K, V), dict(precision="fp8"), C.SA_ERR_INVALID_PARAM),
    "scale-neg": (lambda: (Q, K, V), dict(scale=-1.0), C.SA_ERR_INVALID_SCALE),
    "scale-inf": (lambda: (Q, K, V), dict(scale=float("inf")), C.SA_ERR_INVALID_SCALE),
    "scale-nan": (lambda: (Q, K, V), dict(scale=float("nan")), C.SA_ERR_INVALID_SCALE),
    "mode-unknown": (lambda: (Q, K, V), dict(mode="fast"), C.SA_ERR_INVALID_MODE),
    "mode-int-unknown": (lambda: (Q, K, V), dict(mode=7), C.SA_ERR_INVALID_MODE),
    "mode-float": (lambda: (Q, K, V), dict(mode=1.0), C.SA_ERR_INVALID_MODE),   # None = default
    "slash-block-size": (lambda: (Q, K, V), dict(mode="sample_slash", block_size=24), C.SA_ERR_INVALID_PARAM),
    "layout-unknown": (lambda: (Q, K, V), dict(layout="sdh"), C.SA_ERR_INVALID_PARAM),
    "threads-neg": (lambda: (Q, K, V), dict(threads=-1), C.SA_ERR_INVALID_PARAM),
    "threads-huge": (lambda: (Q, K, V), dict(threads=5000), C.SA_ERR_INVALID_PARAM),
    # dtypes and buffers
    "complex": (lambda: (Q.astype(np.complex64), K, V), {}, C.SA_ERR_INVALID_DTYPE),
    "strings": (lambda: (np.full(Q.shape, "x"), K, V), {}, C.SA_ERR_INVALID_DTYPE),
    "out-aliases-q": (lambda: (Q.copy(), K, V), "out=q", C.SA_ERR_ALIASING),
    "out-wrong-shape": (lambda: (Q, K, V), dict(out=np.empty((16, 4, 32), np.float32)),
                        C.SA_ERR_SEQ_MISMATCH),
    "out-float64": (lambda: (Q, K, V), dict(out=np.empty(Q.shape)), C.SA_ERR_INVALID_DTYPE),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("return_plan", [False, True], ids=["attention", "plan"])
def test_error_status(name, return_plan):
    make, kwargs, status = CASES[name]
    q, k, v = make()
    if kwargs == "out=q":
        kwargs = dict(out=q)
    with pytest.raises(sampleattn.SampleAttnError) as e:
        sampleattn.attention(q, k, v, return_plan=return_plan, **kwargs)
    err = e.value
    assert err.status == status, str(err)
    assert err.status_name == C.status_name(status)
    assert err.message and err.status_name in str(err)


def test_message_is_the_context_message():
    with pytest.raises(sampleattn.SampleAttnError) as e:
        sampleattn.attention(Q[:, :3], K, V)
    assert "3" in e.value.message and "2" in e.value.message   # heads named in the message
    assert e.value.message != sampleattn.status_string(C.SA_ERR_GQA_MISMATCH)


def test_failed_call_writes_nothing():
    out = np.full(Q.shape, 7.0, dtype=np.float32)
    with pytest.raises(sampleattn.SampleAttnError):
        sampleattn.attention(Q, K, V, alpha=2.0, out=out)
    with pytest.raises(sampleattn.SampleAttnError):
        sampleattn.attention(Q, K[:, :1], V, out=out)
    assert (out == 7.0).all()


def test_error_is_picklable():
    import pickle
    e = sampleattn.SampleAttnError(C.SA_ERR_GQA_MISMATCH, "x")
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.status, e2.status_name, e2.message) == (5, "SA_ERR_GQA_MISMATCH", "x")


def test_status_strings():
    for s in range(C.SA_STATUS_COUNT):
        assert sampleattn.status_string(s)
    assert C.status_name(0) == "SA_OK" and C.status_name(99) == "SA_STATUS_99"
