/*
 * libFuzzer target on the C API of libsampleattn.
 *
 * Each input is decoded into one API "scenario": shapes (S <= 300, heads <= 8, head_dim a
 * multiple of 8 up to 256, plus deliberately bad values), per-tensor dtype and strides (dense,
 * token-major, head-major, padded, overlapping, negative, huge, size-1 dims with odd strides,
 * lazily mapped terabyte-scale strides), aliasing between out/lse and the inputs, every sa_params
 * field (in and out of range, NaN, old and future struct sizes), data (uniform, sprinkled with
 * NaN/Inf/huge/denormal values, or raw input bytes), a context memory limit and thread count.
 * It then calls sa_plan_create, sa_attention, sa_plan_apply and the plan queries, and checks:
 *
 *  - every status is a known code and never SA_ERR_INTERNAL;
 *  - a model of the header's rules predicts the outcome: a call with no fault must succeed (or
 *    fail SA_ERR_OUT_OF_MEMORY under a memory limit); a call with faults must fail with the code
 *    of one of them (two conservative refusals of the library are tolerated: OVERLAPPING_VIEW
 *    for strides that pass the "each stride covers the dimensions inside it" rule's failure
 *    without true overlap, and ALIASING when byte ranges intersect without a shared element);
 *  - on failure: out, lse, stats and *plan_out are byte-identical to before, and
 *    sa_context_last_error is non-empty; on success it is "";
 *  - inputs are never written; on success only out's elements (and lse) change, never the gaps
 *    between them or bytes next to them;
 *  - results are bitwise equal across thread counts (the 2-thread context keeps its workspace
 *    between inputs, the other does not) and between sa_attention and
 *    sa_plan_create + sa_plan_apply; plans are well formed (sorted unique indices in range,
 *    sinks kept, kept_entries and density consistent, dense fallbacks as the params say);
 *  - with ordinary data: outputs and lse are finite and a few rows match a float64 reference
 *    over the plan's mask.
 *
 * Memory: every view the library may read is backed: exactly its byte extent is allocated (so
 * ASan sees a read or write past it), or, for views of terabyte-scale strides, a lazily mapped
 * region. A view too large even for that is only passed when the call has another fault that
 * the library must report before touching memory (validation precedes any access).
 *
 * Build: cmake -DSA_FUZZ=ON (clang: -fsanitize=fuzzer,address,undefined); see docs/GUARANTEES.md.
 */
#include "sampleattn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FUZZ_CHECK(cond, ...)                                                                \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "\nfuzz_api: check failed at %s:%d: %s\n  ", __FILE__, __LINE__, \
                    #cond);                                                                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            describe_scenario();                                                             \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static void describe_scenario(void);

/* ---------------------------------------------------------------- input reader */
typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static uint64_t take(reader *r, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v <<= 8;
        if (r->n) { v |= *r->p++; r->n--; }
    }
    return v;
}
static uint32_t byte_(reader *r) { return (uint32_t)take(r, 1); }
static uint32_t pick(reader *r, uint32_t n) { return n <= 1 ? 0 : (uint32_t)(take(r, n > 256 ? 2 : 1) % n); }
/* 1 with probability 1/one_in; 0 when the input is exhausted (zeros mean "the common case"). */
static int chance(reader *r, uint32_t one_in) { return one_in <= 1 || pick(r, one_in) == 1; }

static uint64_t rng_state;
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float uniform(void) { return (float)(rng() >> 40) / (float)(1 << 23) - 1.0f; }

