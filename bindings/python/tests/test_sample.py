"""SampleAttention mode: plan properties and the output against an oracle over the plan's mask."""
import gc

import numpy as np
import pytest

import sampleattn
import sa_reference as ref

SPARSE = dict(mode="sample", force_sparse=True)


def check_plan(plan, s_q, s_k, h_q, sink_tokens=4):
    assert (plan.n_heads, plan.s_q, plan.s_k) == (h_q, s_q, s_k)
    assert len(plan.heads) == h_q
    for hp in plan.heads:
        idx = hp.indices
        assert idx.dtype == np.int64
        assert np.all(np.diff(idx) > 0), "indices sorted and unique"
        assert idx.size == 0 or (idx[0] >= 0 and idx[-1] < s_k), "indices in range"
        assert 0 < hp.density <= 1
        assert 0 <= hp.cra_min <= hp.cra_mean <= 1 + 1e-12
        if hp.dense:
            assert hp.density == 1 and hp.cra_mean == 1
            continue
        assert 0 <= hp.window <= s_k
        # forced sinks are selected (the first min(sink_tokens, s_k) keys)
        assert set(range(min(sink_tokens, s_k))) <= set(idx.tolist())
        # density is what the mask keeps
        m = ref.plan_mask(hp, s_q, s_k)
        causal = ref.causal_mask(s_q, s_k).sum()
        assert m.sum() == hp.kept_entries
        assert hp.density == pytest.approx(m.sum() / causal, rel=1e-12)


@pytest.mark.parametrize("shape", [(256, 256, 4, 2, 64), (96, 320, 8, 2, 64), (200, 200, 7, 1, 128)],
                         ids=lambda s: "sq%d-sk%d-hq%d-hkv%d-d%d" % s)
def test_plan_and_output_match_mask_oracle(rng, shape):
    s_q, s_k, h_q, h_kv, d = shape
    q, k, v = ref.random_qkv(rng, *shape)
    out, lse, plan = sampleattn.attention(q, k, v, window_ratio=0.1, return_lse=True,
                                          return_plan=True, **SPARSE)
    with plan:
        check_plan(plan, s_q, s_k, h_q)
        assert not all(h.dense for h in plan.heads)
        assert plan.density < 1
        masks = [ref.plan_mask(h, s_q, s_k) for h in plan.heads]
        rows = rng.choice(s_q, size=17, replace=False)
        for h in range(h_q):
            np.testing.assert_array_equal(plan.mask(h), masks[h])
            np.testing.assert_array_equal(plan.mask(h, rows=rows), masks[h][rows])
    want, want_lse = ref.attention(q, k, v, masks=masks)
    assert ref.rel_l2(out, want) <= 1e-5
    np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-5)
    # the plan path (create + apply) gives what sa_attention gives
    np.testing.assert_array_equal(sampleattn.attention(q, k, v, window_ratio=0.1, **SPARSE), out)


def test_plan_head_major_float16(rng):
    q, k, v = ref.random_qkv(rng, 300, 300, 4, 2, 64, dtype=np.float16)
    qh, kh, vh = (x.transpose(1, 0, 2) for x in (q, k, v))
    out, plan = sampleattn.attention(qh, kh, vh, layout="hsd", return_plan=True, **SPARSE)
    check_plan(plan, 300, 300, 4)
    masks = [ref.plan_mask(h, 300, 300) for h in plan.heads]
    want, _ = ref.attention(q, k, v, masks=masks)
    assert out.dtype == np.float16
    assert ref.rel_l2(out.transpose(1, 0, 2), want) <= 1e-3


@pytest.mark.parametrize("sinks", [0, 1, 16])
def test_sink_tokens(rng, sinks):
    q, k, v = ref.random_qkv(rng, 128, 128, 2, 1, 64)
    _, plan = sampleattn.attention(q, k, v, sink_tokens=sinks, window_ratio=0.05,
                                   return_plan=True, **SPARSE)
    check_plan(plan, 128, 128, 2, sink_tokens=sinks)


def test_share_kv_group(rng):
    q, k, v = ref.random_qkv(rng, 256, 256, 8, 2, 64)
    out, plan = sampleattn.attention(q, k, v, share_kv_group=True, return_plan=True, **SPARSE)
    check_plan(plan, 256, 256, 8)
    for g in range(2):
        first = plan.heads[4 * g]
        for h in plan.heads[4 * g:4 * g + 4]:
            np.testing.assert_array_equal(h.indices, first.indices)
    want, _ = ref.attention(q, k, v, masks=[ref.plan_mask(h, 256, 256) for h in plan.heads])
    assert ref.rel_l2(out, want) <= 1e-5


