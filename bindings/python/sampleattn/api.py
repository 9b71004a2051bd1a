"""The Python layer: ``attention()``, ``Plan``, ``SampleAttnError``, ``version()``, ``features()``.

numpy arrays in give numpy arrays out; torch tensors in (q decides) give torch tensors out, on
q's device. Inputs are passed to the library as strided views of the caller's memory (no copies)
whenever the sa_tensor view can describe them: CPU memory, last dimension unit-stride,
non-negative strides that are whole elements, aligned data, no self-overlap, and a dtype the
library reads (float32, float16, bfloat16: torch's, or numpy's from ``ml_dtypes``). Anything
else is copied once into a contiguous array (other real dtypes are converted to float32, and
then the output is float32 too). Every option left at ``None`` takes the library's default
(``sa_params_init``).
"""
from __future__ import annotations

import operator
import sys
import threading
from ctypes import POINTER, byref, c_float, c_int64, c_uint64, c_void_p, sizeof
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np

if TYPE_CHECKING:
    import torch

from . import _capi
from ._capi import (SA_DTYPE_BF16, SA_DTYPE_F16, SA_DTYPE_F32, SA_ERR_INVALID_DTYPE,
                    SA_ERR_INVALID_MODE, SA_ERR_INVALID_PARAM, SA_ERR_INVALID_SHAPE,
                    SA_ERR_INVALID_STRIDE, SA_ERR_NULL_ARGUMENT, SA_FLAG_FORCE_SPARSE,
                    SA_FLAG_SHARE_KV_GROUP, SA_MODE_DENSE, SA_MODE_SAMPLE, SA_MODE_SAMPLE_SLASH,
                    sa_features, sa_params, sa_plan_head, sa_stats, sa_tensor)

__all__ = ["attention", "Plan", "PlanHead", "SampleAttnError", "version", "version_number",
           "features", "status_string", "library_path", "MODES", "LAYOUTS"]

#: Mode names; "slash" is short for "sample_slash" (the C API's SA_MODE_SAMPLE_SLASH).
MODES = {"dense": SA_MODE_DENSE, "sample": SA_MODE_SAMPLE, "sample_slash": SA_MODE_SAMPLE_SLASH,
         "slash": SA_MODE_SAMPLE_SLASH}
LAYOUTS = ("shd", "hsd")

#: What ``attention`` accepts and returns: a numpy array or a torch tensor (any array-like in).
Array = Union[np.ndarray, "torch.Tensor"]
_LAYOUT_SHAPES = {"shd": "(S, H, d)", "hsd": "(H, S, d)"}


# ---------------------------------------------------------------- errors
def status_string(status: int) -> str:
    """The library's static English description of a status code."""
    try:
        return _capi.lib().sa_status_string(int(status)).decode("utf-8", "replace")
    except OSError:
        return ""


class SampleAttnError(Exception):
    """A failed call. ``status`` is the sa_status code (an int, e.g. 5), ``status_name`` its
    name (``"SA_ERR_GQA_MISMATCH"``), ``message`` the context's detailed last-error message."""

    def __init__(self, status: int, message: Optional[str] = None) -> None:
        self.status = int(status)
        self.status_name = _capi.status_name(self.status)
        self.message = message or status_string(self.status)
        super().__init__("%s (%d): %s" % (self.status_name, self.status, self.message))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.status, self.message))


def _bad(status: int, message: str) -> SampleAttnError:
    return SampleAttnError(status, message)


# ---------------------------------------------------------------- library info
def version() -> str:
    """The loaded library's version string, e.g. ``"0.2.0"``."""
    return _capi.lib().sa_version_string().decode()


def version_number() -> int:
    """``MAJOR*10000 + MINOR*100 + PATCH`` of the loaded library."""
    return int(_capi.lib().sa_version_number())


def library_path() -> str:
    """Path (or SONAME) of the loaded native library."""
    return _capi.library_path()


_PRECISIONS = {"float32": _capi.SA_PRECISION_F32, "bfloat16": _capi.SA_PRECISION_BF16}


def features() -> Dict[str, int]:
    """``sa_get_features`` as a dict: simd_level, openmp, max_threads, max_head_dim,
    head_dim_multiple, isa (SA_ISA_*), cpu_isa_mask (SA_CPU_* bits)."""
    f = sa_features()
    f.struct_size = sizeof(sa_features)
    status = _capi.lib().sa_get_features(byref(f))
    if status != 0:
        raise SampleAttnError(status)
    return {field[0]: getattr(f, field[0]) for field in sa_features._fields_ if field[0] != "struct_size"}


