"""SampleAttention inside Hugging Face ``transformers`` models (CPU prefill).

    import sampleattn.hf
    sampleattn.hf.register()                        # name "sampleattn", alpha 0.95
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sampleattn")
    # or, on a loaded model:  model.set_attn_implementation("sampleattn")
    #                    or:  model.config._attn_implementation = "sampleattn"

``register()`` adds an attention function to transformers' ``AttentionInterface`` (and the
matching causal-mask builder to ``AttentionMaskInterface``, so that padding still produces a
mask we can see). The function has transformers' signature
``(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs)`` with
query ``[B, H, S_q, d]``, key/value ``[B, H_kv, S_k, d]`` and returns ``([B, S_q, H, d], None)``.

Prefill calls (``S_q >= max(2, min_prefill)``) run ``sampleattn.attention`` once per batch
element on head-major (``"hsd"``) views of the tensors, GQA natively (no ``repeat_kv``), writing
straight into the ``[B, S_q, H, d]`` output (no copies for float32/float16 CPU tensors; bfloat16
needs ``ml_dtypes``). Everything else goes to transformers' own ``sdpa`` function: decode steps
(``S_q == 1``), short prefills, masks that are not plain causal (padding, packing, custom
patterns), sliding-window layers, non-causal modules, dropout, autograd, non-CPU tensors,
unsupported dtypes or head dims, and extra terms (softcap, position bias, attention sinks).
``fn.fallbacks`` counts why.

torch and transformers are imported only when ``register()`` (or the function) is called.
"""
from __future__ import annotations

import collections
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional

from . import api

__all__ = ["register", "unregister", "registered", "SampleAttentionFunction", "is_causal_mask"]

# keyword arguments that change what attention computes; we can't honour them -> sdpa
_UNSUPPORTED_KWARGS = ("softcap", "position_bias", "s_aux", "sinks", "alibi_slopes", "head_mask")
_OPTION_NAMES = ("window_ratio", "sample_ratio", "sink_tokens", "min_seq_len", "max_density",
                 "share_kv_group", "force_sparse", "min_stripes", "max_stripes", "sample_group",
                 "max_diagonals", "alpha_correction", "alpha_column", "alpha_slash", "chunk_n",
                 "block_size", "precision", "min_window",
                 "rank_prior_rows")


def _sdpa_function() -> Callable:
    """transformers' own sdpa attention function (not whatever is registered as "sdpa" now)."""
    try:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        return sdpa_attention_forward
    except ImportError:  # pragma: no cover - very old / reorganised transformers
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        return ALL_ATTENTION_FUNCTIONS["sdpa"]


def is_causal_mask(mask, s_q: int, s_k: int) -> bool:
    """True when a 4-D transformers mask ``[B, 1|H, S_q, S_k]`` is exactly the causal mask with
    queries at the last ``S_q`` positions (row i sees keys j <= S_k - S_q + i) for every batch
    element and head: boolean (True = attend) or additive float (0 = attend, a huge negative
    value or -inf = masked). Anything else (padding, packed sequences, biases) is False."""
    import torch
    if mask.dim() != 4 or mask.shape[-2] != s_q or mask.shape[-1] != s_k:
        return False
    rows = torch.arange(s_k - s_q, s_k, device=mask.device)[:, None]
    causal = torch.arange(s_k, device=mask.device)[None, :] <= rows          # [S_q, S_k]
    if mask.dtype == torch.bool:
        return bool(torch.equal(mask, causal.expand_as(mask)))
    if not mask.is_floating_point():
        return False
    neg = torch.finfo(mask.dtype).min / 2
    # allowed entries exactly 0, masked entries hugely negative (finfo.min or -inf)
    return bool(torch.all(torch.where(causal, mask == 0, mask <= neg)))