def test_short_sequences_fall_back_to_dense(rng):
    """S_k below the default min_seq_len (1024): every head is dense, output = dense."""
    q, k, v = ref.random_qkv(rng, 100, 100, 4, 2, 64)
    out, plan, st = sampleattn.attention(q, k, v, return_plan=True, stats=True)
    assert all(h.dense for h in plan.heads) and plan.density == 1
    assert st["fallback_reason"] == 1 and st["n_dense_heads"] == 4
    np.testing.assert_array_equal(out, sampleattn.attention(q, k, v, mode="dense"))


def test_dense_mode_plan(rng):
    q, k, v = ref.random_qkv(rng, 64, 64, 2, 2, 64)
    out, plan = sampleattn.attention(q, k, v, mode="dense", return_plan=True)
    assert all(h.dense and h.density == 1 and h.indices.size == 0 for h in plan.heads)
    np.testing.assert_array_equal(out, sampleattn.attention(q, k, v, mode="dense"))


def test_alpha_one_and_tiny(rng):
    q, k, v = ref.random_qkv(rng, 200, 200, 2, 2, 64)
    _, lo = sampleattn.attention(q, k, v, alpha=0.3, return_plan=True, **SPARSE)
    _, hi = sampleattn.attention(q, k, v, alpha=1.0, return_plan=True, **SPARSE)
    check_plan(lo, 200, 200, 2)
    check_plan(hi, 200, 200, 2)
    assert lo.kept_entries <= hi.kept_entries


def test_plan_apply_close_and_mismatch(rng):
    q, k, v = ref.random_qkv(rng, 128, 128, 4, 2, 64)
    out, plan = sampleattn.attention(q, k, v, return_plan=True, **SPARSE)
    np.testing.assert_array_equal(plan.apply(q, k, v), out)
    # the same plan on other values of the same shapes
    v2 = (v * 2).astype(np.float32)
    masks = [ref.plan_mask(h, 128, 128) for h in plan.heads]
    out2, lse2 = plan.apply(q, k, v2, return_lse=True)
    want, want_lse = ref.attention(q, k, v2, masks=masks)
    assert ref.rel_l2(out2, want) <= 1e-5
    np.testing.assert_allclose(lse2, want_lse, rtol=1e-5, atol=1e-5)
    with pytest.raises(sampleattn.SampleAttnError) as e:
        plan.apply(q[:64], k, v)
    assert e.value.status == 18 and e.value.status_name == "SA_ERR_PLAN_MISMATCH"
    plan.close()
    plan.close()                              # idempotent
    assert plan.closed and plan.heads[0].indices.size > 0   # data stays readable
    with pytest.raises(sampleattn.SampleAttnError):
        plan.apply(q, k, v)


def test_plans_are_freed(rng):
    q, k, v = ref.random_qkv(rng, 64, 64, 2, 2, 64)
    for _ in range(200):
        _, plan = sampleattn.attention(q, k, v, return_plan=True, **SPARSE)
        del plan
    gc.collect()


def test_stats_sparse(rng):
    q, k, v = ref.random_qkv(rng, 256, 256, 4, 2, 64)
    _, plan, st = sampleattn.attention(q, k, v, return_plan=True, stats=True, **SPARSE)
    assert st["mode"] == 1 and st["n_heads"] == 4
    assert st["kept_entries"] == plan.kept_entries
    assert st["density"] == pytest.approx(plan.density)
    assert st["cra_estimate"] == pytest.approx(np.mean([h.cra_mean for h in plan.heads]))


def test_slash_mode_plan_and_mask():
    """SA_MODE_SAMPLE_SLASH: block-structured plan; output exact over the plan's mask."""
    rng = np.random.default_rng(21)
    q = rng.standard_normal((4, 260, 64)).astype(np.float32)
    k = rng.standard_normal((2, 300, 64)).astype(np.float32)
    v = rng.standard_normal((2, 300, 64)).astype(np.float32)
    out, plan = sampleattn.attention(q, k, v, mode="sample_slash", layout="hsd", return_plan=True,
                                     min_seq_len=0, force_sparse=True, block_size=32,
                                     alpha_column=0.7, alpha_slash=0.5)
    for h, head in enumerate(plan.heads):
        assert head.block_size == 32 and head.window == 0
        assert head.slash_blocks[0] == 0 and list(head.indices[:32]) == list(range(32))
        assert np.all(np.diff(head.indices) > 0) and head.indices[-1] < 300
        mask = plan.mask(h)
        np.testing.assert_array_equal(plan.mask(h, rows=[0, 130, 259]), mask[[0, 130, 259]])
        g = h // 2
        s = (q[h] @ k[g].T).astype(np.float64) / 8.0
        s[~mask] = -np.inf
        p = np.exp(s - s.max(axis=1, keepdims=True))
        ref = (p / p.sum(axis=1, keepdims=True)) @ v[g].astype(np.float64)
        assert np.linalg.norm(out[h] - ref) / np.linalg.norm(ref) < 1e-5