/* ---------------------------------------------------------------- dtypes */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    float f;
    if (e == 0) {
        f = ldexpf((float)m, -24);
        memcpy(&bits, &f, 4);
        bits |= sign;
    } else if (e == 31) {
        bits = sign | 0x7f800000u | (m << 13);
    } else {
        bits = sign | ((e + 112) << 23) | (m << 13);
    }
    memcpy(&f, &bits, 4);
    return f;
}
static uint16_t f32_to_f16(float f) {   /* round to nearest even, with subnormals, Inf, NaN */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   /* rounds to >= 65520: Inf */
    if (ax < 0x38800000u) {                                      /* subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint16_t)lrintf(a * 16777216.0f));
    }
    uint32_t e = (ax >> 23) - 112, m = ax & 0x7fffffu;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}
static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}
static int valid_dtype(sa_dtype t) { return t == SA_DTYPE_F32 || t == SA_DTYPE_F16 || t == SA_DTYPE_BF16; }
static int64_t elsize(sa_dtype t) { return t == SA_DTYPE_F32 ? 4 : 2; }
static float load_el(const void *p, sa_dtype t) {
    if (t == SA_DTYPE_F32) { float f; memcpy(&f, p, 4); return f; }
    uint16_t h;
    memcpy(&h, p, 2);
    return t == SA_DTYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}
static void store_el(void *p, sa_dtype t, float f) {
    if (t == SA_DTYPE_F32) { memcpy(p, &f, 4); return; }
    uint16_t h = t == SA_DTYPE_F16 ? f32_to_f16(f) : f32_to_bf16(f);
    memcpy(p, &h, 2);
}

/* ---------------------------------------------------------------- status sets */
typedef uint32_t status_set;   /* bit s = status s */
#define BIT(s) (1u << (s))

/* ---------------------------------------------------------------- scenario */
enum { VQ, VK, VV, VOUT, N_VIEWS };
static const char *const view_names[N_VIEWS] = {"q", "k", "v", "out"};
#define BIG_VIEW_BYTES ((int64_t)1 << 42)   /* lazily mapped up to this */
#define HEAP_VIEW_BYTES ((int64_t)4 << 20)  /* malloc'd up to this (whole-buffer checks) */

typedef struct {
    sa_tensor t;          /* as passed (data set after placement) */
    int pass_null;        /* pass a NULL sa_tensor* */
    int null_data;        /* data = NULL */
    int misalign;         /* data off by one byte from its element alignment */
    int layout;           /* generator choice, for the report */
    /* model */
    status_set faults;    /* certain faults of this view alone */
    status_set tolerated; /* conservative refusals the library may make */
    int sane;             /* sizes, strides, dtype all valid: extent computable */
    int64_t st, sh;       /* effective strides (0,0 resolved) */
    __int128 min_off, max_off;   /* element offsets of the extent: [min_off, max_off) */
    __int128 span_bytes;
    int backable;
    /* placement */
    int buf;              /* buffer index */
    int64_t off;          /* byte offset of element (0,0,0) in the buffer */
} view_spec;

typedef struct {
    unsigned char *mem;
    size_t size;
    int mapped;           /* mmap (lazily mapped, not snapshotted as a whole) */
    unsigned char *snap;  /* full snapshot (heap buffers) */
} buffer;

#define MAX_BUFS 8
typedef struct {
    /* contexts and call options */
    int ctx_null, ctx_threads_first;   /* which context runs first: 1 or 2 threads */
    uint64_t mem_limit;
    /* params */
    int p_null;
    uint32_t p_size;                   /* struct_size written into the buffer */
    size_t p_alloc;
    unsigned char *p_buf;
    int p_tail_nonzero;
    sa_params eff;                     /* what the library should see (defaults + caller bytes) */
    /* views */
    view_spec v[N_VIEWS];
    int lse_on, lse_buf;
    int64_t lse_off;
    int stats_on;
    uint32_t stats_size;
    size_t stats_alloc;
    unsigned char *stats_buf;
    int plan_out_null;
    /* data */
    int data_mode;                     /* 0 uniform, 1 with specials, 2 raw bytes */
    float amplitude;
    /* buffers */
    buffer bufs[MAX_BUFS];
    int n_bufs;
    int alias_mode;
    int inputs_share;                  /* two inputs share bytes: what one reads is the other's data */
    /* derived */
    int64_t sq, sk, hq, hkv, d;        /* nominal shape (from q and k) */
    int extra;                         /* bits: extra checks */
} scenario;

static scenario sc;
static sa_context *ctx1, *ctx2;

static void describe_scenario(void) {
    fprintf(stderr, "scenario: ctx_null %d first-ctx threads %d mem_limit %llu p_null %d p_size %u alias %d data %d\n",
            sc.ctx_null, sc.ctx_threads_first, (unsigned long long)sc.mem_limit, sc.p_null, sc.p_size, sc.alias_mode,
            sc.data_mode);
    if (!sc.p_null)
        fprintf(stderr, "  params(eff): mode %d alpha %g window %g sample %g sinks %d min_seq %d max_density %g scale %g "
                "flags %u min_str %d max_str %d group %d max_diag %d alpha_c %g alpha_s %g chunk_n %d block %d\n", (int)sc.eff.mode, sc.eff.alpha, sc.eff.window_ratio,
                sc.eff.sample_ratio, (int)sc.eff.sink_tokens, (int)sc.eff.min_seq_len, sc.eff.max_density,
                sc.eff.scale, (unsigned)sc.eff.flags, (int)sc.eff.min_stripes, (int)sc.eff.max_stripes,
                (int)sc.eff.sample_group, (int)sc.eff.max_diagonals, sc.eff.alpha_column, sc.eff.alpha_slash,
                (int)sc.eff.chunk_n, (int)sc.eff.block_size);
    for (int i = 0; i < N_VIEWS; i++) {
        const view_spec *v = &sc.v[i];
        fprintf(stderr, "  %-3s null %d data_null %d dtype %d res %d shape [%lld %lld %lld] strides (%lld %lld) "
                "layout %d misalign %d faults 0x%x tol 0x%x buf %d off %lld\n", view_names[i], v->pass_null,
                v->null_data, (int)v->t.dtype, (int)v->t.reserved, (long long)v->t.n_tokens, (long long)v->t.n_heads,
                (long long)v->t.head_dim, (long long)v->t.stride_token, (long long)v->t.stride_head, v->layout,
                v->misalign, v->faults, v->tolerated, v->buf, (long long)v->off);
    }
    fprintf(stderr, "  lse %d (buf %d off %lld) stats %d size %u plan_out_null %d\n", sc.lse_on, sc.lse_buf,
            (long long)sc.lse_off, sc.stats_on, sc.stats_size, sc.plan_out_null);
}

/* ---------------------------------------------------------------- view model */
static const int64_t LIM40 = (int64_t)1 << 40;

/* True element overlap of a [T, H, D] view with strides st, sh >= 0 (exact): is there a
   (dt, dh) != (0, 0), |dt| < T, |dh| < H, with |dt*st + dh*sh| < D? */
static __int128 floor_div(__int128 a, __int128 b) { __int128 q = a / b; return (a % b != 0 && a < 0) ? q - 1 : q; }
static __int128 ceil_div(__int128 a, __int128 b) { __int128 q = a / b; return (a % b != 0 && a > 0) ? q + 1 : q; }
static int rule_refuses(int64_t T, int64_t H, int64_t D, int64_t st, int64_t sh);
static int true_overlap(int64_t T, int64_t H, int64_t D, int64_t st, int64_t sh) {
    if (H > T) {   /* symmetric: loop over the smaller dimension */
        int64_t a = T, b = st;
        T = H; st = sh; H = a; sh = b;
    }
    if (H > 100000) return rule_refuses(T, H, D, st, sh);   /* both huge: the sufficient rule */
    for (int64_t dh = -(H - 1); dh <= H - 1; dh++) {
        __int128 off = (__int128)dh * sh;
        int near = off < D && off > -D;
        if (T == 1) {
            if (dh != 0 && near) return 1;
            continue;
        }
        if (st == 0) {
            if (near) return 1;   /* any dt != 0 (T > 1) */
            continue;
        }
        __int128 lo = floor_div(-(__int128)D - off, st) + 1, hi = ceil_div((__int128)D - off, st) - 1;
        if (lo < -(T - 1)) lo = -(T - 1);
        if (hi > T - 1) hi = T - 1;
        if (lo > hi) continue;
        if (dh != 0 || lo != 0 || hi != 0) return 1;
    }
    return 0;
}

/* The library's (sufficient) non-overlap rule: sort the outer dims by stride; each stride must
   step past the whole block inside it. Returns 1 if the rule refuses the view. */
static int rule_refuses(int64_t T, int64_t H, int64_t D, int64_t st, int64_t sh) {
    int64_t s[2], n[2];
    int k = 0;
    if (T > 1) { s[k] = st; n[k] = T; k++; }
    if (H > 1) { s[k] = sh; n[k] = H; k++; }
    if (k == 2 && s[1] < s[0]) {
        int64_t a = s[0], b = n[0];
        s[0] = s[1]; n[0] = n[1]; s[1] = a; n[1] = b;
    }
    __int128 inner = D;
    for (int i = 0; i < k; i++) {
        if (s[i] < inner) return 1;
        inner = (__int128)s[i] * (n[i] - 1) + inner;
    }
    return 0;
}

static void model_view(view_spec *v) {
    const sa_tensor *t = &v->t;
    v->faults = 0;
    v->tolerated = 0;
    v->sane = 0;
    if (v->pass_null || v->null_data) { v->faults |= BIT(SA_ERR_NULL_ARGUMENT); return; }
    int ok = 1;
    if (!valid_dtype(t->dtype)) { v->faults |= BIT(SA_ERR_INVALID_DTYPE); ok = 0; }
    if (t->reserved != 0) { v->faults |= BIT(SA_ERR_INVALID_STRIDE); ok = 0; }
    if (t->n_tokens <= 0 || t->n_heads <= 0 || t->head_dim <= 0) { v->faults |= BIT(SA_ERR_INVALID_SHAPE); ok = 0; }
    if (t->head_dim > 0 && (t->head_dim % 8 != 0 || t->head_dim > 256)) { v->faults |= BIT(SA_ERR_UNSUPPORTED_HEAD_DIM); ok = 0; }
    if (t->stride_token < 0 || t->stride_head < 0) { v->faults |= BIT(SA_ERR_INVALID_STRIDE); ok = 0; }
    if (t->n_tokens >= LIM40 || t->n_heads >= LIM40 || t->stride_token >= LIM40 || t->stride_head >= LIM40) {
        v->faults |= BIT(SA_ERR_OVERFLOW);
        ok = 0;
    }
    if (!ok) return;
    int64_t T = t->n_tokens, H = t->n_heads, D = t->head_dim;
    v->st = t->stride_token;
    v->sh = t->stride_head;
    if (v->st == 0 && v->sh == 0) { v->st = H * D; v->sh = D; }
    v->min_off = 0;
    v->max_off = (__int128)(T - 1) * v->st + (__int128)(H - 1) * v->sh + D;
    v->span_bytes = v->max_off * elsize(t->dtype);
    if (v->span_bytes > ((__int128)1 << 47)) { v->faults |= BIT(SA_ERR_OVERFLOW); return; }
    if (true_overlap(T, H, D, v->st, v->sh)) v->faults |= BIT(SA_ERR_OVERLAPPING_VIEW);
    else if (rule_refuses(T, H, D, v->st, v->sh)) v->tolerated |= BIT(SA_ERR_OVERLAPPING_VIEW);
    if (v->faults) return;
    v->sane = 1;
    v->backable = v->span_bytes + 8 <= BIG_VIEW_BYTES && T * H * D <= ((int64_t)1 << 22);
}

/* ---------------------------------------------------------------- generation */
static int64_t gen_size(reader *r, int64_t nominal, int is_dim) {
    if (!chance(r, 24)) return nominal;
    static const int64_t bad[] = {0, -1, -8, INT64_MIN, (int64_t)1 << 40, ((int64_t)1 << 40) - 1, INT64_MAX,
                                  (int64_t)1 << 39, 3, 264, 257, 12, 1000};
    static const int64_t other[] = {1, 2, 5, 7, 8, 16, 64, 96, 128, 256, 299, 300};
    if (chance(r, 2)) return bad[pick(r, sizeof bad / sizeof bad[0])];
    int64_t x = other[pick(r, sizeof other / sizeof other[0])];
    return is_dim ? (x + 7) / 8 * 8 : x;
}

static void gen_view(reader *r, view_spec *v, int64_t T, int64_t H, int64_t D, int is_out) {
    memset(v, 0, sizeof *v);
    v->t.n_tokens = gen_size(r, T, 0);
    v->t.n_heads = gen_size(r, H, 0);
    v->t.head_dim = gen_size(r, D, 1);
    uint32_t dt = byte_(r);
    v->t.dtype = dt < 240 ? (sa_dtype)(dt % 3) : (sa_dtype)(int32_t[]){3, -1, 255, INT32_MAX, INT32_MIN, 4}[dt % 6];
    if (chance(r, 64)) v->t.reserved = (int32_t)(1 + pick(r, 1000));
    v->pass_null = chance(r, 200);
    v->null_data = chance(r, 200);
    v->misalign = chance(r, 48);
    T = v->t.n_tokens; H = v->t.n_heads; D = v->t.head_dim;
    int64_t t1 = T > 0 && T < 4096 ? T : 1, h1 = H > 0 && H < 4096 ? H : 1, d1 = D > 0 && D < 4096 ? D : 8;
    uint32_t layout = pick(r, is_out ? 20 : 18);
    v->layout = (int)layout;
    int64_t st = 0, sh = 0;
    switch (layout) {
    case 0: case 1: case 2: case 3: break;                                     /* 0,0: dense */
    case 4: case 5: st = h1 * d1; sh = d1; break;                              /* token-major */
    case 6: case 7: st = d1; sh = t1 * d1; break;                              /* head-major */
    case 8: sh = d1 + pick(r, 17); st = h1 * sh + pick(r, 33); break;          /* padded token-major */
    case 9: st = d1 + pick(r, 17); sh = t1 * st + pick(r, 33); break;          /* padded head-major */
    case 10: st = pick(r, (uint32_t)(3 * h1 * d1 + 1)); sh = pick(r, (uint32_t)(3 * d1 + 1)); break;   /* random */
    case 11:                                                                   /* negative */
        st = h1 * d1; sh = d1;
        if (chance(r, 2)) st = -(int64_t)(1 + pick(r, 5000)); else sh = -(int64_t)(1 + pick(r, 5000));
        if (chance(r, 8)) st = INT64_MIN;
        break;
    case 12: {                                                                 /* huge */
        static const int64_t huge[] = {(int64_t)1 << 40, ((int64_t)1 << 40) - 1, (int64_t)1 << 39, (int64_t)1 << 35,
                                       (int64_t)1 << 45, INT64_MAX, (int64_t)1 << 62, (int64_t)1 << 44};
        st = h1 * d1; sh = d1;
        if (chance(r, 2)) st = huge[pick(r, 8)]; else sh = huge[pick(r, 8)];
        break;
    }
    case 13:                                                                   /* size-1 dims, any stride */
        st = T == 1 ? (int64_t)pick(r, 65536) * (chance(r, 2) ? 1 : 65537) : h1 * d1;
        sh = H == 1 ? (int64_t)pick(r, 65536) * (chance(r, 2) ? 1 : 4099) : d1;
        if (T != 1 && H != 1) { st = h1 * d1; sh = d1; }
        break;
    case 14:                                                                   /* overlapping */
        st = h1 * d1; sh = d1;
        if (chance(r, 2)) st = pick(r, (uint32_t)(h1 * d1)); else sh = pick(r, (uint32_t)d1);
        break;
    case 15: {                                                                 /* terabyte-scale */
        int shift = 20 + (int)pick(r, 16);
        if (chance(r, 2)) { st = (int64_t)1 << shift; sh = d1 * (1 + pick(r, 2)); }
        else { sh = (int64_t)1 << shift; st = d1 * (1 + pick(r, 2)); }
        break;
    }
    case 16: st = d1; sh = d1 * t1 + d1; break;   /* head-major with a gap */
    default: st = h1 * d1 + 8 * pick(r, 4); sh = d1; break;
    }
    v->t.stride_token = st;
    v->t.stride_head = sh;
}

static float gen_float(reader *r, const float *common, int n_common) {
    static const float bad[] = {0.0f, -0.0f, -1e-30f, 1.0000001f, -0.5f, 2.0f, NAN, -NAN, INFINITY, -INFINITY,
                                1e-45f, 3.4e38f, 1e30f, 0.5f, 1.0f};
    if (!chance(r, 40)) return common[pick(r, (uint32_t)n_common)];
    if (chance(r, 4)) {
        uint32_t bits = (uint32_t)take(r, 4);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    return bad[pick(r, sizeof bad / sizeof bad[0])];
}
static int32_t gen_int(reader *r, const int32_t *common, int n_common) {
    static const int32_t bad[] = {-1, INT32_MIN, INT32_MAX, 0, 1, 257, 256, 1000000, 65536};
    if (!chance(r, 40)) return common[pick(r, (uint32_t)n_common)];
    if (chance(r, 4)) return (int32_t)take(r, 4);
    return bad[pick(r, sizeof bad / sizeof bad[0])];
}

static void gen_params(reader *r) {
    sc.p_null = chance(r, 40);
    sa_params p;
    sa_params_default(&p);
    static const float alphas[] = {0.95f, 0.5f, 1.0f, 0.99f, 0.1f, 0.8f};
    static const float windows[] = {0.08f, 0.0f, 0.1f, 0.25f, 1.0f, 0.01f};
    static const float samples[] = {0.05f, 0.1f, 0.2f, 1.0f, 0.5f, 0.01f};
    static const float densities[] = {0.75f, 1.0f, 0.5f, 0.9f, 0.05f, 0.3f};
    static const float scales[] = {0.0f, 0.0f, 0.125f, 1.0f, 0.05f, 2.0f};
    static const int32_t sinks[] = {4, 0, 1, 2, 16, 64};
    static const int32_t min_seqs[] = {0, 0, 0, 2048, 64, 200};
    static const int32_t min_str[] = {0, 0, 1, 4, 50};
    static const int32_t max_str[] = {0, 0, 1, 3, 8, 100};
    static const int32_t groups[] = {16, 16, 1, 4, 32, 256, 7};
    uint32_t m = byte_(r);
    p.mode = m < 100 ? SA_MODE_DENSE : m < 210 ? SA_MODE_SAMPLE : m < 250 ? SA_MODE_SAMPLE_SLASH
           : (int32_t[]){2, 3, -1, INT32_MAX, 100, 2}[m % 6];
    p.alpha = gen_float(r, alphas, 6);
    p.window_ratio = gen_float(r, windows, 6);
    p.sample_ratio = gen_float(r, samples, 6);
    p.sink_tokens = gen_int(r, sinks, 6);
    p.min_seq_len = gen_int(r, min_seqs, 6);
    p.max_density = gen_float(r, densities, 6);
    p.scale = gen_float(r, scales, 6);
    uint32_t f = byte_(r);
    p.flags = f < 240 ? f % 4 : (uint32_t)take(r, 4) | 4u;
    p.min_stripes = gen_int(r, min_str, 5);
    p.max_stripes = gen_int(r, max_str, 6);
    p.sample_group = gen_int(r, groups, 7);
    static const float alpha_cs[] = {0.95f, 0.8f, 0.5f, 1.0f, 0.99f};
    static const int32_t chunks[] = {2, 1, 4, 64, 3};
    static const int32_t blocks[] = {64, 16, 32, 48, 80, 96};
    p.alpha_column = gen_float(r, alpha_cs, 5);
    p.alpha_slash = gen_float(r, alpha_cs, 5);
    p.chunk_n = gen_int(r, chunks, 5);
    p.block_size = gen_int(r, blocks, 6);
    static const int32_t diagonals[] = {64, 0, 1, 3, 1000, -1};
    p.max_diagonals = gen_int(r, diagonals, 6);
    /* struct_size: current, old (40..55), too small, larger with a zero or nonzero tail */
    uint32_t s = byte_(r);
    uint32_t size = sizeof(sa_params);
    if (s >= 224) {
        static const uint32_t sizes[] = {40, 44, 48, 52, 56, 0, 4, 39, 68, 64, 128, 4096, 4097, 60, 1000, 100000};
        size = sizes[s % 16];
    }
    if (size > 65536) size = 4097 + pick(r, 1000);
    sc.p_size = size;
    sc.p_alloc = size < sizeof(sa_params) ? (size < 4 ? 4 : size) : size;
    /* An old caller's struct is exactly struct_size bytes long: the library must read no more. */
    if (size >= 40 && size < sizeof(sa_params)) sc.p_alloc = size;
    else if (size < 40) sc.p_alloc = sizeof(sa_params);   /* refused anyway; give it room */
    sc.p_buf = calloc(1, sc.p_alloc);
    p.struct_size = size;
    memcpy(sc.p_buf, &p, sc.p_alloc < sizeof p ? sc.p_alloc : sizeof p);
    sc.p_tail_nonzero = 0;
    if (sc.p_alloc > sizeof p && chance(r, 3)) {
        sc.p_buf[sizeof p + pick(r, (uint32_t)(sc.p_alloc - sizeof p))] = (unsigned char)(1 + pick(r, 255));
        sc.p_tail_nonzero = 1;
    }
    /* What the library sees: defaults, overwritten by the caller's first struct_size bytes. */
    sa_params_default(&sc.eff);
    if (!sc.p_null && size >= 40)
        memcpy(&sc.eff, sc.p_buf, size < sizeof p ? size : sizeof p);
}

static status_set params_faults(status_set *tolerated) {
    status_set f = 0;
    if (sc.p_null) return 0;
    if (sc.p_size < 40) return BIT(SA_ERR_STRUCT_SIZE);
    if (sc.p_size > sizeof(sa_params) && sc.p_tail_nonzero) f |= BIT(SA_ERR_STRUCT_SIZE);
    if (sc.p_size > 4096) *tolerated |= BIT(SA_ERR_STRUCT_SIZE);   /* implausible size: may be refused */
    const sa_params *p = &sc.eff;
    if (p->mode != SA_MODE_DENSE && p->mode != SA_MODE_SAMPLE && p->mode != SA_MODE_SAMPLE_SLASH)
        f |= BIT(SA_ERR_INVALID_MODE);
    if (p->flags & ~(uint32_t)SA_FLAG_ALL) f |= BIT(SA_ERR_UNKNOWN_FLAG);
    if (!(isfinite(p->scale) && p->scale >= 0)) f |= BIT(SA_ERR_INVALID_SCALE);
    int bad = !(p->alpha > 0 && p->alpha <= 1) || !(p->window_ratio >= 0 && p->window_ratio <= 1) ||
              !(p->sample_ratio > 0 && p->sample_ratio <= 1) || p->sink_tokens < 0 || p->min_seq_len < 0 ||
              !(p->max_density > 0 && p->max_density <= 1) || p->min_stripes < 0 || p->max_stripes < 0 ||
              (p->max_stripes > 0 && p->max_stripes < p->min_stripes) || p->sample_group < 1 ||
              p->sample_group > 256 || p->max_diagonals < 0 || !(p->alpha_column > 0 && p->alpha_column <= 1) ||
              !(p->alpha_slash > 0 && p->alpha_slash <= 1) || p->chunk_n < 1 || p->chunk_n > 64 ||
              p->block_size < 16 || p->block_size > 96 || p->block_size % 16 != 0;
    if (bad) f |= BIT(SA_ERR_INVALID_PARAM);
    return f;
}

/* Byte ranges of a view's elements, for overlap tests (sane views only). */
static int64_t row_offset(const view_spec *v, int64_t t, int64_t h) { return (t * v->st + h * v->sh) * elsize(v->t.dtype); }

/* Marks the bytes of view v (placed at v->off in a buffer of `size` bytes) in bitmap bm. */
static void mark_view(unsigned char *bm, const view_spec *v) {
    int64_t rb = v->t.head_dim * elsize(v->t.dtype);
    for (int64_t t = 0; t < v->t.n_tokens; t++)
        for (int64_t h = 0; h < v->t.n_heads; h++) {
            int64_t o = v->off + row_offset(v, t, h);
            for (int64_t b = 0; b < rb; b++) bm[(o + b) >> 3] |= (unsigned char)(1u << ((o + b) & 7));
        }
}
static int hits_view(const unsigned char *bm, const view_spec *v) {
    int64_t rb = v->t.head_dim * elsize(v->t.dtype);
    for (int64_t t = 0; t < v->t.n_tokens; t++)
        for (int64_t h = 0; h < v->t.n_heads; h++) {
            int64_t o = v->off + row_offset(v, t, h);
            for (int64_t b = 0; b < rb; b++)
                if (bm[(o + b) >> 3] & (1u << ((o + b) & 7))) return 1;
        }
    return 0;
}
static int hits_range(const unsigned char *bm, int64_t lo, int64_t n) {
    for (int64_t b = lo; b < lo + n; b++)
        if (bm[b >> 3] & (1u << (b & 7))) return 1;
    return 0;
}

/* ---------------------------------------------------------------- buffers */
static int new_buffer(size_t size, int mapped) {
    buffer *b = &sc.bufs[sc.n_bufs];
    memset(b, 0, sizeof *b);
    b->size = size ? size : 1;
    b->mapped = mapped;
    if (mapped) {
        void *m = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return -1;
        b->mem = m;
    } else {
        b->mem = malloc(b->size);
        if (!b->mem) return -1;
    }
    return sc.n_bufs++;
}

static void free_buffers(void) {
    for (int i = 0; i < sc.n_bufs; i++) {
        buffer *b = &sc.bufs[i];
        if (b->mapped) munmap(b->mem, b->size);
        else free(b->mem);
        free(b->snap);
    }
    sc.n_bufs = 0;
}

/* Element bytes of a placed, sane view (mapped buffers: the views' rows are all we compare). */
static void *elem(const view_spec *v, int64_t t, int64_t h, int64_t c) {
    return sc.bufs[v->buf].mem + v->off + row_offset(v, t, h) + c * elsize(v->t.dtype);
}

/* Collects the element bytes of view v into a compact array (for comparisons). */
static unsigned char *gather(const view_spec *v, size_t *n) {
    int64_t rb = v->t.head_dim * elsize(v->t.dtype);
    *n = (size_t)(v->t.n_tokens * v->t.n_heads * rb);
    unsigned char *g = malloc(*n ? *n : 1), *w = g;
    for (int64_t t = 0; t < v->t.n_tokens; t++)
        for (int64_t h = 0; h < v->t.n_heads; h++, w += rb) memcpy(w, elem(v, t, h, 0), (size_t)rb);
    return g;
}

/* ---------------------------------------------------------------- data */
static float gen_value(reader *r, int64_t idx) {
    (void)r;
    switch (sc.data_mode) {
    case 1: {
        uint64_t x = rng();
        if ((x & 63) == 0) {
            static const float sp[] = {NAN, INFINITY, -INFINITY, 1e30f, -3e38f, 1e-40f, -0.0f, 65504.0f, 7e4f};
            return sp[(x >> 8) % 9];
        }
        return sc.amplitude * uniform();
    }
    case 2: {
        uint64_t x = rng() ^ (uint64_t)idx;
        uint32_t bits = (uint32_t)(x >> 16);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    default:
        return sc.amplitude * uniform();
    }
}

static void fill_view(reader *r, const view_spec *v) {
    int64_t n = 0;
    for (int64_t t = 0; t < v->t.n_tokens; t++)
        for (int64_t h = 0; h < v->t.n_heads; h++)
            for (int64_t c = 0; c < v->t.head_dim; c++) store_el(elem(v, t, h, c), v->t.dtype, gen_value(r, n++));
}

/* ---------------------------------------------------------------- snapshots */
typedef struct {
    unsigned char *bytes[MAX_BUFS];   /* heap buffers: whole copies */
    unsigned char *rows[N_VIEWS];     /* mapped buffers: gathered view elements */
    size_t rows_n[N_VIEWS];
    unsigned char *stats, *params;
} snapshot;

static void take_snapshot(snapshot *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < sc.n_bufs; i++)
        if (!sc.bufs[i].mapped) {
            s->bytes[i] = malloc(sc.bufs[i].size);
            memcpy(s->bytes[i], sc.bufs[i].mem, sc.bufs[i].size);
        }
    for (int i = 0; i < N_VIEWS; i++)
        if (sc.v[i].buf >= 0 && sc.bufs[sc.v[i].buf].mapped) s->rows[i] = gather(&sc.v[i], &s->rows_n[i]);
    if (sc.stats_buf) { s->stats = malloc(sc.stats_alloc); memcpy(s->stats, sc.stats_buf, sc.stats_alloc); }
    s->params = malloc(sc.p_alloc);
    memcpy(s->params, sc.p_buf, sc.p_alloc);
}
static void free_snapshot(snapshot *s) {
    for (int i = 0; i < MAX_BUFS; i++) free(s->bytes[i]);
    for (int i = 0; i < N_VIEWS; i++) free(s->rows[i]);
    free(s->stats);
    free(s->params);
}
static void restore_snapshot(const snapshot *s) {
    for (int i = 0; i < sc.n_bufs; i++)
        if (s->bytes[i]) memcpy(sc.bufs[i].mem, s->bytes[i], sc.bufs[i].size);
    for (int i = 0; i < N_VIEWS; i++)
        if (s->rows[i]) {
            const view_spec *v = &sc.v[i];
            int64_t rb = v->t.head_dim * elsize(v->t.dtype);
            const unsigned char *g = s->rows[i];
            for (int64_t t = 0; t < v->t.n_tokens; t++)
                for (int64_t h = 0; h < v->t.n_heads; h++, g += rb) memcpy(elem(v, t, h, 0), g, (size_t)rb);
        }
    if (s->stats) memcpy(sc.stats_buf, s->stats, sc.stats_alloc);
}

/* Everything the library may not write is unchanged; `writable` = out's elements and lse may
   differ (only after a success). */
static void check_unchanged(const snapshot *s, int writable, const char *call) {
    FUZZ_CHECK(memcmp(s->params, sc.p_buf, sc.p_alloc) == 0, "%s wrote its params", call);
    if (s->stats) {
        if (!writable) FUZZ_CHECK(memcmp(s->stats, sc.stats_buf, sc.stats_alloc) == 0, "%s failed but wrote stats", call);
        size_t covered = sc.stats_size < sizeof(sa_stats) ? sc.stats_size : sizeof(sa_stats);
        FUZZ_CHECK(memcmp(s->stats, sc.stats_buf, 4) == 0, "%s changed stats.struct_size", call);
        if (sc.stats_alloc > covered)
            FUZZ_CHECK(memcmp(s->stats + covered, sc.stats_buf + covered, sc.stats_alloc - covered) == 0,
                       "%s wrote stats past struct_size (%u)", call, sc.stats_size);
    }
    for (int i = 0; i < sc.n_bufs; i++) {
        if (!s->bytes[i]) continue;
        if (!writable) {
            FUZZ_CHECK(memcmp(s->bytes[i], sc.bufs[i].mem, sc.bufs[i].size) == 0,
                       "%s failed but changed buffer %d (out untouched on failure)", call, i);
            continue;
        }
        /* Mask of bytes that may change: out's elements and lse in this buffer. */
        size_t nb = (sc.bufs[i].size + 7) / 8;
        unsigned char *bm = calloc(1, nb);
        if (sc.v[VOUT].buf == i && sc.v[VOUT].sane) mark_view(bm, &sc.v[VOUT]);
        if (sc.lse_on && sc.lse_buf == i)
            for (int64_t b = sc.lse_off; b < sc.lse_off + 4 * sc.hq * sc.sq; b++) bm[b >> 3] |= (unsigned char)(1u << (b & 7));
        for (size_t b = 0; b < sc.bufs[i].size; b++) {
            if ((b & 7) == 0 && b + 8 <= sc.bufs[i].size && bm[b >> 3] == 0 &&
                memcmp(s->bytes[i] + b, sc.bufs[i].mem + b, 8) == 0) {
                b += 7;   /* 8 unmasked, unchanged bytes at once */
                continue;
            }
            if (!(bm[b >> 3] & (1u << (b & 7))))
                FUZZ_CHECK(s->bytes[i][b] == sc.bufs[i].mem[b], "%s wrote byte %zu of buffer %d outside out/lse", call,
                           b, i);
        }
        free(bm);
    }
    for (int i = 0; i < N_VIEWS; i++) {
        if (!s->rows[i] || (writable && i == VOUT)) continue;
        size_t n;
        unsigned char *g = gather(&sc.v[i], &n);
        FUZZ_CHECK(n == s->rows_n[i] && memcmp(g, s->rows[i], n) == 0, "%s changed the elements of %s", call,
                   view_names[i]);
        free(g);
    }
}

/* ---------------------------------------------------------------- float64 reference */
typedef struct {
    int dense;
    int64_t window, n;
    const int64_t *idx;
    /* diagonal offsets (block_size > 0): key j <= p is also kept when p / bs - j / bs is one of
       them (slash heads: blocks, window 0; seed heads: bs 1, diagonal stripes) */
    int64_t bs, noffs;
    const int64_t *offs;
} mask;

static int in_list(const int64_t *a, int64_t n, int64_t x) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] == x) return 1;
    return 0;
}

