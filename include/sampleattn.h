/*
 * sampleattn.h - the public C API of libsampleattn.
 *
 * Causal prefill attention for CPU inference engines: exact (dense) attention and
 * SampleAttention (adaptive local window + query-guided key stripes) behind one call.
 *
 * Rules (see docs/GUARANTEES.md):
 *  - Every function that can fail returns sa_status (0 = SA_OK). Codes are only ever appended.
 *  - Public structs start with `uint32_t struct_size` and only grow at the end.
 *  - The caller owns every buffer. The library keeps no pointer after a call returns, writes only
 *    `out` (and `lse`, `stats`, plan handles), and writes nothing when a call fails validation.
 *  - A context is used by one thread at a time (a second concurrent call on the same context is
 *    refused with SA_ERR_CONTEXT_BUSY); different contexts run concurrently.
 *  - Results are bitwise identical whatever the thread count.
 *
 * This header is the source of truth: the C ABI test checks the library against it.
 */
#ifndef SAMPLEATTN_H
#define SAMPLEATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define SA_API __declspec(dllimport)
#elif defined(__GNUC__)
#  define SA_API __attribute__((visibility("default")))
#else
#  define SA_API
#endif

/* ---------------------------------------------------------------- versions */
#define SA_VERSION_MAJOR 0
#define SA_VERSION_MINOR 4
#define SA_VERSION_PATCH 0
#define SA_VERSION_NUMBER (SA_VERSION_MAJOR * 10000 + SA_VERSION_MINOR * 100 + SA_VERSION_PATCH)

SA_API const char *sa_version_string(void);   /* "0.4.0" */
SA_API uint32_t    sa_version_number(void);   /* MAJOR*10000 + MINOR*100 + PATCH */

/* ---------------------------------------------------------------- status codes */
typedef int32_t sa_status;
#define SA_OK                        0
#define SA_ERR_NULL_ARGUMENT         1   /* a required pointer is NULL */
#define SA_ERR_INVALID_DTYPE         2   /* dtype is not one of SA_DTYPE_* */
#define SA_ERR_INVALID_SHAPE         3   /* a size is zero or negative */
#define SA_ERR_UNSUPPORTED_HEAD_DIM  4   /* head_dim not a multiple of 8 in [8, 256], or q/k/v differ */
#define SA_ERR_GQA_MISMATCH          5   /* H_q % H_kv != 0, or k and v head counts differ */
#define SA_ERR_SEQ_MISMATCH          6   /* S_q > S_k, or k and v token counts differ, or out != q shape */
#define SA_ERR_INVALID_STRIDE        7   /* negative stride, or a tensor's `reserved` is not 0 */
#define SA_ERR_OVERLAPPING_VIEW      8   /* strides make two elements of one view share memory */
#define SA_ERR_OVERFLOW              9   /* sizes or strides overflow int64 / addressable memory */
#define SA_ERR_ALIASING             10   /* out (or lse) overlaps an input or each other */
#define SA_ERR_INVALID_SCALE        11   /* scale is NaN, infinite or negative */
#define SA_ERR_INVALID_PARAM        12   /* an sa_params field is out of range */
#define SA_ERR_INVALID_MODE         13   /* mode is not one of SA_MODE_* */
#define SA_ERR_UNKNOWN_FLAG         14   /* flags has bits this version does not know */
#define SA_ERR_STRUCT_SIZE          15   /* struct_size is too small (or 0) */
#define SA_ERR_OUT_OF_MEMORY        16   /* workspace allocation failed or exceeds the limit */
#define SA_ERR_CONTEXT_BUSY         17   /* the context is in use by another thread */
#define SA_ERR_PLAN_MISMATCH        18   /* plan was made for other shapes/params than this call */
#define SA_ERR_INDEX_OUT_OF_RANGE   19   /* head index out of range in a plan query */
#define SA_ERR_BUFFER_TOO_SMALL     20   /* caller buffer capacity too small */
#define SA_ERR_INTERNAL             21   /* a bug: please report */
#define SA_ERR_UNSUPPORTED_CPU      22   /* the CPU lacks AVX2/FMA/F16C, or SAMPLEATTN_ISA asks for an
                                            ISA it lacks (or names none); see sa_get_features */
