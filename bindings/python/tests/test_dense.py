"""Dense mode against the float64 oracle: shapes, GQA, chunked prefill, dtypes, layouts,
strided views (no copies), lse, threads, preallocated output."""
import threading

import numpy as np
import pytest

import sampleattn
from sampleattn import api
import sa_reference as ref

# (S_q, S_k, H_q, H_kv, d): odd sizes, GQA ratios 1/2/4/7/8, chunked prefill, a single row.
SHAPES = [
    (1, 1, 1, 1, 8),
    (37, 37, 2, 2, 64),
    (133, 133, 4, 2, 64),
    (96, 200, 8, 2, 64),       # chunked prefill: S_q < S_k
    (64, 64, 7, 1, 128),
    (50, 129, 14, 2, 64),
    (1, 300, 8, 1, 64),        # one query row against a cache
    (257, 257, 8, 8, 16),
    (70, 70, 4, 1, 256),
]


def shape_id(s):
    return "sq%d-sk%d-hq%d-hkv%d-d%d" % s


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_dense_float32(rng, shape):
    s_q, s_k, h_q, h_kv, d = shape
    q, k, v = ref.random_qkv(rng, s_q, s_k, h_q, h_kv, d)
    out = sampleattn.attention(q, k, v, mode="dense")
    assert out.shape == q.shape and out.dtype == np.float32
    want, _ = ref.attention(q, k, v)
    assert ref.rel_l2(out, want) <= 1e-5


@pytest.mark.parametrize("shape", SHAPES[1:6], ids=shape_id)
def test_dense_bfloat16_precision(rng, shape):
    # bf16 products (emulated where the CPU lacks AVX512-BF16): a bounded error that float32
    # precision does not have, and the default stays float32.
    s_q, s_k, h_q, h_kv, d = shape
    q, k, v = ref.random_qkv(rng, s_q, s_k, h_q, h_kv, d)
    want, _ = ref.attention(q, k, v)
    out = sampleattn.attention(q, k, v, mode="dense", precision="bfloat16")
    f32 = sampleattn.attention(q, k, v, mode="dense", precision="float32")
    assert np.array_equal(f32, sampleattn.attention(q, k, v, mode="dense"))
    err, err32 = ref.rel_l2(out, want), ref.rel_l2(f32, want)
    assert 1e-4 <= err <= 8e-3 and err > 10 * err32, (err, err32)


@pytest.mark.parametrize("shape", SHAPES[1:6], ids=shape_id)
def test_dense_float16(rng, shape):
    s_q, s_k, h_q, h_kv, d = shape
    q, k, v = ref.random_qkv(rng, s_q, s_k, h_q, h_kv, d, dtype=np.float16)
    out = sampleattn.attention(q, k, v, mode="dense")
    assert out.dtype == np.float16 and out.shape == q.shape
    want, _ = ref.attention(q, k, v)          # oracle on the same float16 values
    # float16 output rounding alone is ~2.4e-4 relative
    assert ref.rel_l2(out, want) <= 1e-3


def test_mixed_dtypes(rng):
    q, k, v = ref.random_qkv(rng, 40, 90, 4, 2, 64)
    k16 = k.astype(np.float16)
    out = sampleattn.attention(q, k16, v, mode="dense")
    assert out.dtype == np.float32
    want, _ = ref.attention(q, k16, v)
    assert ref.rel_l2(out, want) <= 1e-5


def test_other_real_dtypes_are_converted(rng):
    q, k, v = ref.random_qkv(rng, 30, 30, 2, 1, 32, dtype=np.float64)
    out = sampleattn.attention(q, k, v, mode="dense")
    assert out.dtype == np.float32           # computed (and returned) in float32
    want, _ = ref.attention(q, k, v)
    assert ref.rel_l2(out, want) <= 1e-5