static int keeps(const mask *m, int64_t p, int64_t j) {
    if (j > p) return 0;
    if (m->dense) return 1;
    if (j > p - m->window) return 1;
    if (in_list(m->idx, m->n, j)) return 1;
    return m->bs > 0 && in_list(m->offs, m->noffs, p / m->bs - j / m->bs);
}

/* Checks row i of head h of out (and lse) against float64 attention over mask m. */
static void check_row(int64_t i, int64_t h, const mask *m, const float *lse, const char *what) {
    const view_spec *q = &sc.v[VQ], *k = &sc.v[VK], *v = &sc.v[VV], *o = &sc.v[VOUT];
    int64_t d = sc.d, kh = h / (sc.hq / sc.hkv), p = sc.sk - sc.sq + i;
    double scale = sc.eff.scale != 0 ? (double)sc.eff.scale : 1.0 / sqrt((double)d);
    double *s = malloc(sizeof(double) * (size_t)sc.sk), mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < sc.sk; j++) {
        s[j] = -INFINITY;
        if (!keeps(m, p, j)) continue;
        double dot = 0;
        for (int64_t c = 0; c < d; c++)
            dot += (double)load_el(elem(q, i, h, c), q->t.dtype) * (double)load_el(elem(k, j, kh, c), k->t.dtype);
        s[j] = dot * scale;
        if (s[j] > mx) mx = s[j];
    }
    double *acc = calloc((size_t)d, sizeof(double));
    for (int64_t j = 0; j < sc.sk; j++) {
        if (s[j] == -INFINITY) continue;
        double w = exp(s[j] - mx);
        sum += w;
        for (int64_t c = 0; c < d; c++) acc[c] += w * (double)load_el(elem(v, j, kh, c), v->t.dtype);
    }
    for (int64_t c = 0; c < d; c++) {
        double ref = acc[c] / sum, got = load_el(elem(o, i, h, c), o->t.dtype);
        FUZZ_CHECK(fabs(got - ref) <= 2e-2 * sc.amplitude + 1e-2 * fabs(ref), "%s: out[%lld, %lld, %lld] = %g, reference %g",
                   what, (long long)i, (long long)h, (long long)c, got, ref);
    }
    if (lse) {
        double ref = mx + log(sum), got = lse[h * sc.sq + i];
        FUZZ_CHECK(fabs(got - ref) <= 1e-3 * (1 + fabs(ref)), "%s: lse[%lld, %lld] = %g, reference %g", what,
                   (long long)h, (long long)i, got, ref);
    }
    free(s);
    free(acc);
}