#define SA_STATUS_COUNT             23   /* one past the last code of this version */

/* Static English description of a status ("unknown status" for unknown values); never NULL. */
SA_API const char *sa_status_string(sa_status s);

/* ---------------------------------------------------------------- tensors */
typedef int32_t sa_dtype;
#define SA_DTYPE_F32  0
#define SA_DTYPE_F16  1   /* IEEE binary16 */
#define SA_DTYPE_BF16 2   /* bfloat16 */

/*
 * A view of caller memory with logical shape [n_tokens, n_heads, head_dim].
 * Element (t, h, c) is at data + t*stride_token + h*stride_head + c, in ELEMENTS of dtype.
 * The head_dim stride is always 1. Both strides 0 mean dense token-major [S, H, d]
 * (stride_token = H*d, stride_head = d). Head-major [H, S, d]: stride_token = d,
 * stride_head = S*d. ggml's [d, n_ctx, n_head] with byte strides nb1, nb2:
 * stride_token = nb1/elsize, stride_head = nb2/elsize. Strides are >= 0 and the view must not
 * overlap itself.
 */
typedef struct sa_tensor {
    void    *data;          /* first element; const for inputs (never written) */
    sa_dtype dtype;         /* SA_DTYPE_* */
    int32_t  reserved;      /* must be 0 */
    int64_t  n_tokens;      /* > 0 */
    int64_t  n_heads;       /* > 0 */
    int64_t  head_dim;      /* > 0, multiple of 8, <= 256 */
    int64_t  stride_token;  /* elements between consecutive tokens; see above */
    int64_t  stride_head;   /* elements between consecutive heads */
} sa_tensor;

/* ---------------------------------------------------------------- parameters */
#define SA_MODE_DENSE        0   /* exact causal attention */
#define SA_MODE_SAMPLE       1   /* the SampleAttention seed algorithm (default) */
#define SA_MODE_SAMPLE_SLASH 2   /* EXPERIMENTAL: key columns + diagonal (slash) blocks chosen on
                                    sampled query blocks; its choices may change between minor
                                    versions (the ABI of its fields does not) */

/* flags */
#define SA_FLAG_SHARE_KV_GROUP  (1u << 0)  /* one stripe set per K/V group (union over its heads) */
#define SA_FLAG_FORCE_SPARSE    (1u << 1)  /* never fall back to dense (ignore min_seq_len, max_density) */
#define SA_FLAG_ALL             (SA_FLAG_SHARE_KV_GROUP | SA_FLAG_FORCE_SPARSE)