class SampleAttentionFunction:
    """The registered attention function (callable with transformers' signature).

    Attributes: ``name``, ``alpha``, ``mode``, ``min_prefill``, ``threads`` (None = torch's
    thread count at call time), ``options`` (passed to ``sampleattn.attention``),
    ``calls`` (prefill calls run by sampleattn), ``fallbacks`` (Counter of reasons for sdpa),
    ``stats`` (list of per-call dicts when ``record_stats``: layer, S_q, S_k, and sa_stats).
    """

    def __init__(self, name: str, alpha: float, min_prefill: int, mode: str,
                 threads: Optional[int], record_stats: bool, options: Dict[str, Any]):
        unknown = sorted(set(options) - set(_OPTION_NAMES))
        if unknown:
            raise TypeError("unknown sampleattn option(s) %s (known: %s)"
                            % (", ".join(unknown), ", ".join(_OPTION_NAMES)))
        api._mode(mode)          # validate early (raises SampleAttnError)
        self.name = name
        self.alpha = float(alpha)
        self.mode = mode
        self.min_prefill = int(min_prefill)
        self.threads = threads
        self.options = dict(options)
        self.record_stats = bool(record_stats)
        self.calls = 0
        self.fallbacks: collections.Counter = collections.Counter()
        self.stats: List[Dict[str, Any]] = []
        self._sdpa = None
        self._lock = threading.Lock()
        self._mask_memo = None   # (weakref to the last mask checked, S_q, S_k, verdict)

    def reset(self) -> None:
        """Clears ``calls``, ``fallbacks`` and ``stats``."""
        with self._lock:
            self.calls = 0
            self.fallbacks.clear()
            self.stats = []

    def __repr__(self):
        return ("SampleAttentionFunction(name=%r, mode=%r, alpha=%g, min_prefill=%d, options=%r)"
                % (self.name, self.mode, self.alpha, self.min_prefill, self.options))

    # ------------------------------------------------------------ dispatch
    def _causal(self, mask, s_q, s_k) -> bool:
        memo = self._mask_memo   # the same mask object is passed to every layer of a forward
        if memo is not None and memo[0]() is mask and memo[1:3] == (s_q, s_k):
            return memo[3]
        verdict = is_causal_mask(mask, s_q, s_k)
        try:
            self._mask_memo = (weakref.ref(mask), s_q, s_k, verdict)
        except TypeError:        # pragma: no cover - not weak-referenceable
            self._mask_memo = None
        return verdict

    def _why_not(self, module, query, key, value, attention_mask, dropout, kwargs) -> Optional[str]:
        """None when sampleattn can run this call, else the reason for falling back to sdpa."""
        import torch
        if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
            return "shape"
        b, h_q, s_q, d = query.shape
        s_k = key.shape[2]
        if s_q == 1:
            return "decode"
        if s_q < self.min_prefill:
            return "short"
        if kwargs.get("output_attentions"):
            return "output_attentions"
        if any(kwargs.get(name) is not None for name in _UNSUPPORTED_KWARGS):
            return "unsupported_kwarg"
        if kwargs.get("sliding_window") is not None:
            return "sliding_window"
        is_causal = kwargs.get("is_causal")
        if is_causal is None:
            is_causal = getattr(module, "is_causal", True)
        if not is_causal:
            return "not_causal"
        if dropout:
            return "dropout"
        if torch.is_grad_enabled() and (query.requires_grad or key.requires_grad
                                        or value.requires_grad):
            return "autograd"
        if any(t.device.type != "cpu" for t in (query, key, value)):
            return "device"
        if not (query.dtype == key.dtype == value.dtype):
            return "dtype"
        if query.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            return "dtype"
        if key.shape[0] != b or value.shape[0] != b or value.shape[2] != s_k:
            return "shape"
        if key.shape[3] != d or value.shape[3] != d or d % 8 or d > 256:
            return "head_dim"
        h_kv = key.shape[1]
        if value.shape[1] != h_kv or h_q % h_kv:
            return "gqa"
        if attention_mask is not None:
            if s_q > s_k or not self._causal(attention_mask, s_q, s_k):
                return "mask"
        elif s_q > s_k:
            return "shape"
        return None

    def __call__(self, module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                 **kwargs):
        reason = self._why_not(module, query, key, value, attention_mask, dropout, kwargs)
        if reason is not None:
            with self._lock:
                self.fallbacks[reason] += 1
            if self._sdpa is None:
                self._sdpa = _sdpa_function()
            return self._sdpa(module, query, key, value, attention_mask, dropout=dropout,
                              scaling=scaling, **kwargs)
        import torch
        b, h_q, s_q, d = query.shape
        if attention_mask is None and key.shape[2] > s_q:
            # transformers' convention (sdpa's is_causal): no mask means upper-left alignment,
            # which only happens for a prefill into an empty static cache -> keys past S_q unused
            key, value = key[:, :, :s_q], value[:, :, :s_q]
        threads = torch.get_num_threads() if self.threads is None else self.threads
        out = torch.empty((b, s_q, h_q, d), dtype=query.dtype, device=query.device)
        for i in range(b):
            res = api.attention(query[i], key[i], value[i], mode=self.mode, alpha=self.alpha,
                                scale=scaling, layout="hsd", threads=threads,
                                out=out[i].transpose(0, 1), stats=self.record_stats,
                                **self.options)
            if self.record_stats:
                st = res[1]
                st.update(layer=getattr(module, "layer_idx", None), batch=i, s_q=s_q,
                          s_k=int(key.shape[2]))
                with self._lock:
                    self.stats.append(st)
        with self._lock:
            self.calls += 1
        return out, None