/* ---------------------------------------------------------------- checks of results */
/* Status histogram per call, printed at exit when FUZZ_API_STATS is set (what the run covered). */
static const char *const call_names[] = {"sa_plan_create", "sa_attention", "sa_plan_apply", "sa_attention (other context)"};
static unsigned long histogram[4][SA_STATUS_COUNT], tolerated_hits[4], sparse_heads, dense_heads;
static void print_histogram(void) {
    for (int c = 0; c < 4; c++) {
        fprintf(stderr, "%-30s", call_names[c]);
        for (int s = 0; s < SA_STATUS_COUNT; s++)
            if (histogram[c][s]) fprintf(stderr, " %d:%lu", s, histogram[c][s]);
        fprintf(stderr, " (tolerated refusals %lu)\n", tolerated_hits[c]);
    }
    fprintf(stderr, "plan heads: %lu sparse, %lu dense\n", sparse_heads, dense_heads);
}
static void count(const char *call, sa_status s, int tolerated) {
    for (int c = 0; c < 4; c++)
        if (strcmp(call, call_names[c]) == 0) { histogram[c][s]++; tolerated_hits[c] += (unsigned long)tolerated; }
}

static void check_status(sa_status s, const char *call) {
    FUZZ_CHECK(s >= 0 && s < SA_STATUS_COUNT, "%s returned unknown status %d", call, (int)s);
    FUZZ_CHECK(s != SA_ERR_INTERNAL, "%s returned SA_ERR_INTERNAL", call);
    FUZZ_CHECK(s != SA_ERR_CONTEXT_BUSY, "%s returned SA_ERR_CONTEXT_BUSY on a single thread", call);
}

