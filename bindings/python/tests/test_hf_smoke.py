"""sampleattn.hf inside a real transformers model (SmolLM2-135M-Instruct, GGUF, a few hundred
tokens): the library's dense mode reproduces sdpa's logits, sample mode (forced sparse) gives
finite logits and a perplexity close to dense, and decode steps / padding masks fall back to sdpa.

Needs torch, transformers and gguf, and the model file: $SAMPLEATTN_SMOLLM2_GGUF, else
<repo>/../realdata/models/SmolLM2-135M-Instruct.Q4_1.gguf (see ../shared/tools/get_real_models.sh).
Without them the tests are SKIPPED with the reason (never counted as passed), or fail when
SAMPLEATTN_REQUIRE_HF=1 (as `make test`, which installs them all, sets it). The full
evaluation at 4K-16K tokens is bench/e2e.py (`make e2e`).
"""
import math
import os
import pathlib

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")

from conftest import REPO  # noqa: E402

MODEL = pathlib.Path(os.environ.get(
    "SAMPLEATTN_SMOLLM2_GGUF", REPO.parent / "realdata" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
N_TOKENS = 320


def _missing(reason):
    """Skips with the reason, or fails when SAMPLEATTN_REQUIRE_HF=1 (make test installs all)."""
    if os.environ.get("SAMPLEATTN_REQUIRE_HF") == "1":
        pytest.fail(reason + "; SAMPLEATTN_REQUIRE_HF=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def smollm():
    for name, why in (("transformers", "transformers is not installed (pip install transformers gguf)"),
                      ("gguf", "gguf is not installed (needed to load the GGUF model)")):
        try:
            __import__(name)
        except ImportError:
            _missing(why)
    if not MODEL.is_file():
        _missing("model file not present: %s (set SAMPLEATTN_SMOLLM2_GGUF or run "
                 "shared/tools/get_real_models.sh)" % MODEL)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    tok = AutoTokenizer.from_pretrained(MODEL.parent, gguf_file=MODEL.name)
    model = AutoModelForCausalLM.from_pretrained(MODEL.parent, gguf_file=MODEL.name,
                                                 dtype=torch.float32).eval()
    from pydoc_data.topics import topics          # real English prose shipped with CPython
    text = "\n\n".join(topics[k] for k in sorted(topics)[:40])
    ids = tok(text, return_tensors="pt").input_ids[:, :N_TOKENS]
    assert ids.shape[1] == N_TOKENS
    return tok, model, ids


def forward(model, impl, ids, **kw):
    model.set_attn_implementation(impl)
    with torch.no_grad():
        return model(input_ids=ids, **kw)


def ppl(logits, ids):
    nll = torch.nn.functional.cross_entropy(logits[0, :-1].float(), ids[0, 1:])
    return math.exp(nll.item())


@pytest.fixture(scope="module")
def sdpa_logits(smollm):
    _, model, ids = smollm
    return forward(model, "sdpa", ids).logits


def test_is_causal_mask():
    from sampleattn.hf import is_causal_mask
    s_q, s_k = 3, 5
    causal = torch.arange(s_k)[None, :] <= torch.arange(s_k - s_q, s_k)[:, None]
    m = causal[None, None].expand(2, 1, s_q, s_k)
    assert is_causal_mask(m, s_q, s_k)
    padded = m.clone()
    padded[1, :, :, 0] = False                     # a left-padded sequence
    assert not is_causal_mask(padded, s_q, s_k)
    assert not is_causal_mask(m, s_q, s_k + 1)
    f = torch.zeros(1, 1, s_q, s_k).masked_fill(~causal, torch.finfo(torch.float32).min)
    assert is_causal_mask(f, s_q, s_k)
    assert not is_causal_mask(f + 0.5 * causal, s_q, s_k)   # a bias is not plain causal


def test_dense_mode_matches_sdpa(smollm, sdpa_logits):
    import sampleattn.hf as sahf
    _, model, ids = smollm
    fn = sahf.register("test_sa_dense", mode="dense", min_prefill=2, min_seq_len=0)
    try:
        logits = forward(model, "test_sa_dense", ids).logits
    finally:
        model.set_attn_implementation("sdpa")
        sahf.unregister("test_sa_dense")
    assert fn.calls == model.config.num_hidden_layers and not fn.fallbacks
    err = (logits - sdpa_logits).abs().max().item()
    assert err < 2e-3 * sdpa_logits.abs().max().item(), err
    assert abs(ppl(logits, ids) / ppl(sdpa_logits, ids) - 1) < 1e-4


def test_sample_mode_runs_and_ppl_is_sane(smollm, sdpa_logits):
    import sampleattn.hf as sahf
    _, model, ids = smollm
    fn = sahf.register("test_sa_sample", alpha=0.95, min_prefill=2, min_seq_len=0,
                       force_sparse=True, record_stats=True)
    try:
        logits = forward(model, "test_sa_sample", ids).logits
    finally:
        model.set_attn_implementation("sdpa")
        sahf.unregister("test_sa_sample")
    assert fn.calls == model.config.num_hidden_layers and not fn.fallbacks
    assert torch.isfinite(logits).all()
    density = sum(s["kept_entries"] for s in fn.stats) / sum(s["causal_entries"] for s in fn.stats)
    assert density < 0.95, density                 # the sparse path really ran
    p_dense, p_sample = ppl(sdpa_logits, ids), ppl(logits, ids)
    # at 320 tokens the window is ~26 keys: some loss is expected, a broken kernel gives far more
    assert p_dense <= p_sample * 1.02 and p_sample < 1.5 * p_dense, (p_dense, p_sample)


@pytest.mark.filterwarnings("ignore:`past_key_values` is deprecated")
def test_decode_and_chunked_prefill(smollm):
    """Prefill + a second prefill chunk against the cache (a causal mask with an offset: runs
    in sampleattn) + decode steps (sdpa), all equal to sdpa within float32 noise."""
    import sampleattn.hf as sahf
    from transformers import DynamicCache
    _, model, ids = smollm
    fn = sahf.register("test_sa_chunked", mode="dense", min_prefill=2, min_seq_len=0)

    def run(impl):
        model.set_attn_implementation(impl)
        cache = DynamicCache(config=model.config)
        outs = []
        with torch.no_grad():
            for a, b in ((0, 200), (200, N_TOKENS - 1), (N_TOKENS - 1, N_TOKENS)):
                outs.append(model(input_ids=ids[:, a:b], past_key_values=cache,
                                  use_cache=True).logits)
        return torch.cat(outs, dim=1)

    try:
        ref = run("sdpa")
        got = run("test_sa_chunked")
    finally:
        model.set_attn_implementation("sdpa")
        sahf.unregister("test_sa_chunked")
    layers = model.config.num_hidden_layers
    assert fn.calls == 2 * layers and fn.fallbacks == {"decode": layers}, (fn.calls, fn.fallbacks)
    assert (got - ref).abs().max().item() < 2e-3 * ref.abs().max().item()


def test_padding_falls_back_to_sdpa(smollm):
    import sampleattn.hf as sahf
    tok, model, ids = smollm
    fn = sahf.register("test_sa_pad", min_prefill=2, min_seq_len=0, force_sparse=True)
    batch = torch.cat([ids[:, :64], torch.cat([torch.full((1, 8), tok.pad_token_id or 0),
                                               ids[:, :56]], dim=1)])
    mask = torch.ones_like(batch)
    mask[1, :8] = 0
    try:
        ref = forward(model, "sdpa", batch, attention_mask=mask).logits
        got = forward(model, "test_sa_pad", batch, attention_mask=mask).logits
    finally:
        model.set_attn_implementation("sdpa")
        sahf.unregister("test_sa_pad")
    assert fn.calls == 0 and fn.fallbacks == {"mask": model.config.num_hidden_layers}
    assert torch.equal(got, ref)