_registry: Dict[str, SampleAttentionFunction] = {}

# Options this integration sets unless the caller does. A whole model compounds the error of
# every layer, so it needs a better column estimate than one call: sampling 10% of the rows
# (the library's default is the paper's 5%) took Qwen2.5-Coder-0.5B's perplexity at alpha 0.95
# from +1.37% to +0.11% of dense on 8K tokens of code and from +1.42% to +0.77% on 16K, for
# +4% forward time at 16K (docs/DIAGONALS.md, bench/e2e.py).
DEFAULT_OPTIONS = {"sample_ratio": 0.1}


def register(name: str = "sampleattn", alpha: float = 0.95, min_prefill: int = 2048, *,
             mode: str = "sample", threads: Optional[int] = None, record_stats: bool = False,
             **options) -> SampleAttentionFunction:
    """Registers a SampleAttention function as ``attn_implementation=name`` and returns it.

    alpha: the CRA target of SampleAttention. min_prefill: prefill calls with fewer query rows
    use sdpa (the library itself also computes S_k < ``min_seq_len`` densely, see its defaults).
    mode: "sample", "sample_slash" (or "slash") or "dense" (the library's exact kernel; for
    checking). threads: None = torch's current thread count. record_stats: keep each call's
    sa_stats in ``fn.stats``. options: ``sampleattn.attention`` keywords (window_ratio,
    sample_ratio (default here 0.1, see ``DEFAULT_OPTIONS``), sink_tokens, min_seq_len,
    max_density, share_kv_group, force_sparse, min_stripes, max_stripes, sample_group,
    max_diagonals, alpha_correction, min_window, rank_prior_rows; for the slash mode also
    alpha_column, alpha_slash, chunk_n, block_size); None = the library's default.
    Registering a name again replaces the function.
    """
    from transformers import AttentionInterface
    fn = SampleAttentionFunction(name, alpha, min_prefill, mode, threads, record_stats,
                                 {**DEFAULT_OPTIONS, **options})
    AttentionInterface.register(name, fn)
    try:
        # transformers >= 4.53 builds masks per implementation; without an entry it passes no
        # mask at all (so padding would go unseen). sdpa's builder returns None for plain causal
        # inputs and a boolean mask otherwise (padding, chunked prefill against a cache).
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
        AttentionMaskInterface.register(name, sdpa_mask)
    except ImportError:  # pragma: no cover - older transformers: a 4-D float mask is passed
        pass
    _registry[name] = fn
    return fn


def unregister(name: str = "sampleattn") -> None:
    """Removes a name registered by :func:`register` (no-op if it was not)."""
    if _registry.pop(name, None) is None:
        return
    from transformers import AttentionInterface
    AttentionInterface._global_mapping.pop(name, None)
    try:
        from transformers.masking_utils import AttentionMaskInterface
        AttentionMaskInterface._global_mapping.pop(name, None)
    except ImportError:  # pragma: no cover
        pass


def registered(name: str = "sampleattn") -> Optional[SampleAttentionFunction]:
    """The function registered under ``name`` by :func:`register`, or None."""
    return _registry.get(name)