typedef struct sa_params {
    uint32_t struct_size;   /* sizeof(sa_params), set by sa_params_default */
    int32_t  mode;          /* SA_MODE_*; default SA_MODE_SAMPLE */
    float    alpha;         /* target CRA of the sampled rows, (0, 1]; default 0.95. Applied to the
                               mass outside the sink_tokens keys (sink_tokens = 0: the paper's rule) */
    float    window_ratio;  /* local window = ceil(window_ratio * S_k) keys, [0, 1]; default 0.08 */
    float    sample_ratio;  /* sampled query rows / S_q, (0, 1]; default 0.05 */
    int32_t  sink_tokens;   /* first keys always kept, >= 0; default 4 (0 = the paper) */
    int32_t  min_seq_len;   /* S_k below this: dense, >= 0; default 1024 */
    float    max_density;   /* kept share of causal entries above this: dense, (0, 1]; default 0.75 */
    float    scale;         /* logit scale, >= 0 and finite; 0 = 1/sqrt(head_dim) */
    uint32_t flags;         /* SA_FLAG_* bits; default 0 */
    /* --- appended in 0.1 --- */
    int32_t  min_stripes;   /* at least this many selected columns per head, >= 0; default 0 */
    int32_t  max_stripes;   /* at most this many (0 = no limit), >= 0, >= min_stripes if > 0 */
    int32_t  sample_group;  /* adjacent rows per sampled group, [1, 256]; default 16 */
    int32_t  max_diagonals; /* SA_MODE_SAMPLE: at most this many diagonal stripes (key p - delta for
                               row p), chosen with the columns from the same sampled mass; they keep
                               verbatim repeats (copying) attended. >= 0; default 64; 0 = the
                               paper's mask (window + columns + sinks) */
    /* --- SA_MODE_SAMPLE_SLASH, experimental (appended in 0.1) --- */
    float    alpha_column;  /* kept share of the sampled rows' mass, diagonals + key columns, (0, 1]; default 0.98 */
    float    alpha_slash;   /* share the diagonal (slash) blocks alone reach, chosen first, (0, 1]; default 0.95 */
    int32_t  chunk_n;       /* sampled query blocks: the last block of each of chunk_n segments, [1, 64]; default 2 */
    int32_t  block_size;    /* block granularity in tokens: 16, 32, 48, 64, 80 or 96; default 64 */
    /* --- appended in 0.2 --- */
    float    alpha_correction; /* SA_MODE_SAMPLE: stripes chosen on the sampled rows keep less of
                               other rows' mass than of theirs; a held-out check over the sampled
                               rows measures that share, and alpha is raised, up to 1, by
                               alpha_correction x (alpha - held-out share). [0, 16]; default 2;
                               0 = the paper's rule. How and why: docs/DEFAULTS.md */
    /* --- appended in 0.3 --- */
    int32_t  precision;     /* SA_PRECISION_*: arithmetic of the attention pass's two products
                               (Q K^T and P V); default SA_PRECISION_F32. Planning (stages 1-2)
                               stays float32, but for stage 1's Q K^T with bf16 on AMX (isa 3,
                               head_dim a multiple of 32; since 0.4). Independent of the tensors'
                               dtype */
    int32_t  min_window;    /* SA_MODE_SAMPLE: per query head, the local window is the one among
                               ceil(window_ratio * S_k) and its halvings down to min_window keys
                               whose mask (window + stripes at alpha, chosen on the sampled rows)
                               keeps the fewest entries. >= 0; default 64; 0 = the fixed window
                               (the paper). How and why: docs/DEFAULTS.md */
    int32_t  rank_prior_rows; /* SA_MODE_SAMPLE: stage 2 takes stripes by their sampled mass per
                               sampled row that keeps them, plus rank_prior_rows rows (their mass
                               per kept entry; the prior damps stripes seen by few rows). >= 0;
                               default 16; 0 = by mass (the paper) */
} sa_params;

