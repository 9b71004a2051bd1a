"""float64 numpy oracle for the tests (token-major (S, H, d) arrays)."""
import numpy as np


def causal_mask(s_q, s_k):
    """(s_q, s_k) bool: query row i sits at position s_k - s_q + i and sees keys j <= it."""
    pos = np.arange(s_k - s_q, s_k)[:, None]
    return np.arange(s_k)[None, :] <= pos


def plan_mask(head, s_q, s_k):
    """The documented mask of one plan head, built independently of Plan.mask: a row at
    position p keeps p - window < j <= p, the selected indices j <= p - window, and the keys
    j <= p whose offset p // block_size - j // block_size is one of its slash_blocks (seed heads'
    diagonal stripes, block_size 1); a dense head keeps every causal key."""
    causal = causal_mask(s_q, s_k)
    if head.dense:
        return causal
    pos = np.arange(s_k - s_q, s_k)
    m = np.zeros((s_q, s_k), dtype=bool)
    for i, p in enumerate(pos):
        m[i, max(0, p - head.window + 1):p + 1] = True
        sel = head.indices[head.indices <= p - head.window]
        m[i, sel] = True
        for off in (head.slash_blocks if head.block_size else ()):
            first = (p // head.block_size - off) * head.block_size
            if first >= 0:
                m[i, first:first + head.block_size] = True
    return m & causal


def attention(q, k, v, scale=None, masks=None):
    """Returns (out float64 (S_q, H_q, d), lse float64 (H_q, S_q)). masks: per-head (S_q, S_k)
    bool arrays (AND-ed with causal), or None for dense causal. Query head h uses K/V head
    h // (H_q // H_kv)."""
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    s_q, h_q, d = q.shape
    s_k, h_kv, _ = k.shape
    group = h_q // h_kv
    scale = 1.0 / np.sqrt(d) if scale is None else scale
    causal = causal_mask(s_q, s_k)
    out = np.empty((s_q, h_q, d))
    lse = np.empty((h_q, s_q))
    for h in range(h_q):
        logits = (q[:, h] @ k[:, h // group].T) * scale
        m = causal if masks is None else (causal & masks[h])
        logits = np.where(m, logits, -np.inf)
        mx = logits.max(axis=1, keepdims=True)
        p = np.exp(logits - mx)
        s = p.sum(axis=1, keepdims=True)
        out[:, h] = (p @ v[:, h // group]) / s
        lse[h] = (mx + np.log(s))[:, 0]
    return out, lse


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def random_qkv(rng, s_q, s_k, h_q, h_kv, d, dtype=np.float32, stripes=8):
    """Seeded random data, never zeros. ``stripes`` random key positions per K/V head get a
    component along a direction the queries share, so attention has a few strong columns (a
    shape SampleAttention can exploit) besides the diagonal-free Gaussian background."""
    q = rng.standard_normal((s_q, h_q, d))
    k = rng.standard_normal((s_k, h_kv, d))
    v = rng.standard_normal((s_k, h_kv, d))
    if stripes:
        u = rng.standard_normal(d)
        u *= np.sqrt(d) / np.linalg.norm(u)
        q += 0.5 * u
        for h in range(h_kv):
            cols = rng.choice(s_k, size=min(stripes, s_k), replace=False)
            k[cols, h] += 1.0 * u
    return q.astype(dtype), k.astype(dtype), v.astype(dtype)