static void check_outcome(sa_status s, status_set certain, status_set tolerated, sa_context *ctx, const char *call) {
    check_status(s, call);
    if (ctx) {
        const char *m = sa_context_last_error(ctx);
        FUZZ_CHECK(m != NULL, "%s: last_error NULL", call);
        if (s == SA_OK) FUZZ_CHECK(m[0] == '\0', "%s succeeded but last_error is \"%s\"", call, m);
        else FUZZ_CHECK(m[0] != '\0', "%s failed with %d but last_error is empty", call, (int)s);
    }
    count(call, s, s != SA_OK && !(certain & BIT(s)) && (tolerated & BIT(s)));
    if (certain) {
        FUZZ_CHECK(s != SA_OK, "%s accepted an input with faults 0x%x", call, certain);
        FUZZ_CHECK((certain | tolerated) & BIT(s), "%s returned %d (%s: %s), expected one of 0x%x (tolerated 0x%x)", call,
                   (int)s, sa_status_string(s), ctx ? sa_context_last_error(ctx) : "", certain, tolerated);
    } else {
        status_set ok = BIT(SA_OK) | tolerated;
        if (sc.mem_limit) ok |= BIT(SA_ERR_OUT_OF_MEMORY);
        FUZZ_CHECK(ok & BIT(s), "%s refused a valid input: %d (%s: %s)", call, (int)s, sa_status_string(s),
                   ctx ? sa_context_last_error(ctx) : "");
    }
}

static int normal_data(void) {
    if (sc.data_mode != 0 || sc.inputs_share) return 0;   /* bytes of one dtype read as another */
    double scale = sc.eff.scale != 0 ? (double)sc.eff.scale : 1.0 / sqrt((double)sc.d);
    return scale * (double)sc.d * (double)sc.amplitude * (double)sc.amplitude <= 200.0;
}

static void check_finite(const float *lse, const char *what) {
    const view_spec *o = &sc.v[VOUT];
    for (int64_t t = 0; t < sc.sq; t++)
        for (int64_t h = 0; h < sc.hq; h++)
            for (int64_t c = 0; c < sc.d; c++) {
                float x = load_el(elem(o, t, h, c), o->t.dtype);
                FUZZ_CHECK(isfinite(x), "%s: out[%lld, %lld, %lld] = %g with finite inputs", what, (long long)t,
                           (long long)h, (long long)c, x);
            }
    if (lse)
        for (int64_t i = 0; i < sc.hq * sc.sq; i++) FUZZ_CHECK(isfinite(lse[i]), "%s: lse[%lld] = %g", what, (long long)i, lse[i]);
}

static void check_stats(const char *what, sa_context *ctx) {
    if (!sc.stats_on) return;
    uint32_t size;
    memcpy(&size, sc.stats_buf, 4);
    FUZZ_CHECK(size == sc.stats_size, "%s changed stats.struct_size", what);
    sa_stats st;
    memset(&st, 0, sizeof st);
    memcpy(&st, sc.stats_buf, sc.stats_alloc < sizeof st ? sc.stats_alloc : sizeof st);
    size_t covered = sc.stats_size < sizeof st ? sc.stats_size : sizeof st;
#define COVERS(field) (offsetof(sa_stats, field) + sizeof(st.field) <= covered)
    int64_t causal = sc.hq * (sc.sq * (sc.sk - sc.sq) + sc.sq * (sc.sq + 1) / 2);
    if (COVERS(mode)) FUZZ_CHECK(st.mode == sc.eff.mode, "%s: stats.mode %d", what, (int)st.mode);
    if (COVERS(n_heads)) FUZZ_CHECK(st.n_heads == sc.hq, "%s: stats.n_heads %lld", what, (long long)st.n_heads);
    if (COVERS(n_dense_heads)) FUZZ_CHECK(st.n_dense_heads >= 0 && st.n_dense_heads <= sc.hq, "%s: stats.n_dense_heads", what);
    if (COVERS(causal_entries)) FUZZ_CHECK(st.causal_entries == causal, "%s: stats.causal_entries %lld, expected %lld",
                                           what, (long long)st.causal_entries, (long long)causal);
    if (COVERS(causal_entries))
        FUZZ_CHECK(st.kept_entries > 0 && st.kept_entries <= causal, "%s: stats.kept_entries %lld", what,
                   (long long)st.kept_entries);
    if (COVERS(n_threads)) FUZZ_CHECK(st.n_threads == sa_context_n_threads(ctx), "%s: stats.n_threads %d", what, (int)st.n_threads);
    if (COVERS(fallback_reason))
        FUZZ_CHECK(st.fallback_reason >= 0 && st.fallback_reason <= 2, "%s: stats.fallback_reason %d", what, (int)st.fallback_reason);
#undef COVERS
    /* bytes past sizeof(sa_stats) of a larger (newer) struct: untouched (checked by snapshot) */
}

/* ---------------------------------------------------------------- call-level model */
static int same_buffer(int a, int b) { return sc.v[a].buf >= 0 && sc.v[a].buf == sc.v[b].buf; }

static status_set cross_faults(int with_values, status_set *tolerated) {
    const view_spec *q = &sc.v[VQ], *k = &sc.v[VK], *v = &sc.v[VV], *o = &sc.v[VOUT];
    status_set f = 0;
    if (q->faults || k->faults || (with_values && (v->faults || o->faults))) return 0;   /* they fail first */
    const sa_tensor *tq = &q->t, *tk = &k->t, *tv = &v->t, *to = &o->t;
    if (tk->head_dim != tq->head_dim || (with_values && (tv->head_dim != tq->head_dim || to->head_dim != tq->head_dim)))
        f |= BIT(SA_ERR_UNSUPPORTED_HEAD_DIM);
    if (tq->n_heads % tk->n_heads != 0 || (with_values && tv->n_heads != tk->n_heads)) f |= BIT(SA_ERR_GQA_MISMATCH);
    if (tq->n_tokens > tk->n_tokens || (with_values && (tv->n_tokens != tk->n_tokens || to->n_tokens != tq->n_tokens ||
                                                        to->n_heads != tq->n_heads)))
        f |= BIT(SA_ERR_SEQ_MISMATCH);
    __int128 work = (__int128)tq->n_heads * tq->n_tokens * tk->n_tokens;
    if (work > INT64_MAX) f |= BIT(SA_ERR_OVERFLOW);
    if (!with_values) return f;
    /* out vs inputs, lse vs everything: shared elements are a fault; intersecting byte ranges
       without a shared element may be refused (the library compares ranges). */
    for (int i = VQ; i <= VV; i++) {
        if (!same_buffer(VOUT, i)) continue;
        buffer *b = &sc.bufs[sc.v[i].buf];
        unsigned char *bm = calloc(1, (b->size + 7) / 8);
        mark_view(bm, &sc.v[i]);
        if (hits_view(bm, o)) f |= BIT(SA_ERR_ALIASING);
        else {
            int64_t a0 = sc.v[i].off, a1 = a0 + (int64_t)sc.v[i].span_bytes, b0 = o->off, b1 = b0 + (int64_t)o->span_bytes;
            if (a0 < b1 && b0 < a1) *tolerated |= BIT(SA_ERR_ALIASING);
        }
        free(bm);
    }
    if (sc.lse_on) {
        int64_t n = 4 * tq->n_heads * tq->n_tokens;
        for (int i = 0; i < N_VIEWS; i++) {
            if (sc.v[i].buf != sc.lse_buf) continue;
            buffer *b = &sc.bufs[sc.lse_buf];
            unsigned char *bm = calloc(1, (b->size + 7) / 8);
            mark_view(bm, &sc.v[i]);
            if (hits_range(bm, sc.lse_off, n)) f |= BIT(SA_ERR_ALIASING);
            else {
                int64_t a0 = sc.v[i].off, a1 = a0 + (int64_t)sc.v[i].span_bytes;
                if (a0 < sc.lse_off + n && sc.lse_off < a1) *tolerated |= BIT(SA_ERR_ALIASING);
            }
            free(bm);
        }
    }
    return f;
}

typedef struct {
    status_set certain, tolerated;
} expectation;

static expectation expect_plan_create(void) {
    expectation e = {0, 0};
    if (sc.ctx_null) { e.certain = BIT(SA_ERR_NULL_ARGUMENT); return e; }
    if (sc.plan_out_null) e.certain |= BIT(SA_ERR_NULL_ARGUMENT);
    e.certain |= params_faults(&e.tolerated);
    e.certain |= sc.v[VQ].faults | sc.v[VK].faults;
    e.tolerated |= sc.v[VQ].tolerated | sc.v[VK].tolerated;
    e.certain |= cross_faults(0, &e.tolerated);
    return e;
}

static status_set view_call_faults(status_set *tolerated) {
    status_set f = 0;
    for (int i = 0; i < N_VIEWS; i++) { f |= sc.v[i].faults; *tolerated |= sc.v[i].tolerated; }
    f |= cross_faults(1, tolerated);
    if (sc.stats_on && sc.stats_size < 8) f |= BIT(SA_ERR_STRUCT_SIZE);
    return f;
}

static expectation expect_attention(void) {
    expectation e = {0, 0};
    if (sc.ctx_null) { e.certain = BIT(SA_ERR_NULL_ARGUMENT); return e; }
    e.certain |= params_faults(&e.tolerated);
    e.certain |= view_call_faults(&e.tolerated);
    return e;
}

static expectation expect_apply(int64_t hq, int64_t sq, int64_t sk) {
    expectation e = {0, 0};
    e.certain |= view_call_faults(&e.tolerated);
    if (!e.certain && (sc.v[VQ].t.n_heads != hq || sc.v[VQ].t.n_tokens != sq || sc.v[VK].t.n_tokens != sk))
        e.certain |= BIT(SA_ERR_PLAN_MISMATCH);
    return e;
}

/* ---------------------------------------------------------------- scenario construction */
static void reset_view_to(view_spec *v, int64_t T, int64_t H, int64_t D) {
    v->t.stride_token = v->t.stride_head = 0;
    if (T > 0 && H > 0 && D > 0) {
        v->t.n_tokens = T;
        v->t.n_heads = H;
        v->t.head_dim = D;
    }
    model_view(v);
}