#define SA_PRECISION_F32  0   /* float32 products: the exact math of earlier versions */
#define SA_PRECISION_BF16 1   /* Q (times the scale), K, V and the probabilities P rounded to
                                 bfloat16 for the products, float32 sums; softmax and output
                                 accumulation stay float32 (as PyTorch's bfloat16 attention) */

/* Fill the first `size` bytes of *p with the defaults above and set struct_size = size; fields
   a newer library has past `size` take their defaults when it reads the struct. size > this
   library's sa_params: the bytes past it are zeroed. SA_ERR_NULL_ARGUMENT for p NULL,
   SA_ERR_STRUCT_SIZE for size < 40 (the 0.0 struct) or > 4096; nothing is written then. */
SA_API sa_status sa_params_init(sa_params *p, size_t size);

/* Fill *p with the defaults (struct_size = sizeof(sa_params)). NULL is a no-op. A macro over
   sa_params_init with the size this header declares, so a newer library never writes past the
   struct of a program compiled against an older header. The function itself (what programs
   built against the 0.1 header call) fills the 0.1 struct, 72 bytes. */
SA_API void sa_params_default(sa_params *p);   /* declared before the macro: the function */
#define sa_params_default(p) ((void)sa_params_init((p), sizeof *(p)))

/* ---------------------------------------------------------------- statistics */
typedef struct sa_stats {
    uint32_t struct_size;       /* caller sets sizeof(sa_stats) (or smaller, older) before the call */
    int32_t  mode;              /* the mode requested */
    int64_t  n_heads;           /* query heads */
    int64_t  n_dense_heads;     /* heads computed densely (mode dense, or fallback) */
    int64_t  kept_entries;      /* (row, key) pairs attended, summed over heads */
    int64_t  causal_entries;    /* (row, key) pairs of full causal attention, summed over heads */
    double   density;           /* kept_entries / causal_entries */
    double   cra_estimate;      /* mean over heads of the sampled rows' estimated CRA (1 for dense) */
    double   time_sample_s;     /* stage 1: sampling, seconds */
    double   time_filter_s;     /* stage 2: column selection, seconds */
    double   time_attention_s;  /* the attention kernel, seconds */
    double   time_total_s;      /* the whole call, seconds */
    int32_t  fallback_reason;   /* SA_FALLBACK_* of the call (when every head is dense) */
    int32_t  n_threads;         /* threads used */
} sa_stats;

#define SA_FALLBACK_NONE        0  /* sparse (or dense mode requested) */
#define SA_FALLBACK_SHORT       1  /* S_k < min_seq_len */
#define SA_FALLBACK_DENSITY     2  /* a head's mask kept more than max_density */

/* ---------------------------------------------------------------- context */
typedef struct sa_context sa_context;

/* n_threads: 0 = the OpenMP default (omp_get_max_threads), else 1..1024. NULL on failure. */
SA_API sa_context *sa_context_new(int32_t n_threads);
SA_API void        sa_context_free(sa_context *ctx);            /* NULL is a no-op */
/* Message of the last failed call on ctx ("" if none); valid until the next call on ctx. */
SA_API const char *sa_context_last_error(const sa_context *ctx);
/* Threads this context uses (resolved, >= 1); 0 if ctx is NULL. */
SA_API int32_t     sa_context_n_threads(const sa_context *ctx);
/* Upper bound of workspace bytes a call may allocate (0 = no limit, the default). A call that
   would need more fails with SA_ERR_OUT_OF_MEMORY before touching the output. */
SA_API sa_status   sa_context_set_memory_limit(sa_context *ctx, uint64_t bytes);
/* Since 0.4: keep up to `bytes` of a call's workspace on the context for its next calls
   (0 = none, the default: every call frees its workspace before it returns). Repeated calls of
   similar shapes, as an engine makes layer after layer, then reuse the blocks instead of
   allocating, first touching and freeing them. The memory limit still caps each call's use;
   the kept bytes are outside it. Lowering the value frees what no longer fits at once;
   sa_context_free frees the rest. */
SA_API sa_status   sa_context_set_workspace_cache(sa_context *ctx, uint64_t bytes);
/* Since 0.4: *bytes = the workspace bytes the context keeps between calls now. */
SA_API sa_status   sa_context_workspace_cached(sa_context *ctx, uint64_t *bytes);

/* ---------------------------------------------------------------- attention */
/*
 * Causal prefill attention. q: [S_q, H_q, d]; k, v: [S_k, H_kv, d]; out: like q (any dtype).
 * Query row i sits at absolute position S_k - S_q + i and sees keys j <= that position.
 * Query head h reads K/V head h / (H_q / H_kv).
 * lse (nullable): float32 [H_q, S_q], natural-log log-sum-exp of the scaled logits over the
 *   keys actually attended (so partial results can be merged).
 * stats (nullable): filled with what was done; stats->struct_size must be set by the caller.
 * p (nullable): NULL means sa_params_default.
 */
SA_API sa_status sa_attention(sa_context *ctx, const sa_params *p,
                              const sa_tensor *q, const sa_tensor *k, const sa_tensor *v,
                              const sa_tensor *out, float *lse, struct sa_stats *stats);

/* ---------------------------------------------------------------- plans */
/*
 * A plan is the sparse mask SampleAttention chose for given Q and K: per query head, a window
 * size, sorted selected key indices (sinks included) and sorted diagonal offsets. A row at
 * position p keeps keys p - window < j <= p, the selected indices j <= p - window, and the keys
 * j <= p with p / block_size - j / block_size among the head's offsets (sa_plan_head_offsets).
 * Seed-mode heads have block_size 1 (offsets are p - j, each >= window) or no offsets; in
 * SA_MODE_SAMPLE_SLASH window is 0, indices are the selected columns and offsets are in blocks. Plans are immutable after creation and may be read
 * and applied from several threads at once.
 */
typedef struct sa_plan sa_plan;

typedef struct sa_plan_head {
    uint32_t struct_size;   /* caller sets sizeof(sa_plan_head) */
    int32_t  dense;         /* 1 if this head is computed densely (fallback or dense mode) */
    int64_t  window;        /* local window size in keys */
    int64_t  n_indices;     /* number of selected key indices (sinks included) */
    int64_t  kept_entries;  /* (row, key) pairs this head attends */
    double   density;       /* kept_entries / causal entries of this head */
    double   cra_mean;      /* estimated CRA, mean over the sampled rows (1 when dense) */
    double   cra_min;       /* estimated CRA, min over the sampled rows (1 when dense) */
    /* --- appended in 0.1 --- */
    int64_t  block_size;      /* granularity of the diagonal offsets: the slash block size, 1 for
                                 seed heads with diagonal stripes, 0 when there are none */
    int64_t  n_slash_blocks;  /* number of selected diagonal offsets, in units of block_size:
                                 slash heads' diagonal blocks (0 = the diagonal), seed heads'
                                 diagonal stripes (the name is from 0.1, when only slash heads
                                 had offsets) */
    int64_t  reserved1;       /* 0 */
} sa_plan_head;

/* Build a plan from q and k (v is not needed). p NULL = defaults. *plan_out is set on success. */
SA_API sa_status sa_plan_create(sa_context *ctx, const sa_params *p,
                                const sa_tensor *q, const sa_tensor *k, sa_plan **plan_out);
/* Compute attention over the plan's mask. Shapes must match the plan (else SA_ERR_PLAN_MISMATCH). */
SA_API sa_status sa_plan_apply(sa_context *ctx, const sa_plan *plan,
                               const sa_tensor *q, const sa_tensor *k, const sa_tensor *v,
                               const sa_tensor *out, float *lse, struct sa_stats *stats);
SA_API void      sa_plan_free(sa_plan *plan);                 /* NULL is a no-op */
/* Shape the plan was made for; any output pointer may be NULL. */
SA_API sa_status sa_plan_shape(const sa_plan *plan, int64_t *n_heads, int64_t *s_q, int64_t *s_k);
SA_API sa_status sa_plan_head_info(const sa_plan *plan, int64_t head, sa_plan_head *info);
/* Copy head's selected key indices (ascending) into indices[0..capacity). Needs capacity >=
   n_indices (else SA_ERR_BUFFER_TOO_SMALL, nothing written). indices may be NULL if capacity 0
   and n_indices is 0. */
SA_API sa_status sa_plan_head_indices(const sa_plan *plan, int64_t head,
                                      int64_t *indices, int64_t capacity);

/* The head's selected diagonal offsets, ascending, in units of block_size (see sa_plan_head):
   a row at position p keeps key j <= p when (p / block_size - j / block_size) is one of them.
   Slash-mode heads: diagonal blocks; seed-mode heads: diagonal stripes (block_size 1, offsets
   p - j >= window). capacity must be >= n_slash_blocks (else SA_ERR_BUFFER_TOO_SMALL, nothing
   written). The exported name is from 0.1, when only slash heads had offsets;
   sa_plan_head_offsets below is the same call under a name for both modes. */
SA_API sa_status sa_plan_head_slashes(const sa_plan *plan, int64_t head, int64_t *slash_blocks,
                                      int64_t capacity);
static inline sa_status sa_plan_head_offsets(const sa_plan *plan, int64_t head, int64_t *offsets,
                                             int64_t capacity) {
    return sa_plan_head_slashes(plan, head, offsets, capacity);
}

/* ---------------------------------------------------------------- features */
typedef struct sa_features {
    uint32_t struct_size;   /* caller sets sizeof(sa_features) */
    int32_t  simd_level;    /* 1 = AVX2+FMA+F16C (x86-64-v3), what the library needs at least;
                               0 = this CPU lacks them (there is no scalar path: the attention and
                               plan functions fail with SA_ERR_UNSUPPORTED_CPU). The kernels chosen
                               on this CPU: `isa` below */
    int32_t  openmp;        /* 1 if built with OpenMP */
    int32_t  max_threads;   /* omp_get_max_threads() at the time of the call */
    int32_t  max_head_dim;  /* largest supported head_dim */
    int32_t  head_dim_multiple; /* head_dim must be a multiple of this */
    /* --- appended in 0.3 --- */
    int32_t  isa;           /* SA_ISA_* the kernels use, chosen once per process (0: none usable,
                               then sa_attention fails with SA_ERR_UNSUPPORTED_CPU) */
    uint32_t cpu_isa_mask;  /* SA_CPU_* bits: what this CPU and OS support */
} sa_features;

/* Kernel ISAs. The best the CPU has is used; the environment variable SAMPLEATTN_ISA=avx2,
   avx512 or amx caps it (an ISA the CPU lacks, or another value, makes every call fail with
   SA_ERR_UNSUPPORTED_CPU and a message). Float32 results are bitwise identical on every ISA. */
#define SA_ISA_AVX2   1   /* AVX2+FMA, 8-lane float32 (the portable kernels) */
#define SA_ISA_AVX512 2   /* AVX-512 F/BW/VL/DQ, 16-lane float32 */
#define SA_ISA_AMX    3   /* AVX-512, and AMX-BF16 tiles for SA_PRECISION_BF16 (head_dim a
                             multiple of 32) */