# ---------------------------------------------------------------- contexts
class _Context:
    """An owned sa_context (one per thread and thread count, see ``_context``)."""

    def __init__(self, threads: int) -> None:
        lib = _capi.lib()
        handle = lib.sa_context_new(threads)
        if not handle:
            raise _bad(SA_ERR_INVALID_PARAM,
                       "sa_context_new(%d) failed: threads must be in 0..1024" % threads)
        self.handle = handle
        self.n_threads = int(lib.sa_context_n_threads(handle))
        self.workspace_cache = 0
        self._free = lib.sa_context_free
        self._last_error = lib.sa_context_last_error

    def set_workspace_cache(self, nbytes: int) -> None:
        if nbytes != self.workspace_cache:
            self.check(_capi.lib().sa_context_set_workspace_cache(self.handle, nbytes))
            self.workspace_cache = nbytes

    def workspace_cached(self) -> int:
        n = c_uint64()
        self.check(_capi.lib().sa_context_workspace_cached(self.handle, byref(n)))
        return int(n.value)

    def last_error(self) -> str:
        return (self._last_error(self.handle) or b"").decode("utf-8", "replace")

    def check(self, status: int) -> None:
        if status != 0:
            raise SampleAttnError(status, self.last_error())

    def __del__(self) -> None:
        handle, self.handle = getattr(self, "handle", None), None
        if handle:
            self._free(handle)


_tls = threading.local()
_workspace_cache = 0    # bytes each context keeps between calls (set_workspace_cache)


def set_workspace_cache(nbytes: int) -> None:
    """Keep up to ``nbytes`` of each call's workspace between calls (0, the default, frees it
    after every call), for the contexts this module uses on any thread from now on.

    Repeated calls of similar shapes (an engine's layers) then reuse the memory instead of
    allocating and freeing it; see ``sa_context_set_workspace_cache`` in the C header.
    """
    global _workspace_cache
    try:
        n = operator.index(nbytes)
    except TypeError:
        raise _bad(SA_ERR_INVALID_PARAM, "nbytes must be an int >= 0, got %r" % (nbytes,)) from None
    if not 0 <= n < 2 ** 64:
        raise _bad(SA_ERR_INVALID_PARAM, "nbytes %d must be in 0..2**64-1" % n)
    _workspace_cache = n
    for ctx in getattr(_tls, "contexts", {}).values():
        ctx.set_workspace_cache(n)


def workspace_cached() -> int:
    """Bytes of workspace the calling thread's contexts keep between calls now."""
    return sum(ctx.workspace_cached() for ctx in getattr(_tls, "contexts", {}).values())


def _context(threads: Optional[int]) -> _Context:
    if threads is None:
        threads = 0     # the library's default: OpenMP's thread count
    try:
        n = operator.index(threads)
    except TypeError:
        raise _bad(SA_ERR_INVALID_PARAM, "threads must be an int in 0..1024, got %r" % (threads,)) from None
    if not 0 <= n <= 1024:
        raise _bad(SA_ERR_INVALID_PARAM, "threads %d must be in 0..1024 (0 = OpenMP default)" % n)
    contexts = getattr(_tls, "contexts", None)
    if contexts is None:
        contexts = _tls.contexts = {}
    ctx = contexts.get(n)
    if ctx is None:
        ctx = contexts[n] = _Context(n)
    ctx.set_workspace_cache(_workspace_cache)
    return ctx


# ---------------------------------------------------------------- parameters
def _int32(value: Any, name: str) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        raise _bad(SA_ERR_INVALID_PARAM, "%s must be an int, got %r" % (name, value)) from None
    if not -2**31 <= n < 2**31:
        raise _bad(SA_ERR_INVALID_PARAM, "%s %d does not fit in int32" % (name, n))
    return n


