"""1:1 ctypes layer over include/sampleattn.h (the source of truth).

Every constant, struct and function of the header is mirrored here with the same name; each
function's C prototype is quoted above its declaration. Nothing here is Pythonic on purpose: the
numpy layer lives in ``api.py``.

The library is loaded lazily on first use (see ``_loader.py``), so ``import sampleattn`` works
without it. ``lib()`` returns the loaded ``ctypes.CDLL`` with every prototype declared, and the
functions are also reachable as attributes of this module: ``_capi.sa_attention(...)``.
"""
from __future__ import annotations

import ctypes
import threading
from ctypes import (POINTER, Structure, c_char_p, c_double, c_float, c_int32, c_int64,
                    c_uint32, c_uint64, c_void_p)

from . import _loader

# ---------------------------------------------------------------- versions
SA_VERSION_MAJOR = 0
SA_VERSION_MINOR = 4
SA_VERSION_PATCH = 0
SA_VERSION_NUMBER = SA_VERSION_MAJOR * 10000 + SA_VERSION_MINOR * 100 + SA_VERSION_PATCH

# ---------------------------------------------------------------- status codes
sa_status = c_int32
SA_OK = 0
SA_ERR_NULL_ARGUMENT = 1          # a required pointer is NULL
SA_ERR_INVALID_DTYPE = 2          # dtype is not one of SA_DTYPE_*
SA_ERR_INVALID_SHAPE = 3          # a size is zero or negative
SA_ERR_UNSUPPORTED_HEAD_DIM = 4   # head_dim not a multiple of 8 in [8, 256], or q/k/v differ
SA_ERR_GQA_MISMATCH = 5           # H_q % H_kv != 0, or k and v head counts differ
SA_ERR_SEQ_MISMATCH = 6           # S_q > S_k, or k and v token counts differ, or out != q shape
SA_ERR_INVALID_STRIDE = 7         # negative stride, or a tensor's `reserved` is not 0
SA_ERR_OVERLAPPING_VIEW = 8       # strides make two elements of one view share memory
SA_ERR_OVERFLOW = 9               # sizes or strides overflow int64 / addressable memory
SA_ERR_ALIASING = 10              # out (or lse) overlaps an input or each other
SA_ERR_INVALID_SCALE = 11         # scale is NaN, infinite or negative
SA_ERR_INVALID_PARAM = 12         # an sa_params field is out of range
SA_ERR_INVALID_MODE = 13          # mode is not one of SA_MODE_*
SA_ERR_UNKNOWN_FLAG = 14          # flags has bits this version does not know
SA_ERR_STRUCT_SIZE = 15           # struct_size is too small (or 0)
SA_ERR_OUT_OF_MEMORY = 16         # workspace allocation failed or exceeds the limit
SA_ERR_CONTEXT_BUSY = 17          # the context is in use by another thread
SA_ERR_PLAN_MISMATCH = 18         # plan was made for other shapes/params than this call
SA_ERR_INDEX_OUT_OF_RANGE = 19    # head index out of range in a plan query
SA_ERR_BUFFER_TOO_SMALL = 20      # caller buffer capacity too small
SA_ERR_INTERNAL = 21              # a bug: please report
SA_ERR_UNSUPPORTED_CPU = 22      # the CPU lacks AVX2/FMA/F16C, or SAMPLEATTN_ISA asks for an ISA it lacks
SA_STATUS_COUNT = 23              # one past the last code of this version

STATUS_NAMES = {value: name for name, value in globals().items()
                if name.startswith(("SA_OK", "SA_ERR_")) and isinstance(value, int)}


def status_name(status: int) -> str:
    """``"SA_ERR_GQA_MISMATCH"`` for 5; ``"SA_STATUS_<n>"`` for codes this version lacks."""
    return STATUS_NAMES.get(int(status), "SA_STATUS_%d" % int(status))


# ---------------------------------------------------------------- tensors
sa_dtype = c_int32
SA_DTYPE_F32 = 0
SA_DTYPE_F16 = 1    # IEEE binary16
SA_DTYPE_BF16 = 2   # bfloat16


class sa_tensor(Structure):
    """A view of caller memory with logical shape [n_tokens, n_heads, head_dim].
    Element (t, h, c) is at data + t*stride_token + h*stride_head + c, in ELEMENTS of dtype.
    Both strides 0 mean dense token-major [S, H, d]."""
    _fields_ = [
        ("data", c_void_p),          # first element; const for inputs (never written)
        ("dtype", sa_dtype),         # SA_DTYPE_*
        ("reserved", c_int32),       # must be 0
        ("n_tokens", c_int64),       # > 0
        ("n_heads", c_int64),        # > 0
        ("head_dim", c_int64),       # > 0, multiple of 8, <= 256
        ("stride_token", c_int64),   # elements between consecutive tokens
        ("stride_head", c_int64),    # elements between consecutive heads
    ]