def copy_case(s=1536, offset=700, span=(1000, 1400), seed=5):
    """Q/K/V shaped like a real head: rows attend mostly to key 0 (q += 4 k_0), except the rows
    of `span`, which are 4 x the key `offset` back (a passage the text repeats)."""
    rng = np.random.default_rng(seed)
    k = rng.uniform(-1, 1, (2, s, 64)).astype(np.float32)
    v = rng.uniform(-1, 1, (2, s, 64)).astype(np.float32)
    q = rng.uniform(-1, 1, (2, s, 64)).astype(np.float32) + 4 * k[:, :1]
    rows = np.arange(*span)
    q[:, rows] = 4 * k[:, rows - offset]
    return q, k, v


def test_diagonal_stripes_keep_a_repeated_passage():
    """Seed mode's diagonals: the passage's rows keep their key; max_diagonals=0 (the paper's
    mask) loses it. Output exact over the plan's mask either way. alpha_correction=0: the rows'
    other attention is random, which the held-out check would answer with dense heads."""
    q, k, v = copy_case()
    rows = np.arange(1000, 1400)
    with_diagonals = []
    for max_diagonals in (64, 0):
        out, lse, plan = sampleattn.attention(q, k, v, layout="hsd", return_lse=True,
                                              return_plan=True, max_diagonals=max_diagonals,
                                              alpha_correction=0)
        check_plan(plan, 1536, 1536, 2)
        masks = [ref.plan_mask(h, 1536, 1536) for h in plan.heads]
        want, want_lse = ref.attention(q.transpose(1, 0, 2), k.transpose(1, 0, 2),
                                       v.transpose(1, 0, 2), masks=masks)
        np.testing.assert_allclose(out.transpose(1, 0, 2), want, rtol=0, atol=2e-5)
        _, dense_lse = ref.attention(q.transpose(1, 0, 2), k.transpose(1, 0, 2), v.transpose(1, 0, 2))
        for h, head in enumerate(plan.heads):
            cra = np.exp(want_lse[h, rows] - dense_lse[h, rows])    # kept share of the dense mass
            if max_diagonals:
                assert head.block_size == 1 and 700 in head.slash_blocks
                assert len(head.slash_blocks) <= max_diagonals
                assert cra.mean() > 0.85
                with_diagonals.append(cra.mean())
            else:
                assert head.block_size == 0 and len(head.slash_blocks) == 0
                assert cra.mean() < with_diagonals[h] - 0.3


def test_per_head_window_is_one_of_the_candidates(rng):
    """min_window: each head's window is ceil(window_ratio * S_k), its doubling or a halving
    (rounded up) not below min_window (60: 120, 60, 30, 15, 8 for min_window 8); min_window=0
    keeps the fixed window. The output stays
    exact over each head's own mask."""
    s, h_q, h_kv, d = 600, 4, 2, 64
    q, k, v = ref.random_qkv(rng, s, s, h_q, h_kv, d)
    for min_window, allowed in ((8, {120, 60, 30, 15, 8}), (40, {120, 60}), (0, {60}),
                                (1, {120, 60, 30, 15, 8, 4, 2, 1})):
        out, plan = sampleattn.attention(q, k, v, window_ratio=0.1, min_window=min_window,
                                         return_plan=True, **SPARSE)
        with plan:
            check_plan(plan, s, s, h_q)
            windows = {hp.window for hp in plan.heads if not hp.dense}
            assert windows <= allowed, (min_window, windows)
            masks = [ref.plan_mask(hp, s, s) for hp in plan.heads]
        want, _ = ref.attention(q, k, v, masks=masks)
        np.testing.assert_allclose(out, want, rtol=0, atol=2e-5)


def test_negative_window_floor_or_rank_prior_is_refused(rng):
    q, k, v = ref.random_qkv(rng, 300, 300, 4, 2, 64)
    for field in ("min_window", "rank_prior_rows"):
        with pytest.raises(sampleattn.SampleAttnError) as e:
            sampleattn.attention(q, k, v, **{field: -1}, **SPARSE)
        assert e.value.status_name == "SA_ERR_INVALID_PARAM" and field in str(e.value)