def _float(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(SA_ERR_INVALID_PARAM, "%s must be a number, got %r" % (name, value)) from None


def _mode(mode: Any) -> int:
    if mode is None:
        return SA_MODE_SAMPLE
    if isinstance(mode, str):
        try:
            return MODES[mode.lower()]
        except KeyError:
            raise _bad(SA_ERR_INVALID_MODE, "mode %r is not one of %s"
                       % (mode, ", ".join(repr(m) for m in MODES))) from None
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool):
        return _int32(mode, "mode")   # the library validates the value
    raise _bad(SA_ERR_INVALID_MODE, "mode must be one of %s, got %r"
               % (", ".join(repr(m) for m in MODES), mode))


def _layout(layout: Any) -> str:
    if layout not in LAYOUTS:
        raise _bad(SA_ERR_INVALID_PARAM, "layout must be 'shd' (S, H, d) or 'hsd' (H, S, d), got %r"
                   % (layout,))
    return layout


# The sa_params fields an option of ``attention`` sets, with the converter of its value.
_INT_FIELDS = ("sink_tokens", "min_seq_len", "min_stripes", "max_stripes", "sample_group",
               "max_diagonals", "chunk_n", "block_size", "min_window",
               "rank_prior_rows")
_FLOAT_FIELDS = ("alpha", "window_ratio", "sample_ratio", "max_density", "alpha_correction",
                 "alpha_column", "alpha_slash")


def _make_params(mode: Any = None, scale: Optional[float] = None,
                 share_kv_group: Optional[bool] = None, force_sparse: Optional[bool] = None,
                 precision: Any = None, **fields: Any) -> sa_params:
    """sa_params from sa_params_init, with each option that is not None set on top."""
    p = sa_params()
    status = _capi.lib().sa_params_init(byref(p), sizeof(p))   # defaults and struct_size
    if status:
        raise _bad(status, "sa_params_init: " + status_string(status))
    if mode is not None:
        p.mode = _mode(mode)
    if scale is not None:       # None (or 0, as in C) = 1/sqrt(head_dim)
        p.scale = _float(scale, "scale")
    if isinstance(precision, str):
        if precision not in _PRECISIONS:
            raise _bad(SA_ERR_INVALID_PARAM, "precision must be 'float32' or 'bfloat16', got %r" % precision)
        p.precision = _PRECISIONS[precision]
    elif precision is not None:   # an SA_PRECISION_* number; the library refuses unknown ones
        p.precision = _int32(precision, "precision")
    for name, value in fields.items():
        if value is None:
            continue
        if name in _INT_FIELDS:
            setattr(p, name, _int32(value, name))
        elif name in _FLOAT_FIELDS:
            setattr(p, name, _float(value, name))
        else:
            raise TypeError("unknown option %r" % name)
    for flag, value in ((SA_FLAG_SHARE_KV_GROUP, share_kv_group), (SA_FLAG_FORCE_SPARSE, force_sparse)):
        if value is not None:
            p.flags = (p.flags | flag) if value else (p.flags & ~flag)
    return p


# ---------------------------------------------------------------- tensors
def _dtype_code(dt: np.dtype) -> Optional[int]:
    if dt == np.float32:
        return SA_DTYPE_F32
    if dt == np.float16:
        return SA_DTYPE_F16
    if dt.name == "bfloat16" and dt.itemsize == 2:
        return SA_DTYPE_BF16
    return None


def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _torch_view(t: "torch.Tensor", name: str) -> Tuple[np.ndarray, Optional[int]]:
    """A CPU tensor's memory as numpy, without copying, and its sa_dtype (None: unsupported).
    bfloat16 is viewed as int16 (numpy has no bfloat16 of its own). Other devices are copied."""
    torch = sys.modules["torch"]
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy(), SA_DTYPE_BF16
    if t.is_complex():
        raise _bad(SA_ERR_INVALID_DTYPE, "%s dtype %s is not supported (float32, float16, "
                   "bfloat16)" % (name, t.dtype))
    if t.dtype not in (torch.float32, torch.float16):
        t = t.float()
    a = t.resolve_neg().numpy() if t.is_neg() else t.numpy()
    return a, _dtype_code(a.dtype)


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except Exception as e:  # noqa: BLE001 - any conversion failure is a bad input
        raise _bad(SA_ERR_INVALID_DTYPE, "%s: cannot view %s as a numpy array: %s"
                   % (name, type(x).__name__, e)) from None