/* Allocates a buffer for each view (and lse), with optional aliasing, and fills the data. */
static int build_buffers(reader *r) {
    /* Views the library may read must be backed. A sane view too large to back is only kept
       when a fault of the params or of q/k makes every call fail before any access. */
    status_set dummy = 0;
    int early_fault = params_faults(&dummy) || sc.v[VQ].faults || sc.v[VK].faults || sc.ctx_null;
    for (int i = 0; i < N_VIEWS; i++) {
        view_spec *v = &sc.v[i];
        if (v->sane && !v->backable && !early_fault) {
            int64_t T = i == VQ || i == VOUT ? sc.sq : sc.sk, H = i == VQ || i == VOUT ? sc.hq : sc.hkv;
            reset_view_to(v, v->t.n_tokens, v->t.n_heads, v->t.head_dim);
            if (v->sane && !v->backable) reset_view_to(v, T, H, sc.d > 0 ? sc.d : 8);
            if (v->sane && !v->backable) return 0;
        }
    }
    for (int i = 0; i < N_VIEWS; i++) sc.v[i].buf = -1;
    sc.lse_buf = -1;
    /* Aliasing: a guest (out or lse, or an input sharing memory with another input) placed
       relative to a host view in one buffer. */
    int host = -1, guest = -1;   /* guest N_VIEWS = lse */
    switch (sc.alias_mode) {
    case 6: host = VQ; guest = VOUT; break;
    case 7: host = VK; guest = VOUT; break;
    case 8: host = VOUT; guest = N_VIEWS; break;
    case 9: host = chance(r, 2) ? VQ : VV; guest = N_VIEWS; break;
    case 10: host = VQ; guest = VK; break;
    case 11: host = VK; guest = VV; break;
    default: break;
    }
    int64_t lse_bytes = 4 * (sc.v[VQ].sane ? sc.v[VQ].t.n_heads * sc.v[VQ].t.n_tokens : 1);
    if (host >= 0) {
        view_spec *h = &sc.v[host];
        int guest_ok = guest == N_VIEWS ? sc.lse_on : sc.v[guest].sane;
        if (!h->sane || !guest_ok || h->span_bytes > HEAP_VIEW_BYTES || h->misalign ||
            (guest < N_VIEWS && (sc.v[guest].span_bytes > HEAP_VIEW_BYTES || sc.v[guest].misalign)))
            host = -1;
    }
    if (host >= 0) {
        view_spec *h = &sc.v[host];
        int64_t hspan = (int64_t)h->span_bytes;
        int64_t gspan = guest == N_VIEWS ? lse_bytes : (int64_t)sc.v[guest].span_bytes;
        int64_t galign = guest == N_VIEWS ? 4 : elsize(sc.v[guest].t.dtype);
        int64_t rel;
        switch (pick(r, 4)) {
        case 0: rel = 0; break;
        case 1: rel = (int64_t)(take(r, 4) % (uint64_t)(hspan > 0 ? hspan : 1)); break;
        case 2: rel = hspan; break;            /* right after: legal */
        default: rel = -gspan; break;          /* right before: legal */
        }
        rel = rel >= 0 ? rel / galign * galign : -((-rel + galign - 1) / galign * galign);
        int64_t lo = rel < 0 ? rel : 0, hi = rel + gspan > hspan ? rel + gspan : hspan;
        /* keep the host's elements aligned: lo is a multiple of galign; make it one of 4 */
        lo = -((-lo + 3) / 4 * 4);
        int b = new_buffer((size_t)(hi - lo), 0);
        if (b < 0) return 0;
        h->buf = b;
        h->off = -lo;
        if (guest == N_VIEWS) { sc.lse_buf = b; sc.lse_off = rel - lo; }
        else { sc.v[guest].buf = b; sc.v[guest].off = rel - lo; }
        if (guest == VK || guest == VV) sc.inputs_share = 1;
    }
    for (int i = 0; i < N_VIEWS; i++) {
        view_spec *v = &sc.v[i];
        if (v->buf >= 0) continue;
        if (!v->sane || !v->backable) {   /* never read (the call fails first): a small buffer */
            v->buf = new_buffer(64, 0);
            v->off = 0;
            if (v->buf < 0) return 0;
            continue;
        }
        int64_t extra = v->misalign ? 1 : 0;
        int mapped = v->span_bytes > HEAP_VIEW_BYTES;
        v->buf = new_buffer((size_t)(v->span_bytes + extra), mapped);
        if (v->buf < 0) return 0;
        v->off = extra;
    }
    if (sc.lse_on && sc.lse_buf < 0) {
        /* q too large to back is only kept when the call fails first: lse is never written */
        sc.lse_buf = new_buffer((size_t)(lse_bytes <= HEAP_VIEW_BYTES ? lse_bytes : 64), 0);
        if (sc.lse_buf < 0) return 0;
        sc.lse_off = 0;
    }
    /* Contents: a pattern everywhere, out's sentinel, then the inputs (an input sharing bytes
       with out or another input overwrites them: what the library reads is what is there). */
    unsigned char pattern = (unsigned char)byte_(r);
    for (int i = 0; i < sc.n_bufs; i++)
        if (!sc.bufs[i].mapped) memset(sc.bufs[i].mem, pattern, sc.bufs[i].size);
    if (sc.v[VOUT].sane && sc.v[VOUT].backable) {
        const view_spec *o = &sc.v[VOUT];
        for (int64_t t = 0; t < o->t.n_tokens; t++)
            for (int64_t h = 0; h < o->t.n_heads; h++) memset(elem(o, t, h, 0), 0xA5, (size_t)(o->t.head_dim * elsize(o->t.dtype)));
    }
    for (int i = VQ; i <= VV; i++)
        if (sc.v[i].sane && sc.v[i].backable) fill_view(r, &sc.v[i]);
    for (int i = 0; i < N_VIEWS; i++) {
        view_spec *v = &sc.v[i];
        v->t.data = v->null_data ? NULL : sc.bufs[v->buf].mem + v->off;
    }
    /* From here on the shape is the views' (what a successful call computed). */
    if (sc.v[VQ].sane) { sc.sq = sc.v[VQ].t.n_tokens; sc.hq = sc.v[VQ].t.n_heads; sc.d = sc.v[VQ].t.head_dim; }
    if (sc.v[VK].sane) { sc.sk = sc.v[VK].t.n_tokens; sc.hkv = sc.v[VK].t.n_heads; }
    return 1;
}

static void decode(reader *r) {
    rng_state = take(r, 8);
    sc.ctx_threads_first = chance(r, 2) ? 1 : 2;
    sc.ctx_null = chance(r, 100);
    uint32_t ml = byte_(r);
    sc.mem_limit = ml < 235 ? 0 : ml < 245 ? 1 + take(r, 3) : ((uint64_t)1 + take(r, 1)) << (10 + pick(r, 16));
    /* nominal shape */
    uint32_t b = byte_(r);
    sc.sk = b < 128 ? 1 + pick(r, 32) : b < 224 ? 1 + pick(r, 128) : 1 + pick(r, 300);
    b = byte_(r);
    sc.sq = b < 128 ? sc.sk : b < 240 ? 1 + pick(r, (uint32_t)sc.sk) : sc.sk + 1 + pick(r, 4);
    sc.hkv = 1 + pick(r, chance(r, 2) ? 2 : 8);
    sc.hq = sc.hkv * (1 + pick(r, (uint32_t)(8 / sc.hkv)));
    if (chance(r, 32)) sc.hq = 1 + pick(r, 8);
    b = byte_(r);
    sc.d = 8 * (1 + (b < 160 ? pick(r, 8) : pick(r, 32)));
    gen_params(r);
    /* views: q [S_q, H_q, d], k and v [S_k, H_kv, d], out like q */
    gen_view(r, &sc.v[VQ], sc.sq, sc.hq, sc.d, 0);
    gen_view(r, &sc.v[VK], sc.sk, sc.hkv, sc.d, 0);
    gen_view(r, &sc.v[VV], sc.sk, sc.hkv, sc.d, 0);
    gen_view(r, &sc.v[VOUT], sc.sq, sc.hq, sc.d, 1);
    for (int i = 0; i < N_VIEWS; i++) model_view(&sc.v[i]);
    sc.lse_on = chance(r, 2);
    sc.stats_on = chance(r, 2);
    uint32_t ss = byte_(r);
    sc.stats_size = ss < 200 ? (uint32_t)sizeof(sa_stats) : (uint32_t[]){0, 4, 7, 8, 12, 40, 56, 88, 92, 120, 200, 95}[ss % 12];
    sc.stats_alloc = sc.stats_size < 4 ? 4 : sc.stats_size;
    sc.plan_out_null = chance(r, 64);
    uint32_t dm = byte_(r);
    sc.data_mode = dm < 200 ? 0 : dm < 235 ? 1 : 2;
    static const float amps[] = {1.0f, 1.0f, 4.0f, 0.01f, 2.0f};
    sc.amplitude = amps[pick(r, 5)];
    sc.alias_mode = (int)pick(r, 16);
    sc.extra = (int)byte_(r);
}