# ---------------------------------------------------------------- parameters
SA_MODE_DENSE = 0          # exact causal attention
SA_MODE_SAMPLE = 1         # the SampleAttention seed algorithm (default)
SA_MODE_SAMPLE_SLASH = 2   # column + slash (diagonal block) stripes

SA_FLAG_SHARE_KV_GROUP = 1 << 0   # one stripe set per K/V group (union over its heads)
SA_FLAG_FORCE_SPARSE = 1 << 1     # never fall back to dense (ignore min_seq_len, max_density)
SA_FLAG_ALL = SA_FLAG_SHARE_KV_GROUP | SA_FLAG_FORCE_SPARSE

SA_PRECISION_F32 = 0    # float32 products (the default)
SA_PRECISION_BF16 = 1   # Q, K, V and P rounded to bfloat16 for the products, float32 sums


class sa_params(Structure):
    _fields_ = [
        ("struct_size", c_uint32),   # sizeof(sa_params), set by sa_params_init
        ("mode", c_int32),           # SA_MODE_*; default SA_MODE_SAMPLE
        ("alpha", c_float),          # target CRA of the sampled rows, (0, 1]; default 0.95
        ("window_ratio", c_float),   # local window = ceil(window_ratio * S_k) keys, [0, 1]; default 0.08
        ("sample_ratio", c_float),   # sampled query rows / S_q, (0, 1]; default 0.05
        ("sink_tokens", c_int32),    # first keys always kept, >= 0; default 4 (0 = the paper)
        ("min_seq_len", c_int32),    # S_k below this: dense, >= 0; default 1024
        ("max_density", c_float),    # kept share of causal entries above this: dense, (0, 1]; default 0.75
        ("scale", c_float),          # logit scale, >= 0 and finite; 0 = 1/sqrt(head_dim)
        ("flags", c_uint32),         # SA_FLAG_* bits; default 0
        # --- appended in 0.1 ---
        ("min_stripes", c_int32),    # at least this many selected columns per head, >= 0; default 0
        ("max_stripes", c_int32),    # at most this many (0 = no limit), >= 0, >= min_stripes if > 0
        ("sample_group", c_int32),   # adjacent rows per sampled group, [1, 256]; default 16
        ("max_diagonals", c_int32),  # seed mode: at most this many diagonal stripes; default 64, 0 = none
        # --- SA_MODE_SAMPLE_SLASH (appended in 0.1) ---
        # kept share of the sampled rows' mass, diagonals + key columns, (0, 1]; default 0.98
        ("alpha_column", c_float),
        # share the diagonal (slash) blocks alone reach, chosen first, (0, 1]; default 0.95
        ("alpha_slash", c_float),
        # sampled query blocks: the last block of each of chunk_n segments, [1, 64]; default 2
        ("chunk_n", c_int32),
        ("block_size", c_int32),     # block granularity in tokens: 16, 32, 48, 64, 80 or 96; default 64
        # --- appended in 0.2 ---
        # seed mode: alpha raised by this x the held-out shortfall, [0, 16]; default 2, 0 = the paper
        ("alpha_correction", c_float),
        ("precision", c_int32),      # SA_PRECISION_*: the two products in float32 (default) or bfloat16
        # seed mode: per head, the window is ceil(window_ratio * S_k) or a halving of it down to
        # min_window keys, whichever mask keeps the fewest entries; default 64, 0 = the fixed window
        ("min_window", c_int32),
        # seed mode: stripes ranked by sampled mass per sampled row that keeps them (+ this many
        # rows); default 16, 0 = by mass (the paper)
        ("rank_prior_rows", c_int32),
    ]


# ---------------------------------------------------------------- statistics
class sa_stats(Structure):
    _fields_ = [
        ("struct_size", c_uint32),       # caller sets sizeof(sa_stats) (or smaller, older) before the call
        ("mode", c_int32),               # the mode requested
        ("n_heads", c_int64),            # query heads
        ("n_dense_heads", c_int64),      # heads computed densely (mode dense, or fallback)
        ("kept_entries", c_int64),       # (row, key) pairs attended, summed over heads
        ("causal_entries", c_int64),     # (row, key) pairs of full causal attention, summed over heads
        ("density", c_double),           # kept_entries / causal_entries
        ("cra_estimate", c_double),      # mean over heads of the sampled rows' estimated CRA (1 for dense)
        ("time_sample_s", c_double),     # stage 1: sampling, seconds
        ("time_filter_s", c_double),     # stage 2: column selection, seconds
        ("time_attention_s", c_double),  # the attention kernel, seconds
        ("time_total_s", c_double),      # the whole call, seconds
        ("fallback_reason", c_int32),    # SA_FALLBACK_* of the call (when every head is dense)
        ("n_threads", c_int32),          # threads used
    ]