def test_bfloat16_if_available(rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    q, k, v = ref.random_qkv(rng, 60, 60, 4, 2, 64)
    bf = [x.astype(ml_dtypes.bfloat16) for x in (q, k, v)]
    out = sampleattn.attention(*bf, mode="dense")
    assert out.dtype == np.dtype(ml_dtypes.bfloat16)
    want, _ = ref.attention(*[x.astype(np.float64) for x in bf])
    assert ref.rel_l2(out.astype(np.float64), want) <= 1e-2


@pytest.mark.parametrize("mode", ["dense", "sample"])
def test_layouts_agree(rng, mode):
    q, k, v = ref.random_qkv(rng, 120, 160, 6, 2, 64)
    opts = dict(mode=mode, force_sparse=True, window_ratio=0.1)
    a = sampleattn.attention(q, k, v, layout="shd", **opts)
    # contiguous head-major copies
    qh, kh, vh = (np.ascontiguousarray(x.transpose(1, 0, 2)) for x in (q, k, v))
    b = sampleattn.attention(qh, kh, vh, layout="hsd", **opts)
    assert b.shape == qh.shape and b.flags.c_contiguous
    np.testing.assert_array_equal(b.transpose(1, 0, 2), a)
    # head-major views of the token-major arrays (transposes, no copies)
    c = sampleattn.attention(q.transpose(1, 0, 2), k.transpose(1, 0, 2), v.transpose(1, 0, 2),
                             layout="hsd", **opts)
    np.testing.assert_array_equal(c.transpose(1, 0, 2), a)


def _assert_no_copy(x, layout):
    arr, _ = api._prepare(x, "x", layout)
    assert arr is x, "a strided view the C API can describe must be passed without a copy"


def test_strided_views_of_a_cache(rng):
    """Slices of a larger KV cache and of a fused QKV buffer go in as they are."""
    s_q, s_k, h_q, h_kv, d = 48, 150, 4, 2, 64
    cache_k = rng.standard_normal((512, 6, d)).astype(np.float32)   # (max tokens, heads, d)
    cache_v = rng.standard_normal((512, 6, d)).astype(np.float32)
    k = cache_k[:s_k, 3:3 + h_kv]          # token stride 6*d, head stride d
    v = cache_v[:s_k, 1:1 + 2 * h_kv:2]    # every other head: head stride 2*d
    qkv = rng.standard_normal((s_q, h_q + 8, d)).astype(np.float32)
    q = qkv[:, 2:2 + h_q]
    for x in (q, k, v):
        assert not x.flags.c_contiguous
        _assert_no_copy(x, "shd")
    out = sampleattn.attention(q, k, v, mode="dense")
    want, _ = ref.attention(q, k, v)
    assert ref.rel_l2(out, want) <= 1e-5


def test_head_major_cache_views(rng):
    """ggml-like head-major cache [H, max_tokens, d], sliced in tokens."""
    cache_k = rng.standard_normal((2, 400, 64)).astype(np.float16)
    cache_v = rng.standard_normal((2, 400, 64)).astype(np.float16)
    q = rng.standard_normal((8, 32, 64)).astype(np.float16)
    k, v = cache_k[:, :250], cache_v[:, :250]
    _assert_no_copy(k, "hsd")
    out = sampleattn.attention(q, k, v, mode="dense", layout="hsd")
    want, _ = ref.attention(*(x.transpose(1, 0, 2) for x in (q, k, v)))
    assert ref.rel_l2(out.transpose(1, 0, 2), want) <= 1e-3


@pytest.mark.parametrize("kind", ["reversed", "broadcast", "last-dim-strided", "misaligned"])
def test_views_that_need_a_copy(rng, kind):
    q, k, v = ref.random_qkv(rng, 40, 40, 4, 2, 64)
    if kind == "reversed":
        k = k[::-1]
        v = v[::-1]
    elif kind == "broadcast":
        k = np.broadcast_to(k[:, :1], k.shape)          # head stride 0
    elif kind == "last-dim-strided":
        big = np.repeat(q, 2, axis=2)
        q = big[:, :, ::2]
    else:
        raw = np.empty(q.nbytes + 1, dtype=np.uint8)[1:]
        q = np.frombuffer(raw, dtype=np.float32).reshape(q.shape)
        q[...] = rng.standard_normal(q.shape)
    arr, _ = api._prepare(q if kind in ("last-dim-strided", "misaligned") else k, "x", "shd")
    assert arr.flags.c_contiguous
    out = sampleattn.attention(q, k, v, mode="dense")
    want, _ = ref.attention(q, k, v)
    assert ref.rel_l2(out, want) <= 1e-5


def test_array_likes(rng):
    q, k, v = ref.random_qkv(rng, 9, 9, 2, 1, 8)
    out = sampleattn.attention(q.tolist(), memoryview(k), v, mode="dense")
    want, _ = ref.attention(q, k, v)
    assert ref.rel_l2(out, want) <= 1e-5


@pytest.mark.parametrize("shape", [(64, 64, 4, 2, 64), (30, 100, 7, 1, 64)], ids=shape_id)
def test_lse(rng, shape):
    q, k, v = ref.random_qkv(rng, *shape)
    out, lse = sampleattn.attention(q, k, v, mode="dense", return_lse=True)
    want, want_lse = ref.attention(q, k, v)
    assert lse.shape == (shape[2], shape[0]) and lse.dtype == np.float32
    np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-5)
    assert ref.rel_l2(out, want) <= 1e-5