/* ---------------------------------------------------------------- plans */
static void check_plan(reader *r, const sa_plan *plan) {
    int64_t hq = -1, sq = -1, sk = -1;
    FUZZ_CHECK(sa_plan_shape(plan, &hq, &sq, &sk) == SA_OK && hq == sc.v[VQ].t.n_heads &&
               sq == sc.v[VQ].t.n_tokens && sk == sc.v[VK].t.n_tokens, "sa_plan_shape: %lld %lld %lld",
               (long long)hq, (long long)sq, (long long)sk);
    FUZZ_CHECK(sa_plan_shape(plan, NULL, NULL, NULL) == SA_OK, "sa_plan_shape with NULL outputs");
    const sa_params *p = &sc.eff;
    int force = (p->flags & SA_FLAG_FORCE_SPARSE) != 0, share = (p->flags & SA_FLAG_SHARE_KV_GROUP) != 0;
    int all_dense = p->mode == SA_MODE_DENSE || (sk < p->min_seq_len && !force);
    int64_t causal = sq * (sk - sq) + sq * (sq + 1) / 2;
    int64_t sinks = p->sink_tokens < sk ? p->sink_tokens : sk;
    for (int64_t h = 0; h < hq; h++) {
        sa_plan_head info;
        memset(&info, 0xEE, sizeof info);
        info.struct_size = sizeof info;
        FUZZ_CHECK(sa_plan_head_info(plan, h, &info) == SA_OK, "sa_plan_head_info(%lld)", (long long)h);
        FUZZ_CHECK(info.struct_size == sizeof info && (info.dense == 0 || info.dense == 1), "head %lld: struct_size/dense", (long long)h);
        int64_t n = info.n_indices;
        FUZZ_CHECK(n >= 0 && n <= sk, "head %lld: n_indices %lld", (long long)h, (long long)n);
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n + 1));
        FUZZ_CHECK(sa_plan_head_indices(plan, h, idx, n) == SA_OK, "sa_plan_head_indices(%lld, capacity %lld)",
                   (long long)h, (long long)n);
        for (int64_t i = 0; i < n; i++)
            FUZZ_CHECK(idx[i] >= 0 && idx[i] < sk && (i == 0 || idx[i] > idx[i - 1]),
                       "head %lld: indices not sorted, unique and in range at %lld: %lld", (long long)h, (long long)i,
                       (long long)idx[i]);
        if (info.dense) dense_heads++; else sparse_heads++;
        if (info.dense)
            FUZZ_CHECK(info.block_size == 0 && info.n_slash_blocks == 0 && info.reserved1 == 0,
                       "dense head %lld has blocks: %lld %lld", (long long)h, (long long)info.block_size,
                       (long long)info.n_slash_blocks);
        else if (p->mode == SA_MODE_SAMPLE)
            FUZZ_CHECK(info.reserved1 == 0 && ((info.block_size == 0 && info.n_slash_blocks == 0) ||
                       (info.block_size == 1 && info.n_slash_blocks > 0 && (share || info.n_slash_blocks <= p->max_diagonals))),
                       "seed head %lld: block_size %lld, %lld diagonals (max_diagonals %d)", (long long)h,
                       (long long)info.block_size, (long long)info.n_slash_blocks, (int)p->max_diagonals);
        if (info.dense) {
            FUZZ_CHECK(info.kept_entries == causal && info.density == 1.0, "dense head %lld: kept %lld density %g",
                       (long long)h, (long long)info.kept_entries, info.density);
            FUZZ_CHECK(info.cra_mean == 1.0 && info.cra_min == 1.0, "dense head %lld: cra %g %g", (long long)h,
                       info.cra_mean, info.cra_min);
        } else if (p->mode == SA_MODE_SAMPLE_SLASH) {
            /* block-structured mask (see the header) */
            FUZZ_CHECK(!all_dense, "slash head %lld sparse below min_seq_len", (long long)h);
            int64_t bs = info.block_size, no = info.n_slash_blocks;
            int64_t nblocks = bs > 0 ? (sk + bs - 1) / bs : 0;
            FUZZ_CHECK(bs > 0 && no >= 0 && no <= nblocks && info.reserved1 == 0,
                       "slash head %lld: block_size %lld, %lld slash blocks, reserved1 %lld", (long long)h, (long long)bs,
                       (long long)no, (long long)info.reserved1);
            int64_t *offs = malloc(sizeof(int64_t) * (size_t)(no + 1));
            FUZZ_CHECK(sa_plan_head_slashes(plan, h, offs, no) == SA_OK, "sa_plan_head_slashes(%lld)", (long long)h);
            for (int64_t i = 0; i < no; i++)
                FUZZ_CHECK(offs[i] >= 0 && offs[i] < nblocks && (i == 0 || offs[i] > offs[i - 1]),
                           "slash head %lld: diagonal offsets not sorted, unique, in range", (long long)h);
            mask m = {0, 0, n, idx, bs, no, offs};
            int64_t kept = 0;
            for (int64_t pos = sk - sq; pos < sk; pos++)
                for (int64_t j = 0; j <= pos; j++) kept += keeps(&m, pos, j);
            FUZZ_CHECK(kept == info.kept_entries && info.density == (double)kept / (double)causal,
                       "slash head %lld: kept_entries %lld, recomputed %lld; density %g", (long long)h,
                       (long long)info.kept_entries, (long long)kept, info.density);
            if (no > 0) {   /* too small: refused, nothing written */
                int64_t o1 = 0x3C;
                sa_status bs_s = sa_plan_head_slashes(plan, h, &o1, no - 1);
                FUZZ_CHECK(bs_s == SA_ERR_BUFFER_TOO_SMALL && o1 == 0x3C, "head_slashes with small capacity: %d", (int)bs_s);
            }
            free(offs);
        } else {
            FUZZ_CHECK(!all_dense, "head %lld is sparse but the params ask for dense (mode %d, S_k %lld < min_seq_len %d)",
                       (long long)h, (int)p->mode, (long long)sk, (int)p->min_seq_len);
            FUZZ_CHECK(info.window >= 1 && info.window <= sk, "head %lld: window %lld", (long long)h, (long long)info.window);
            FUZZ_CHECK(n >= sinks, "head %lld: %lld indices, fewer than %lld sinks", (long long)h, (long long)n, (long long)sinks);
            for (int64_t i = 0; i < sinks; i++) FUZZ_CHECK(idx[i] == i, "head %lld: sink %lld missing", (long long)h, (long long)i);
            int64_t stripes = n - sinks, first = sinks, end = sk - info.window > first ? sk - info.window : first;
            int64_t candidates = end - first;
            if (p->max_stripes > 0 && !share)
                FUZZ_CHECK(stripes <= p->max_stripes, "head %lld: %lld stripes > max_stripes %d", (long long)h,
                           (long long)stripes, (int)p->max_stripes);
            int64_t need = p->min_stripes < candidates ? p->min_stripes : candidates;
            FUZZ_CHECK(stripes >= need, "head %lld: %lld stripes < min(min_stripes %d, candidates %lld)", (long long)h,
                       (long long)stripes, (int)p->min_stripes, (long long)candidates);
            int64_t nd = info.n_slash_blocks;
            int64_t *diag = malloc(sizeof(int64_t) * (size_t)(nd + 1));
            FUZZ_CHECK(sa_plan_head_slashes(plan, h, diag, nd) == SA_OK, "sa_plan_head_slashes(%lld)", (long long)h);
            for (int64_t i = 0; i < nd; i++)
                FUZZ_CHECK(diag[i] >= info.window && diag[i] < sk && (i == 0 || diag[i] > diag[i - 1]),
                           "seed head %lld: diagonal offsets not sorted, unique, >= window, < S_k", (long long)h);
            mask m = {0, info.window, n, idx, info.block_size, nd, diag};
            int64_t kept = 0;
            for (int64_t pos = sk - sq; pos < sk; pos++)
                for (int64_t j = 0; j <= pos; j++) kept += keeps(&m, pos, j);
            free(diag);
            FUZZ_CHECK(kept == info.kept_entries, "head %lld: kept_entries %lld, recomputed %lld", (long long)h,
                       (long long)info.kept_entries, (long long)kept);
            FUZZ_CHECK(info.density == (double)kept / (double)causal, "head %lld: density %g", (long long)h, info.density);
            if (!force)
                FUZZ_CHECK(info.density <= (double)p->max_density, "head %lld: density %g > max_density %g (no FORCE_SPARSE)",
                           (long long)h, info.density, (double)p->max_density);
            if (normal_data())
                FUZZ_CHECK(info.cra_min >= 0 && info.cra_min <= info.cra_mean + 1e-6 && info.cra_mean <= 1 + 1e-3,
                           "head %lld: cra mean %g min %g", (long long)h, info.cra_mean, info.cra_min);
        }
        /* Too small a buffer: refused, nothing written. */
        if (n > 0) {
            int64_t *small = malloc(sizeof(int64_t) * (size_t)n);
            memset(small, 0x3C, sizeof(int64_t) * (size_t)n);
            FUZZ_CHECK(sa_plan_head_indices(plan, h, small, n - 1) == SA_ERR_BUFFER_TOO_SMALL, "capacity n-1");
            for (int64_t i = 0; i < n; i++) FUZZ_CHECK(small[i] == 0x3C3C3C3C3C3C3C3CLL, "indices written on BUFFER_TOO_SMALL");
            FUZZ_CHECK(sa_plan_head_indices(plan, h, NULL, n) == SA_ERR_NULL_ARGUMENT, "NULL indices, capacity n");
            free(small);
        } else {
            FUZZ_CHECK(sa_plan_head_indices(plan, h, NULL, 0) == SA_OK, "NULL indices, capacity 0, no indices");
        }
        FUZZ_CHECK(sa_plan_head_indices(plan, h, idx, -1) == SA_ERR_BUFFER_TOO_SMALL, "capacity -1");
        free(idx);
        /* Older (smaller) sa_plan_head structs: exactly struct_size bytes, filled that far. */
        static const uint32_t sizes[] = {0, 4, 7, 8, 16, 24, 40, 48, 56, 64};
        uint32_t sz = sizes[pick(r, 10)];
        size_t alloc = sz < 4 ? 4 : sz;
        unsigned char *small = malloc(alloc), *before = malloc(alloc);
        memset(small, 0x6B, alloc);
        memcpy(small, &sz, 4);
        memcpy(before, small, alloc);
        sa_status s = sa_plan_head_info(plan, h, (sa_plan_head *)(void *)small);
        if (sz < 8) {
            FUZZ_CHECK(s == SA_ERR_STRUCT_SIZE && memcmp(small, before, alloc) == 0, "head_info struct_size %u: %d", sz, (int)s);
        } else {
            size_t cover = sz < sizeof info ? sz : sizeof info;
            FUZZ_CHECK(s == SA_OK && memcmp(small, before, 4) == 0 && memcmp(small + 4, (unsigned char *)&info + 4, cover - 4) == 0,
                       "head_info struct_size %u: status %d or content", sz, (int)s);
            if (alloc > sizeof info)
                FUZZ_CHECK(memcmp(small + sizeof info, before + sizeof info, alloc - sizeof info) == 0,
                           "head_info wrote past sizeof(sa_plan_head)");
        }
        free(small);
        free(before);
    }
    /* Out-of-range heads and NULL arguments. */
    static const int64_t bad_heads[] = {-1, INT64_MIN, INT64_MAX};
    int64_t bh = chance(r, 2) ? hq : bad_heads[pick(r, 3)];
    sa_plan_head info;
    memset(&info, 0x11, sizeof info);
    info.struct_size = sizeof info;
    sa_plan_head before = info;
    FUZZ_CHECK(sa_plan_head_info(plan, bh, &info) == SA_ERR_INDEX_OUT_OF_RANGE && memcmp(&info, &before, sizeof info) == 0,
               "head_info(%lld) out of range", (long long)bh);
    int64_t one = 77;
    FUZZ_CHECK(sa_plan_head_indices(plan, bh, &one, 1) == SA_ERR_INDEX_OUT_OF_RANGE && one == 77, "head_indices out of range");
    FUZZ_CHECK(sa_plan_head_info(plan, 0, NULL) == SA_ERR_NULL_ARGUMENT, "head_info NULL info");
}