def _viewable(a: np.ndarray) -> bool:
    """True when an sa_tensor can describe ``a`` (3-D) as it is: unit last stride, aligned data,
    non-negative whole-element strides, no two elements sharing memory."""
    isz = a.itemsize
    if a.shape[2] > 1 and a.strides[2] != isz:
        return False
    if a.ctypes.data % isz:
        return False
    outer = []
    for n, s in zip(a.shape[:2], a.strides[:2]):
        if n > 1:
            if s <= 0 or s % isz:
                return False
            outer.append((s // isz, n))
    inner = a.shape[2]
    for stride, n in sorted(outer):
        if stride < inner:
            return False
        inner = stride * (n - 1) + inner
    return True


def _prepare(x: Any, name: str, layout: str) -> Tuple[np.ndarray, int]:
    """``(array, dtype code)``: ``x``'s memory when viewable, else one contiguous copy."""
    if _is_torch(x):
        a, code = _torch_view(x, name)
    else:
        a = _to_numpy(x, name)
        code = _dtype_code(a.dtype)
    if a.ndim != 3:
        raise _bad(SA_ERR_INVALID_SHAPE, "%s must be 3-D %s for layout %r, got shape %s"
                   % (name, _LAYOUT_SHAPES[layout], layout, a.shape))
    if a.size == 0:
        raise _bad(SA_ERR_INVALID_SHAPE, "%s shape %s has a zero size" % (name, a.shape))
    if code is None:
        if a.dtype.kind not in "fiub":
            raise _bad(SA_ERR_INVALID_DTYPE, "%s dtype %s is not supported (float32, float16, "
                       "bfloat16; other real types are converted to float32)" % (name, a.dtype))
        return np.ascontiguousarray(a, dtype=np.float32), SA_DTYPE_F32
    if not _viewable(a):
        a = np.ascontiguousarray(a)
    return a, code


def _tensor(a: np.ndarray, code: int, layout: str) -> sa_tensor:
    isz = a.itemsize
    if layout == "shd":
        (s, h, d), st, sh = a.shape, a.strides[0] // isz, a.strides[1] // isz
    else:
        (h, s, d), sh, st = a.shape, a.strides[0] // isz, a.strides[1] // isz
    if s == 1:
        st = h * d          # a size-1 dimension's stride is irrelevant; never leave 0, 0
    if h == 1:
        sh = d
    return sa_tensor(a.ctypes.data, code, 0, s, h, d, st, sh)


def _sh(a: np.ndarray, layout: str) -> Tuple[int, int, int]:
    """(S, H, d) of an array in ``layout``."""
    if layout == "shd":
        return a.shape[0], a.shape[1], a.shape[2]
    return a.shape[1], a.shape[0], a.shape[2]


def _output(out: Any, q: np.ndarray, q_code: int, q_torch: Optional["torch.Tensor"]
            ) -> Tuple[Any, np.ndarray, int]:
    """``(what the caller gets, its memory as numpy, dtype code)`` of the output: ``out`` when
    given, else a new contiguous array (a tensor when q is one) of q's shape, layout and dtype."""
    if out is None:
        if q_torch is not None:
            torch = sys.modules["torch"]
            dtype = {SA_DTYPE_F32: torch.float32, SA_DTYPE_F16: torch.float16,
                     SA_DTYPE_BF16: torch.bfloat16}[q_code]
            t = torch.empty(q.shape, dtype=dtype)
            a, code = _torch_view(t, "out")
            assert code is not None     # a new tensor of a supported dtype
            return t, a, code
        a = np.empty(q.shape, dtype=q.dtype)
        return a, a, q_code
    if _is_torch(out):
        if out.device.type != "cpu":
            raise _bad(SA_ERR_INVALID_PARAM, "out must be a CPU tensor (it is written in place), "
                       "got device %s" % out.device)
        torch = sys.modules["torch"]
        if out.dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise _bad(SA_ERR_INVALID_DTYPE, "out dtype %s is not float32, float16 or bfloat16"
                       % out.dtype)
        a, code = _torch_view(out, "out")   # a view: CPU and a supported dtype
        assert code is not None
    else:
        a = _to_numpy(out, "out")
        code = _dtype_code(a.dtype)
        if code is None:
            raise _bad(SA_ERR_INVALID_DTYPE, "out dtype %s is not float32, float16 or bfloat16" % a.dtype)
    if a.ndim != 3 or a.shape != q.shape:
        raise _bad(_capi.SA_ERR_SEQ_MISMATCH, "out shape %s differs from q %s" % (a.shape, q.shape))
    if not a.flags.writeable:
        raise _bad(_capi.SA_ERR_INVALID_PARAM, "out is read-only")
    if not _viewable(a):
        raise _bad(SA_ERR_INVALID_STRIDE, "out strides %s cannot be described by sa_tensor "
                   "(unit last stride, whole non-negative element strides, no overlap)" % (a.strides,))
    return out, a, code


def _f32_ptr(a: Optional[np.ndarray]) -> Any:
    return None if a is None else a.ctypes.data_as(POINTER(c_float))


def _stats_dict(st: sa_stats) -> Dict[str, Any]:
    return {field[0]: getattr(st, field[0]) for field in sa_stats._fields_ if field[0] != "struct_size"}


class _Call:
    """The prepared buffers of one attention call (kept alive until the call returns)."""

    def __init__(self, q: Any, k: Any, v: Any, layout: str, out: Any, return_lse: bool,
                 stats: bool):
        self.layout = layout
        self.q_torch = q if _is_torch(q) else None   # torch in (q decides): torch out
        self.q, qc = _prepare(q, "q", layout)
        self.k, kc = _prepare(k, "k", layout)
        self.v, vc = _prepare(v, "v", layout)
        self.allocated = out is None
        self.result, self.out, oc = _output(out, self.q, qc, self.q_torch)
        self.qt = _tensor(self.q, qc, layout)
        self.kt = _tensor(self.k, kc, layout)
        self.vt = _tensor(self.v, vc, layout)
        self.ot = _tensor(self.out, oc, layout)
        s_q, h_q, _ = _sh(self.q, layout)
        self.lse = np.empty((h_q, s_q), dtype=np.float32) if return_lse else None
        self.stats = None
        if stats:
            self.stats = sa_stats()
            self.stats.struct_size = sizeof(sa_stats)

    def stats_ref(self) -> Any:
        return None if self.stats is None else byref(self.stats)

    def apply(self, ctx: _Context, plan_handle: Optional[int]) -> None:
        ctx.check(_capi.lib().sa_plan_apply(ctx.handle, plan_handle, byref(self.qt), byref(self.kt),
                                            byref(self.vt), byref(self.ot), _f32_ptr(self.lse),
                                            self.stats_ref()))

    def results(self, plan: Optional["Plan"] = None) -> Any:
        out, lse = self.result, self.lse
        if self.q_torch is not None:
            torch = sys.modules["torch"]
            device = self.q_torch.device
            if lse is not None:
                lse = torch.from_numpy(lse).to(device)   # .to: no copy on the CPU
            if self.allocated:
                out = out.to(device)
        res: List[Any] = [out]
        if lse is not None:
            res.append(lse)
        if plan is not None:
            res.append(plan)
        if self.stats is not None:
            res.append(_stats_dict(self.stats))
        return res[0] if len(res) == 1 else tuple(res)


# ---------------------------------------------------------------- plans
class PlanHead:
    """One query head of a plan. A row at position p keeps keys p - window < j <= p, the
    selected ``indices`` j <= p - window, and (``block_size`` > 0) the keys j <= p with
    p // block_size - j // block_size in ``slash_blocks``; a ``dense`` head keeps every causal
    key. Seed-mode heads: block_size 1, slash_blocks the diagonal stripes' offsets p - j (or
    none); slash-mode heads: window 0, indices the selected columns, offsets in blocks."""
    __slots__ = ("window", "indices", "density", "cra_mean", "cra_min", "dense", "kept_entries",
                 "block_size", "slash_blocks")

    def __init__(self, info: sa_plan_head, indices: np.ndarray, slash_blocks: np.ndarray) -> None:
        self.block_size = int(info.block_size)
        self.slash_blocks = slash_blocks
        self.window = int(info.window)
        self.indices = indices
        self.density = float(info.density)
        self.cra_mean = float(info.cra_mean)
        self.cra_min = float(info.cra_min)
        self.dense = bool(info.dense)
        self.kept_entries = int(info.kept_entries)

    @property
    def n_indices(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return ("PlanHead(dense=%s, window=%d, n_indices=%d, density=%.4f, cra_mean=%.4f, cra_min=%.4f)"
                % (self.dense, self.window, len(self.indices), self.density, self.cra_mean, self.cra_min))


class Plan:
    """The sparse mask SampleAttention chose for given Q and K (from ``attention(...,
    return_plan=True)``). Per-head data is copied out at creation; the native plan is kept for
    ``apply()`` until ``close()`` (or garbage collection). Usable as a context manager."""

    def __init__(self, handle: int) -> None:
        lib = _capi.lib()
        self._handle: Optional[int] = handle
        self._free = lib.sa_plan_free
        n, sq, sk = c_int64(), c_int64(), c_int64()
        self._check(lib.sa_plan_shape(handle, byref(n), byref(sq), byref(sk)))
        self.n_heads, self.s_q, self.s_k = n.value, sq.value, sk.value
        heads = []
        for h in range(self.n_heads):
            info = sa_plan_head()
            info.struct_size = sizeof(sa_plan_head)
            self._check(lib.sa_plan_head_info(handle, h, byref(info)))
            idx = np.empty(int(info.n_indices), dtype=np.int64)
            self._check(lib.sa_plan_head_indices(handle, h, idx.ctypes.data_as(POINTER(c_int64)),
                                                 idx.size))
            idx.flags.writeable = False
            diags = np.empty(int(info.n_slash_blocks), dtype=np.int64)
            self._check(lib.sa_plan_head_slashes(handle, h, diags.ctypes.data_as(POINTER(c_int64)), diags.size))
            heads.append(PlanHead(info, idx, diags))
        self.heads = tuple(heads)

    @staticmethod
    def _check(status: int) -> None:
        if status != 0:
            raise SampleAttnError(status)

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Frees the native plan (idempotent). The per-head data stays readable."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._free(handle)

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "Plan":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def causal_entries(self) -> int:
        """(row, key) pairs of full causal attention per head."""
        sq, sk = self.s_q, self.s_k
        return sq * (sk - sq) + sq * (sq + 1) // 2

    @property
    def kept_entries(self) -> int:
        return sum(h.kept_entries for h in self.heads)

    @property
    def density(self) -> float:
        """Kept share of the causal entries, over all heads."""
        return self.kept_entries / (self.causal_entries * max(self.n_heads, 1))

    @property
    def n_dense_heads(self) -> int:
        return sum(h.dense for h in self.heads)

    def mask(self, head: int, rows: Optional[Any] = None) -> np.ndarray:
        """Boolean (s_q, s_k) mask of one head (True = attended); for inspection and tests. With
        ``rows`` (query row indices, 0 ... s_q - 1), only those rows: (len(rows), s_k)."""
        hp = self.heads[head]
        pos = np.arange(self.s_k - self.s_q, self.s_k) if rows is None else self.s_k - self.s_q + np.asarray(rows)
        pos = pos[:, None]
        j = np.arange(self.s_k)[None, :]
        causal = j <= pos
        if hp.dense:
            return causal
        selected = np.zeros(self.s_k, dtype=bool)
        selected[hp.indices] = True
        keep = (j > pos - hp.window) | (selected[None, :] & (j <= pos - hp.window))
        if hp.block_size:
            b = hp.block_size
            keep |= np.isin(pos // b - j // b, hp.slash_blocks)
        return causal & keep

    def apply(self, q: Array, k: Array, v: Array, *, layout: str = "shd",
              threads: Optional[int] = None, return_lse: bool = False, out: Optional[Array] = None,
              stats: bool = False) -> Any:
        """Attention over this plan's mask (shapes must match the plan). Returns out, or
        (out, lse), (+ stats dict when asked); torch tensors when q is one (see ``attention``)."""
        if self._handle is None:
            raise _bad(SA_ERR_NULL_ARGUMENT, "the plan is closed")
        call = _Call(q, k, v, _layout(layout), out, return_lse, stats)
        call.apply(_context(threads), self._handle)
        return call.results()

    def __repr__(self) -> str:
        return ("Plan(n_heads=%d, s_q=%d, s_k=%d, density=%.4f, dense_heads=%d%s)"
                % (self.n_heads, self.s_q, self.s_k, self.density, self.n_dense_heads,
                   ", closed" if self.closed else ""))


# ---------------------------------------------------------------- attention
def attention(q: Array, k: Array, v: Array, *, mode: Optional[Union[str, int]] = None,
              alpha: Optional[float] = None, window_ratio: Optional[float] = None,
              sample_ratio: Optional[float] = None, sink_tokens: Optional[int] = None,
              scale: Optional[float] = None, layout: str = "shd", threads: Optional[int] = None,
              return_lse: bool = False, return_plan: bool = False,
              min_seq_len: Optional[int] = None, max_density: Optional[float] = None,
              share_kv_group: Optional[bool] = None, force_sparse: Optional[bool] = None,
              min_stripes: Optional[int] = None, max_stripes: Optional[int] = None,
              sample_group: Optional[int] = None, alpha_column: Optional[float] = None,
              alpha_slash: Optional[float] = None, chunk_n: Optional[int] = None,
              block_size: Optional[int] = None, max_diagonals: Optional[int] = None,
              alpha_correction: Optional[float] = None, min_window: Optional[int] = None,
              rank_prior_rows: Optional[int] = None,
              precision: Optional[Union[str, int]] = None, out: Optional[Array] = None,
              stats: bool = False) -> Any:
    """Causal prefill attention.

    q: (S_q, H_q, d), k and v: (S_k, H_kv, d) for layout "shd"; (H, S, d) for layout "hsd";
    numpy arrays or torch tensors (float32, float16, bfloat16; others are converted to float32).
    Query row i sits at position S_k - S_q + i; query head h reads K/V head h // (H_q // H_kv).

    Every option left at None takes the library's default (``sa_params_init``; the C header
    and docs/DEFAULTS.md give the values):
    mode: "dense" (exact), "sample" (SampleAttention, the default) or "sample_slash" (also
    "slash"). alpha, window_ratio, sample_ratio, sink_tokens, min_seq_len, max_density,
    min_stripes, max_stripes, sample_group, max_diagonals (seed mode's diagonal stripes; 0 = the
    paper's mask), alpha_correction (seed mode: alpha raised by this times the held-out
    shortfall; 0 = the paper's rule), min_window (seed mode: narrowest per-head window candidate
    in keys; 0 = the fixed window), rank_prior_rows (seed mode: stripes ranked by mass per
    sampled row plus this many rows; 0 = by mass); the slash mode's alpha_column, alpha_slash, chunk_n,
    block_size; share_kv_group, force_sparse (the SA_FLAG_* bits). precision: "float32" (the
    default) or "bfloat16": the two products with Q, K, V and the probabilities rounded to
    bfloat16, float32 sums, softmax and output. scale: None (or 0) = 1/sqrt(d). threads: None (or
    0) = OpenMP's default.
    out: optional preallocated output (q's shape and layout; float32/float16/bfloat16; a
    tensor must be on the CPU), written in place and returned.

    Returns out: q's dtype and layout, a torch tensor on q's device when q is a tensor, else a
    numpy array; with return_lse the float32 (H_q, S_q) log-sum-exp (same kind); with
    return_plan a :class:`Plan`; with stats a dict of sa_stats -- in the order out, lse, plan,
    stats (a tuple when more than out is returned).
    Raises :class:`SampleAttnError` on any bad input.
    """
    layout = _layout(layout)
    params = _make_params(mode, scale, share_kv_group, force_sparse, precision, alpha=alpha,
                          window_ratio=window_ratio, sample_ratio=sample_ratio,
                          sink_tokens=sink_tokens, min_seq_len=min_seq_len,
                          max_density=max_density, min_stripes=min_stripes,
                          max_stripes=max_stripes, sample_group=sample_group,
                          alpha_column=alpha_column, alpha_slash=alpha_slash, chunk_n=chunk_n,
                          block_size=block_size, max_diagonals=max_diagonals,
                          alpha_correction=alpha_correction, min_window=min_window,
                          rank_prior_rows=rank_prior_rows)
    call = _Call(q, k, v, layout, out, return_lse, stats)
    ctx = _context(threads)
    lib = _capi.lib()
    if not return_plan:
        ctx.check(lib.sa_attention(ctx.handle, byref(params), byref(call.qt), byref(call.kt),
                                   byref(call.vt), byref(call.ot), _f32_ptr(call.lse),
                                   call.stats_ref()))
        return call.results()
    handle = c_void_p()
    ctx.check(lib.sa_plan_create(ctx.handle, byref(params), byref(call.qt), byref(call.kt),
                                 byref(handle)))
    plan = Plan(int(handle.value or 0))
    call.apply(ctx, plan._handle)
    return call.results(plan)