def test_lse_definition_chunked(rng):
    """lse is the natural-log log-sum-exp of the scaled logits over the attended keys."""
    q, k, v = ref.random_qkv(rng, 16, 80, 2, 2, 32)
    _, lse = sampleattn.attention(q, k, v, mode="dense", return_lse=True, scale=0.3)
    qd, kd = q.astype(np.float64), k.astype(np.float64)
    pos = 80 - 16 + np.arange(16)
    for h in range(2):
        logits = qd[:, h] @ kd[:, h].T * 0.3
        for i, p in enumerate(pos):
            row = logits[i, :p + 1]
            m = row.max()
            assert abs(lse[h, i] - (m + np.log(np.exp(row - m).sum()))) < 1e-4


def test_scale(rng):
    q, k, v = ref.random_qkv(rng, 50, 50, 2, 2, 64)
    out = sampleattn.attention(q, k, v, mode="dense", scale=0.05)
    want, _ = ref.attention(q, k, v, scale=0.05)
    assert ref.rel_l2(out, want) <= 1e-5
    default = sampleattn.attention(q, k, v, mode="dense")
    np.testing.assert_array_equal(sampleattn.attention(q, k, v, mode="dense", scale=0.125), default)


def test_threads_bitwise_identical(rng):
    q, k, v = ref.random_qkv(rng, 200, 200, 8, 2, 64)
    a = sampleattn.attention(q, k, v, mode="dense", threads=1)
    b = sampleattn.attention(q, k, v, mode="dense", threads=3)
    c = sampleattn.attention(q, k, v, mode="sample", threads=2, force_sparse=True)
    d = sampleattn.attention(q, k, v, mode="sample", threads=1, force_sparse=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, d)


def test_python_threads(rng):
    """Each Python thread gets its own native context; concurrent calls agree."""
    q, k, v = ref.random_qkv(rng, 150, 150, 4, 2, 64)
    want = sampleattn.attention(q, k, v, mode="dense", threads=1)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(sampleattn.attention(q, k, v, mode="dense", threads=1))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_preallocated_out(rng):
    q, k, v = ref.random_qkv(rng, 33, 33, 4, 4, 64)
    buf = np.full((2, 33, 4, 64), np.nan, dtype=np.float16)
    out = sampleattn.attention(q, k, v, mode="dense", out=buf[1])
    assert np.shares_memory(out, buf[1]) and out.shape == q.shape
    assert np.isnan(buf[0]).all()
    want, _ = ref.attention(q, k, v)
    assert ref.rel_l2(buf[1], want) <= 1e-3


def test_stats(rng):
    q, k, v = ref.random_qkv(rng, 64, 64, 4, 2, 64)
    out, st = sampleattn.attention(q, k, v, mode="dense", stats=True, threads=1)
    assert st["mode"] == 0 and st["n_heads"] == 4 and st["n_dense_heads"] == 4
    assert st["density"] == 1.0 and st["kept_entries"] == st["causal_entries"] == 4 * 64 * 65 // 2
    assert st["n_threads"] == 1


def test_torch_tensors(rng):
    torch = pytest.importorskip("torch")
    q, k, v = ref.random_qkv(rng, 64, 96, 4, 2, 64)
    tq = torch.from_numpy(q).requires_grad_()          # needs .detach() before .numpy()
    tk, tv = (torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2))) for x in (k, v))
    assert api._prepare(tq, "q", "shd")[0].ctypes.data == tq.data_ptr()      # zero-copy
    out, lse = sampleattn.attention(tq.permute(1, 0, 2), tk, tv, mode="dense", layout="hsd",
                                    return_lse=True)
    want, want_lse = ref.attention(q, k, v)
    assert isinstance(out, torch.Tensor) and isinstance(lse, torch.Tensor)   # torch in, torch out
    assert ref.rel_l2(out.numpy().transpose(1, 0, 2), want) <= 1e-5
    np.testing.assert_allclose(lse.numpy(), want_lse, rtol=1e-5, atol=1e-5)