/* Reference checks of a few rows of the current out (and lse) over the plan's masks. */
static void check_rows(reader *r, const sa_plan *plan, const float *lse, const char *what) {
    if (!normal_data()) return;
    int rows = 1 + (int)pick(r, 3);
    for (int n = 0; n < rows; n++) {
        int64_t i = chance(r, 3) ? sc.sq - 1 : (int64_t)pick(r, (uint32_t)sc.sq);
        int64_t h = (int64_t)pick(r, (uint32_t)sc.hq);
        mask m;
        memset(&m, 0, sizeof m);
        m.dense = 1;
        int64_t *idx = NULL, *offs = NULL;
        if (plan) {
            sa_plan_head info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            sa_plan_head_info(plan, h, &info);
            idx = malloc(sizeof(int64_t) * (size_t)(info.n_indices + 1));
            sa_plan_head_indices(plan, h, idx, info.n_indices);
            m.dense = info.dense;
            m.window = info.window;
            m.n = info.n_indices;
            m.idx = idx;
            if (!info.dense && info.block_size > 0) {
                offs = malloc(sizeof(int64_t) * (size_t)(info.n_slash_blocks + 1));
                sa_plan_head_slashes(plan, h, offs, info.n_slash_blocks);
                m.bs = info.block_size;
                m.offs = offs;
                m.noffs = info.n_slash_blocks;
            }
        }
        check_row(i, h, &m, lse, what);
        free(idx);
        free(offs);
    }
}

/* ---------------------------------------------------------------- the target */
static void cleanup(void) {
    free_buffers();
    free(sc.p_buf);
    free(sc.stats_buf);
    sc.p_buf = NULL;
    sc.stats_buf = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ctx1 = sa_context_new(1);
    ctx2 = sa_context_new(2);
    /* ctx2 keeps its workspace from input to input: the cross-context comparisons then also
       check that reused (stale) blocks give fresh memory's bits. */
    sa_context_set_workspace_cache(ctx2, (uint64_t)256 << 20);
    if (getenv("FUZZ_API_STATS")) atexit(print_histogram);
    return 0;
}

static float *lse_ptr(void) { return sc.lse_on ? (float *)(void *)(sc.bufs[sc.lse_buf].mem + sc.lse_off) : NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ctx1) LLVMFuzzerInitialize(NULL, NULL);
    reader r = {data, size};
    memset(&sc, 0, sizeof sc);
    decode(&r);
    if (!build_buffers(&r)) { cleanup(); return 0; }
    if (sc.stats_on) {
        sc.stats_buf = malloc(sc.stats_alloc);
        memset(sc.stats_buf, 0x4D, sc.stats_alloc);
        memcpy(sc.stats_buf, &sc.stats_size, 4);
    }
    if (getenv("FUZZ_API_VERBOSE")) describe_scenario();   /* what an input does, when replaying it */
    sa_context *A = sc.ctx_threads_first == 1 ? ctx1 : ctx2, *B = A == ctx1 ? ctx2 : ctx1;
    FUZZ_CHECK(sa_context_set_memory_limit(A, sc.mem_limit) == SA_OK && sa_context_set_memory_limit(B, sc.mem_limit) == SA_OK,
               "set_memory_limit");
    const sa_params *pp = sc.p_null ? NULL : (const sa_params *)(const void *)sc.p_buf;
    const sa_tensor *tq = sc.v[VQ].pass_null ? NULL : &sc.v[VQ].t, *tk = sc.v[VK].pass_null ? NULL : &sc.v[VK].t;
    const sa_tensor *tv = sc.v[VV].pass_null ? NULL : &sc.v[VV].t, *to = sc.v[VOUT].pass_null ? NULL : &sc.v[VOUT].t;
    sa_stats *stats = sc.stats_on ? (sa_stats *)(void *)sc.stats_buf : NULL;
    float *lse = lse_ptr();
    snapshot s0;
    take_snapshot(&s0);

    /* 1. sa_plan_create */
    sa_plan *const sentinel = (sa_plan *)(uintptr_t)0xdeadbee0;
    sa_plan *plan = sentinel;
    expectation ep = expect_plan_create();
    sa_status s = sa_plan_create(sc.ctx_null ? NULL : A, pp, tq, tk, sc.plan_out_null ? NULL : &plan);
    check_outcome(s, ep.certain, ep.tolerated, sc.ctx_null ? NULL : A, "sa_plan_create");
    check_unchanged(&s0, 0, "sa_plan_create");
    if (s != SA_OK) { FUZZ_CHECK(plan == sentinel, "sa_plan_create failed but wrote *plan_out"); plan = NULL; }
    else FUZZ_CHECK(plan != NULL && plan != sentinel, "sa_plan_create succeeded without a plan");

    /* 2. sa_attention */
    expectation ea = expect_attention();
    s = sa_attention(sc.ctx_null ? NULL : A, pp, tq, tk, tv, to, lse, stats);
    check_outcome(s, ea.certain, ea.tolerated, sc.ctx_null ? NULL : A, "sa_attention");
    check_unchanged(&s0, s == SA_OK, "sa_attention");
    unsigned char *res_out = NULL;
    size_t res_n = 0;
    float *res_lse = NULL;
    size_t lse_n = sc.lse_on ? (size_t)(4 * sc.hq * sc.sq) : 0;
    if (s == SA_OK) {
        res_out = gather(&sc.v[VOUT], &res_n);
        if (lse) { res_lse = malloc(lse_n); memcpy(res_lse, lse, lse_n); }
        check_stats("sa_attention", A);
        if (normal_data()) check_finite(lse, "sa_attention");
        int dense_expected = sc.eff.mode == SA_MODE_DENSE ||
                             (sc.sk < sc.eff.min_seq_len && !(sc.eff.flags & SA_FLAG_FORCE_SPARSE));
        if (!plan && dense_expected) check_rows(&r, NULL, lse, "sa_attention (dense)");
    }

    /* 3. sa_plan_apply on the other context (other thread count): same bits */
    if (plan) {
        restore_snapshot(&s0);
        int64_t phq, psq, psk;
        sa_plan_shape(plan, &phq, &psq, &psk);
        expectation ex = expect_apply(phq, psq, psk);
        sa_status s3 = sa_plan_apply(B, plan, tq, tk, tv, to, lse, stats);
        check_outcome(s3, ex.certain, ex.tolerated, B, "sa_plan_apply");
        check_unchanged(&s0, s3 == SA_OK, "sa_plan_apply");
        if (s3 == SA_OK) {
            if (res_out) {
                size_t n;
                unsigned char *g = gather(&sc.v[VOUT], &n);
                FUZZ_CHECK(n == res_n && memcmp(g, res_out, n) == 0,
                           "sa_plan_apply (%d threads) differs from sa_attention (%d threads)", sa_context_n_threads(B),
                           sa_context_n_threads(A));
                free(g);
                if (lse) FUZZ_CHECK(memcmp(lse, res_lse, lse_n) == 0, "lse of sa_plan_apply differs from sa_attention");
            }
            if (normal_data()) check_finite(lse, "sa_plan_apply");
            check_stats("sa_plan_apply", B);
            check_rows(&r, plan, lse, "sa_plan_apply");
        }
        check_plan(&r, plan);
        /* A plan applied to other shapes is refused. */
        if (s3 == SA_OK && (sc.extra & 1) && sc.sq > 1) {
            restore_snapshot(&s0);
            sa_tensor q2 = *tq, o2 = *to;
            q2.n_tokens--;
            o2.n_tokens--;
            s3 = sa_plan_apply(B, plan, &q2, tk, tv, &o2, lse, stats);
            FUZZ_CHECK(s3 == SA_ERR_PLAN_MISMATCH, "plan_apply with S_q - 1: %d", (int)s3);
            check_unchanged(&s0, 0, "sa_plan_apply (mismatch)");
        }
        FUZZ_CHECK(sa_plan_apply(B, NULL, tq, tk, tv, to, lse, stats) == SA_ERR_NULL_ARGUMENT, "plan_apply(NULL plan)");
    }

    /* 4. the same attention on the other thread count: same bits */
    if (s == SA_OK && (sc.extra & 2)) {
        restore_snapshot(&s0);
        sa_status s4 = sa_attention(B, pp, tq, tk, tv, to, lse, stats);
        check_outcome(s4, 0, ea.tolerated, B, "sa_attention (other context)");
        if (s4 == SA_OK) {
            size_t n;
            unsigned char *g = gather(&sc.v[VOUT], &n);
            FUZZ_CHECK(n == res_n && memcmp(g, res_out, n) == 0, "sa_attention on %d threads differs from %d threads",
                       sa_context_n_threads(B), sa_context_n_threads(A));
            free(g);
            if (lse) FUZZ_CHECK(memcmp(lse, res_lse, lse_n) == 0, "lse differs across thread counts");
        }
    }

    /* 5. the rest of the API */
    sa_status any = (sa_status)take(&r, 4);
    const char *m = sa_status_string(any);
    FUZZ_CHECK(m != NULL && m[0] != '\0', "sa_status_string(%d)", (int)any);
    if (any < 0 || any >= SA_STATUS_COUNT) FUZZ_CHECK(strcmp(m, "unknown status") == 0, "sa_status_string(%d) = %s", (int)any, m);
    static const int32_t bad_threads[] = {-1, 1025, INT32_MIN, INT32_MAX, -1000};
    FUZZ_CHECK(sa_context_new(bad_threads[pick(&r, 5)]) == NULL, "sa_context_new(bad) returned a context");
    FUZZ_CHECK(sa_context_last_error(NULL) != NULL, "sa_context_last_error(NULL)");
    FUZZ_CHECK(sa_context_n_threads(ctx1) == 1 && sa_context_n_threads(ctx2) == 2, "n_threads");
    {
        static const uint32_t sizes[] = {24, 0, 4, 7, 8, 12, 16, 20, 32, 64};
        uint32_t sz = sizes[pick(&r, 10)];
        size_t alloc = sz < 4 ? 4 : sz;
        unsigned char *f = malloc(alloc), *fb = malloc(alloc);
        memset(f, 0x29, alloc);
        memcpy(f, &sz, 4);
        memcpy(fb, f, alloc);
        sa_status fs = sa_get_features((sa_features *)(void *)f);
        if (sz < 8) FUZZ_CHECK(fs == SA_ERR_STRUCT_SIZE && memcmp(f, fb, alloc) == 0, "features size %u: %d", sz, (int)fs);
        else {
            FUZZ_CHECK(fs == SA_OK && memcmp(f, fb, 4) == 0, "features size %u: %d", sz, (int)fs);
            if (alloc > sizeof(sa_features))
                FUZZ_CHECK(memcmp(f + sizeof(sa_features), fb + sizeof(sa_features), alloc - sizeof(sa_features)) == 0,
                           "sa_get_features wrote past sizeof(sa_features)");
        }
        free(f);
        free(fb);
    }

    sa_plan_free(plan);
    sa_context_set_memory_limit(ctx1, 0);
    sa_context_set_memory_limit(ctx2, 0);
    free(res_out);
    free(res_lse);
    free_snapshot(&s0);
    cleanup();
    return 0;
}