SA_FALLBACK_NONE = 0      # sparse (or dense mode requested)
SA_FALLBACK_SHORT = 1     # S_k < min_seq_len
SA_FALLBACK_DENSITY = 2   # a head's mask kept more than max_density


# ---------------------------------------------------------------- plans
class sa_plan_head(Structure):
    _fields_ = [
        ("struct_size", c_uint32),   # caller sets sizeof(sa_plan_head)
        ("dense", c_int32),          # 1 if this head is computed densely (fallback or dense mode)
        ("window", c_int64),         # local window size in keys
        ("n_indices", c_int64),      # number of selected key indices (sinks included)
        ("kept_entries", c_int64),   # (row, key) pairs this head attends
        ("density", c_double),       # kept_entries / causal entries of this head
        ("cra_mean", c_double),      # estimated CRA, mean over the sampled rows (1 when dense)
        ("cra_min", c_double),       # estimated CRA, min over the sampled rows (1 when dense)
        # --- appended in 0.1 ---
        ("block_size", c_int64),       # slash heads: block granularity; 0 for seed-mode and dense heads
        ("n_slash_blocks", c_int64),   # slash heads: selected diagonal offsets, in blocks (0 = diagonal)
        ("reserved1", c_int64),        # 0
    ]


# ---------------------------------------------------------------- features
class sa_features(Structure):
    _fields_ = [
        ("struct_size", c_uint32),        # caller sets sizeof(sa_features)
        ("simd_level", c_int32),          # 0 = scalar, 1 = AVX2+FMA (x86-64-v3)
        ("openmp", c_int32),              # 1 if built with OpenMP
        ("max_threads", c_int32),         # omp_get_max_threads() at the time of the call
        ("max_head_dim", c_int32),        # largest supported head_dim
        ("head_dim_multiple", c_int32),   # head_dim must be a multiple of this
        ("isa", c_int32),                 # SA_ISA_* the kernels use (0: none usable)
        ("cpu_isa_mask", c_uint32),       # SA_CPU_* bits the CPU and OS support
    ]


SA_ISA_AVX2 = 1
SA_ISA_AVX512 = 2
SA_ISA_AMX = 3
SA_CPU_AVX2 = 1 << 0
SA_CPU_AVX512 = 1 << 1
SA_CPU_AVX512_BF16 = 1 << 2
SA_CPU_AMX_BF16 = 1 << 3


# Opaque handles (sa_context *, sa_plan *) are plain pointers.
sa_context_p = c_void_p
sa_plan_p = c_void_p

# ---------------------------------------------------------------- functions
_PROTOTYPES: dict = {}


def _proto(name, restype, *argtypes):
    _PROTOTYPES[name] = (restype, list(argtypes))


# SA_API const char *sa_version_string(void);   /* "0.2.0" */
_proto("sa_version_string", c_char_p)
# SA_API uint32_t    sa_version_number(void);   /* MAJOR*10000 + MINOR*100 + PATCH */
_proto("sa_version_number", c_uint32)
# SA_API const char *sa_status_string(sa_status s);
_proto("sa_status_string", c_char_p, sa_status)
# SA_API sa_status sa_params_init(sa_params *p, size_t size);
_proto("sa_params_init", sa_status, POINTER(sa_params), ctypes.c_size_t)
# SA_API void sa_params_default(sa_params *p);   /* the 0.1 struct; in C a macro over sa_params_init */
_proto("sa_params_default", None, POINTER(sa_params))
# SA_API sa_context *sa_context_new(int32_t n_threads);
_proto("sa_context_new", sa_context_p, c_int32)
# SA_API void        sa_context_free(sa_context *ctx);            /* NULL is a no-op */
_proto("sa_context_free", None, sa_context_p)
# SA_API const char *sa_context_last_error(const sa_context *ctx);
_proto("sa_context_last_error", c_char_p, sa_context_p)
# SA_API int32_t     sa_context_n_threads(const sa_context *ctx);
_proto("sa_context_n_threads", c_int32, sa_context_p)
# SA_API sa_status   sa_context_set_memory_limit(sa_context *ctx, uint64_t bytes);
_proto("sa_context_set_memory_limit", sa_status, sa_context_p, c_uint64)
# SA_API sa_status   sa_context_set_workspace_cache(sa_context *ctx, uint64_t bytes);
_proto("sa_context_set_workspace_cache", sa_status, sa_context_p, c_uint64)
# SA_API sa_status   sa_context_workspace_cached(sa_context *ctx, uint64_t *bytes);
_proto("sa_context_workspace_cached", sa_status, sa_context_p, POINTER(c_uint64))
# SA_API sa_status sa_attention(sa_context *ctx, const sa_params *p,
#                               const sa_tensor *q, const sa_tensor *k, const sa_tensor *v,
#                               const sa_tensor *out, float *lse, struct sa_stats *stats);
_proto("sa_attention", sa_status, sa_context_p, POINTER(sa_params),
       POINTER(sa_tensor), POINTER(sa_tensor), POINTER(sa_tensor),
       POINTER(sa_tensor), POINTER(c_float), POINTER(sa_stats))
