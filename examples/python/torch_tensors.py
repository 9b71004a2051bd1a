#!/usr/bin/env python3
"""sampleattn with PyTorch CPU tensors (tensors in, tensors out, no copies), checked against
torch.nn.functional.scaled_dot_product_attention.

    python examples/python/torch_tensors.py

PyTorch is optional: without it this prints a message and exits 0.
Library: $SAMPLEATTN_LIBRARY, else the repo's build (build/ or .build/release/), else the system.
"""
import os
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("PyTorch is not installed: nothing to show (pip install torch --index-url "
          "https://download.pytorch.org/whl/cpu to run this example).")
    sys.exit(0)

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


def sdpa(q, k, v, attn_mask=None, is_causal=False):
    """Reference: q (S_q, H_q, d), k/v (S_k, H_kv, d) -> (S_q, H_q, d) via SDPA on (1, H, S, d)."""
    qb, kb, vb = (x.permute(1, 0, 2).unsqueeze(0) for x in (q, k, v))
    try:
        o = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=attn_mask, is_causal=is_causal,
                                           enable_gqa=True)
    except TypeError:  # torch < 2.5: no enable_gqa, expand the K/V heads
        g = q.shape[1] // k.shape[1]
        kb, vb = kb.repeat_interleave(g, dim=1), vb.repeat_interleave(g, dim=1)
        o = F.scaled_dot_product_attention(qb, kb, vb, attn_mask=attn_mask, is_causal=is_causal)
    return o.squeeze(0).permute(1, 0, 2)


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm())


def main():
    torch.manual_seed(0)
    s, h_q, h_kv, d = 1024, 8, 2, 64
    q = torch.randn(s, h_q, d)                  # float32, token-major (S, H, d)
    k = torch.randn(s, h_kv, d)
    v = torch.randn(s, h_kv, d)
    print("torch %s, sampleattn %s (library %s)" % (torch.__version__, sampleattn.__version__,
                                                    sampleattn.version()))

    # 1. Full causal prefill. The library reads the tensors' memory in place and writes a new
    #    tensor (torch in, torch out; numpy arrays in give numpy arrays out).
    out = sampleattn.attention(q, k, v, mode="dense")
    assert isinstance(out, torch.Tensor)
    want = sdpa(q, k, v, is_causal=True)
    print("dense, causal prefill (S=%d, H_q=%d, H_kv=%d): rel L2 vs SDPA %.2e" % (s, h_q, h_kv, rel_l2(out, want)))
    assert rel_l2(out, want) < 1e-5

    # The same through numpy views of the same memory.
    out2 = sampleattn.attention(q.numpy(), k.numpy(), v.numpy(), mode="dense")
    assert np.array_equal(out2, out.numpy())

    # 2. Chunked prefill: 256 new queries against a 1024-token cache held as a slice of a
    #    larger head-major cache tensor [H_kv, max_tokens, d] (a strided view, still no copy).
    #    sampleattn puts query i at position S_k - S_q + i; SDPA's is_causal aligns top-left,
    #    so the reference gets the equivalent explicit mask.
    cache_k = torch.zeros(h_kv, 4096, d)
    cache_v = torch.zeros(h_kv, 4096, d)
    cache_k[:, :s] = k.permute(1, 0, 2)
    cache_v[:, :s] = v.permute(1, 0, 2)
    k_view, v_view = cache_k[:, :s], cache_v[:, :s]              # (H_kv, S_k, d) views
    q_new = q[-256:].permute(1, 0, 2)                              # (H_q, S_q, d) view
    out_c = sampleattn.attention(q_new, k_view, v_view, mode="dense", layout="hsd")
    pos = torch.arange(s - 256, s)[:, None]
    mask = torch.arange(s)[None, :] <= pos
    want_c = sdpa(q[-256:], k, v, attn_mask=mask)
    err_c = rel_l2(out_c.permute(1, 0, 2), want_c)
    print("dense, chunked prefill (S_q=256 of S_k=%d, head-major cache views): rel L2 vs SDPA %.2e"
          % (s, err_c))
    assert err_c < 1e-5

    # 3. SampleAttention and timing (random data has no attention structure to exploit, so the
    #    sample mode keeps much of it here; see sample_attention_demo.py for real inputs).
    s2 = 4096
    q2, k2, v2 = torch.randn(s2, h_q, d), torch.randn(s2, h_kv, d), torch.randn(s2, h_kv, d)
    t = time.perf_counter()
    ref2 = sdpa(q2, k2, v2, is_causal=True)
    t_sdpa = time.perf_counter() - t
    t = time.perf_counter()
    dense2 = sampleattn.attention(q2, k2, v2, mode="dense")
    t_dense = time.perf_counter() - t
    t = time.perf_counter()
    sample2, plan = sampleattn.attention(q2, k2, v2, mode="sample", return_plan=True)
    t_sample = time.perf_counter() - t
    print("S=%d: SDPA %.0f ms, sampleattn dense %.0f ms (rel L2 vs SDPA %.2e), sample %.0f ms "
          "(plan density %.3f, %d/%d heads dense, rel L2 vs dense %.2e)"
          % (s2, t_sdpa * 1e3, t_dense * 1e3, rel_l2(dense2, ref2), t_sample * 1e3,
             plan.density, plan.n_dense_heads, plan.n_heads, rel_l2(sample2, dense2)))
    plan.close()


if __name__ == "__main__":
    main()