#define SA_CPU_AVX2        (1u << 0)  /* AVX2, FMA, F16C, with the OS saving YMM state */
#define SA_CPU_AVX512      (1u << 1)  /* AVX-512 F, BW, VL, DQ, with opmask and ZMM state */
#define SA_CPU_AVX512_BF16 (1u << 2)  /* AVX512_BF16 */
#define SA_CPU_AMX_BF16    (1u << 3)  /* AMX-TILE and AMX-BF16, tile state enabled and permitted */

SA_API sa_status sa_get_features(sa_features *f);

/* ---------------------------------------------------------------- host thread teams */
/*
 * sa_attention on the caller's own threads instead of the library's OpenMP team: what an engine
 * with its own thread pool needs (a ggml custom op's callback gets exactly (ith, nth)).
 * Each of nth threads (1 <= nth <= 1024) calls it at the same time with the same arguments and
 * its own ith in [0, nth). Thread 0 leads: it waits until the others joined, runs the call and
 * hands each of its parallel steps to the team, whose threads take tasks from one queue; no
 * OpenMP team is created and the context's thread count is not used. All nth threads return
 * the same status, and out, lse and stats are bitwise what sa_attention writes (stats'
 * timings aside; stats->n_threads = nth).
 * - Errors: nth out of range: SA_ERR_INVALID_PARAM at once on every thread. Threads passing
 *   different nth, an ith out of range or an ith twice: SA_ERR_INVALID_PARAM on all, nothing
 *   written. The leader's own errors (validation, SA_ERR_CONTEXT_BUSY when another thread
 *   is in a call on ctx) are returned by every thread of the team.
 * - One team call on a context at a time: the next may start when all nth threads returned
 *   (e.g. after the host's barrier). Like any barrier, a thread that never calls leaves the
 *   others waiting; waiting threads spin briefly, then yield.
 * - Concurrent teams need a context each.
 */
SA_API sa_status sa_attention_team(sa_context *ctx, const sa_params *p,
                                   const sa_tensor *q, const sa_tensor *k, const sa_tensor *v,
                                   const sa_tensor *out, float *lse, struct sa_stats *stats,
                                   int32_t ith, int32_t nth);

#ifdef __cplusplus
}
#endif

#endif /* SAMPLEATTN_H */