# SA_API sa_status sa_plan_create(sa_context *ctx, const sa_params *p,
#                                 const sa_tensor *q, const sa_tensor *k, sa_plan **plan_out);
_proto("sa_plan_create", sa_status, sa_context_p, POINTER(sa_params),
       POINTER(sa_tensor), POINTER(sa_tensor), POINTER(sa_plan_p))
# SA_API sa_status sa_plan_apply(sa_context *ctx, const sa_plan *plan,
#                                const sa_tensor *q, const sa_tensor *k, const sa_tensor *v,
#                                const sa_tensor *out, float *lse, struct sa_stats *stats);
_proto("sa_plan_apply", sa_status, sa_context_p, sa_plan_p,
       POINTER(sa_tensor), POINTER(sa_tensor), POINTER(sa_tensor),
       POINTER(sa_tensor), POINTER(c_float), POINTER(sa_stats))
# SA_API void      sa_plan_free(sa_plan *plan);                 /* NULL is a no-op */
_proto("sa_plan_free", None, sa_plan_p)
# SA_API sa_status sa_plan_shape(const sa_plan *plan, int64_t *n_heads, int64_t *s_q, int64_t *s_k);
_proto("sa_plan_shape", sa_status, sa_plan_p, POINTER(c_int64), POINTER(c_int64), POINTER(c_int64))
# SA_API sa_status sa_plan_head_info(const sa_plan *plan, int64_t head, sa_plan_head *info);
_proto("sa_plan_head_info", sa_status, sa_plan_p, c_int64, POINTER(sa_plan_head))
# SA_API sa_status sa_plan_head_indices(const sa_plan *plan, int64_t head,
#                                       int64_t *indices, int64_t capacity);
_proto("sa_plan_head_indices", sa_status, sa_plan_p, c_int64, POINTER(c_int64), c_int64)
# SA_API sa_status sa_plan_head_slashes(const sa_plan *plan, int64_t head, int64_t *slash_blocks,
#                                       int64_t capacity);
_proto("sa_plan_head_slashes", sa_status, sa_plan_p, c_int64, POINTER(c_int64), c_int64)
# SA_API sa_status sa_get_features(sa_features *f);
_proto("sa_get_features", sa_status, POINTER(sa_features))
# SA_API sa_status sa_attention_team(sa_context *ctx, const sa_params *p,
#                                    const sa_tensor *q, const sa_tensor *k, const sa_tensor *v,
#                                    const sa_tensor *out, float *lse, struct sa_stats *stats,
#                                    int32_t ith, int32_t nth);
_proto("sa_attention_team", sa_status, sa_context_p, POINTER(sa_params),
       POINTER(sa_tensor), POINTER(sa_tensor), POINTER(sa_tensor),
       POINTER(sa_tensor), POINTER(c_float), POINTER(sa_stats), c_int32, c_int32)


# ---------------------------------------------------------------- loading
_lock = threading.Lock()
_lib = None
_lib_path = None


def _declare(cdll):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(cdll, name)   # AttributeError: the library lacks a symbol of the header
        fn.restype = restype
        fn.argtypes = argtypes
    return cdll


def lib():
    """The loaded library with every prototype declared (loaded once, thread-safe)."""
    global _lib, _lib_path
    if _lib is None:
        with _lock:
            if _lib is None:
                cdll, path = _loader.load()
                try:
                    _declare(cdll)
                except AttributeError as e:
                    raise _loader.LibraryNotFoundError(
                        [("loaded", path, "missing symbol of sampleattn.h: %s" % e)]) from None
                _lib_path = path
                _lib = cdll
    return _lib


def library_path():
    """Path (or SONAME) of the loaded library; loads it if needed."""
    lib()
    return _lib_path


def __getattr__(name):
    # PEP 562: _capi.sa_attention etc. resolve to the declared functions of the loaded library.
    if name in _PROTOTYPES:
        return getattr(lib(), name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
