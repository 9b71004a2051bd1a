/*
 * C ABI test of libsampleattn: compiled against include/sampleattn.h, linked to the built
 * library. Checks the struct layouts (x86-64 numbers written out), calls every function of the
 * header, and compares dense and planned attention against a float64 reference.
 * Prints "N passed, N failed" and exits non-zero on any failure.
 */
#include "sampleattn.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- layouts (x86-64, LP64) */
#define LAYOUT(T, field, off) _Static_assert(offsetof(T, field) == (off), #T "." #field " offset")

_Static_assert(sizeof(sa_status) == 4 && sizeof(sa_dtype) == 4, "sa_status/sa_dtype are int32");

_Static_assert(sizeof(sa_tensor) == 56 && _Alignof(sa_tensor) == 8, "sa_tensor size");
LAYOUT(sa_tensor, data, 0);
LAYOUT(sa_tensor, dtype, 8);
LAYOUT(sa_tensor, reserved, 12);
LAYOUT(sa_tensor, n_tokens, 16);
LAYOUT(sa_tensor, n_heads, 24);
LAYOUT(sa_tensor, head_dim, 32);
LAYOUT(sa_tensor, stride_token, 40);
LAYOUT(sa_tensor, stride_head, 48);

_Static_assert(sizeof(sa_params) == 88 && _Alignof(sa_params) == 4, "sa_params size");
LAYOUT(sa_params, struct_size, 0);
LAYOUT(sa_params, mode, 4);
LAYOUT(sa_params, alpha, 8);
LAYOUT(sa_params, window_ratio, 12);
LAYOUT(sa_params, sample_ratio, 16);
LAYOUT(sa_params, sink_tokens, 20);
LAYOUT(sa_params, min_seq_len, 24);
LAYOUT(sa_params, max_density, 28);
LAYOUT(sa_params, scale, 32);
LAYOUT(sa_params, flags, 36);
LAYOUT(sa_params, min_stripes, 40);   /* 40 = the 0.0 size of sa_params */
LAYOUT(sa_params, max_stripes, 44);
LAYOUT(sa_params, sample_group, 48);
LAYOUT(sa_params, max_diagonals, 52);
LAYOUT(sa_params, alpha_column, 56);
LAYOUT(sa_params, alpha_slash, 60);
LAYOUT(sa_params, chunk_n, 64);
LAYOUT(sa_params, block_size, 68);
LAYOUT(sa_params, alpha_correction, 72);   /* 72 = the 0.1 size */
LAYOUT(sa_params, precision, 76);
LAYOUT(sa_params, min_window, 80);
LAYOUT(sa_params, rank_prior_rows, 84);

_Static_assert(sizeof(sa_stats) == 96 && _Alignof(sa_stats) == 8, "sa_stats size");
LAYOUT(sa_stats, struct_size, 0);
LAYOUT(sa_stats, mode, 4);
LAYOUT(sa_stats, n_heads, 8);
LAYOUT(sa_stats, n_dense_heads, 16);
LAYOUT(sa_stats, kept_entries, 24);
LAYOUT(sa_stats, causal_entries, 32);
LAYOUT(sa_stats, density, 40);
LAYOUT(sa_stats, cra_estimate, 48);
LAYOUT(sa_stats, time_sample_s, 56);
LAYOUT(sa_stats, time_filter_s, 64);
LAYOUT(sa_stats, time_attention_s, 72);
LAYOUT(sa_stats, time_total_s, 80);
LAYOUT(sa_stats, fallback_reason, 88);
LAYOUT(sa_stats, n_threads, 92);

_Static_assert(sizeof(sa_plan_head) == 80 && _Alignof(sa_plan_head) == 8, "sa_plan_head size");
LAYOUT(sa_plan_head, struct_size, 0);
LAYOUT(sa_plan_head, dense, 4);
LAYOUT(sa_plan_head, window, 8);
LAYOUT(sa_plan_head, n_indices, 16);
LAYOUT(sa_plan_head, kept_entries, 24);
LAYOUT(sa_plan_head, density, 32);
LAYOUT(sa_plan_head, cra_mean, 40);
LAYOUT(sa_plan_head, cra_min, 48);
LAYOUT(sa_plan_head, block_size, 56);
LAYOUT(sa_plan_head, n_slash_blocks, 64);
LAYOUT(sa_plan_head, reserved1, 72);

_Static_assert(sizeof(sa_features) == 32 && _Alignof(sa_features) == 4, "sa_features size");
LAYOUT(sa_features, struct_size, 0);
LAYOUT(sa_features, simd_level, 4);
LAYOUT(sa_features, openmp, 8);
LAYOUT(sa_features, max_threads, 12);
LAYOUT(sa_features, max_head_dim, 16);
LAYOUT(sa_features, head_dim_multiple, 20);
LAYOUT(sa_features, isa, 24);
LAYOUT(sa_features, cpu_isa_mask, 28);

/* Constants are ABI too: codes are only ever appended. */
_Static_assert(SA_OK == 0 && SA_ERR_NULL_ARGUMENT == 1 && SA_ERR_INVALID_DTYPE == 2 &&
               SA_ERR_INVALID_SHAPE == 3 && SA_ERR_UNSUPPORTED_HEAD_DIM == 4 &&
               SA_ERR_GQA_MISMATCH == 5 && SA_ERR_SEQ_MISMATCH == 6 && SA_ERR_INVALID_STRIDE == 7 &&
               SA_ERR_OVERLAPPING_VIEW == 8 && SA_ERR_OVERFLOW == 9 && SA_ERR_ALIASING == 10 &&
               SA_ERR_INVALID_SCALE == 11 && SA_ERR_INVALID_PARAM == 12 && SA_ERR_INVALID_MODE == 13 &&
               SA_ERR_UNKNOWN_FLAG == 14 && SA_ERR_STRUCT_SIZE == 15 && SA_ERR_OUT_OF_MEMORY == 16 &&
               SA_ERR_CONTEXT_BUSY == 17 && SA_ERR_PLAN_MISMATCH == 18 &&
               SA_ERR_INDEX_OUT_OF_RANGE == 19 && SA_ERR_BUFFER_TOO_SMALL == 20 &&
               SA_ERR_INTERNAL == 21 && SA_ERR_UNSUPPORTED_CPU == 22 && SA_STATUS_COUNT == 23, "status codes");
_Static_assert(SA_PRECISION_F32 == 0 && SA_PRECISION_BF16 == 1, "precisions");
_Static_assert(SA_ISA_AVX2 == 1 && SA_ISA_AVX512 == 2 && SA_ISA_AMX == 3 && SA_CPU_AVX2 == 1u &&
               SA_CPU_AVX512 == 2u && SA_CPU_AVX512_BF16 == 4u && SA_CPU_AMX_BF16 == 8u, "ISAs");
_Static_assert(SA_DTYPE_F32 == 0 && SA_DTYPE_F16 == 1 && SA_DTYPE_BF16 == 2, "dtypes");
_Static_assert(SA_MODE_DENSE == 0 && SA_MODE_SAMPLE == 1 && SA_MODE_SAMPLE_SLASH == 2, "modes");
_Static_assert(SA_FLAG_SHARE_KV_GROUP == 1u && SA_FLAG_FORCE_SPARSE == 2u && SA_FLAG_ALL == 3u, "flags");
_Static_assert(SA_FALLBACK_NONE == 0 && SA_FALLBACK_SHORT == 1 && SA_FALLBACK_DENSITY == 2, "fallbacks");
_Static_assert(SA_VERSION_NUMBER == SA_VERSION_MAJOR * 10000 + SA_VERSION_MINOR * 100 + SA_VERSION_PATCH,
               "version number");

/* ---------------------------------------------------------------- harness */
#include "test_support.h"

/* A float32 tensor [tokens, heads, dim] with its own storage (token-major unless strides set). */
typedef struct {
    float *data;
    size_t count;
    sa_tensor view;
} host_tensor;

static host_tensor make_tensor(int64_t tokens, int64_t heads, int64_t dim, float amplitude) {
    host_tensor t;
    t.count = (size_t)(tokens * heads * dim);
    t.data = malloc(t.count * sizeof(float));
    for (size_t i = 0; i < t.count; i++) t.data[i] = amplitude * uniform();
    memset(&t.view, 0, sizeof t.view);
    t.view.data = t.data;
    t.view.dtype = SA_DTYPE_F32;
    t.view.n_tokens = tokens;
    t.view.n_heads = heads;
    t.view.head_dim = dim;
    t.view.stride_token = heads * dim;   /* explicit token-major strides */
    t.view.stride_head = dim;
    return t;
}

static float at(const host_tensor *t, int64_t tok, int64_t h, int64_t c) {
    return t->data[tok * t->view.stride_token + h * t->view.stride_head + c];
}

/* Which keys a query row at position p of head h attends: all causal keys (dense), or a
   plan's window, its selected indices <= p - window, and keys whose offset p / bs - j / bs is
   one of its diagonal offsets (the header's rule). */
typedef struct {
    int dense;
    int64_t window;
    const int64_t *indices;
    int64_t n_indices;
    int64_t bs, n_offsets;
    const int64_t *offsets;
} head_mask;

static int keeps(const head_mask *m, int64_t p, int64_t j) {
    if (j > p) return 0;
    if (m->dense || j > p - m->window) return 1;
    for (int64_t i = 0; i < m->n_indices; i++)
        if (m->indices[i] == j) return 1;
    for (int64_t i = 0; i < m->n_offsets; i++)
        if (m->offsets[i] == p / m->bs - j / m->bs) return 1;
    return 0;
}

/* float64 causal attention over masks[h] (NULL = dense), GQA by h / (H_q / H_kv).
   ref_out like q ([S_q, H_q, d] token-major), ref_lse [H_q, S_q]. */
static void reference(const host_tensor *q, const host_tensor *k, const host_tensor *v, double scale,
                      const head_mask *masks, double *ref_out, double *ref_lse) {
    int64_t sq = q->view.n_tokens, sk = k->view.n_tokens, hq = q->view.n_heads;
    int64_t hkv = k->view.n_heads, d = q->view.head_dim, group = hq / hkv;
    double *s = malloc((size_t)sk * sizeof(double));
    head_mask dense = {1, 0, NULL, 0, 0, 0, NULL};
    for (int64_t h = 0; h < hq; h++) {
        const head_mask *m = masks ? &masks[h] : &dense;
        int64_t kh = h / group;
        for (int64_t i = 0; i < sq; i++) {
            int64_t p = sk - sq + i;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < sk; j++) {
                s[j] = -INFINITY;
                if (!keeps(m, p, j)) continue;
                double dot = 0;
                for (int64_t c = 0; c < d; c++) dot += (double)at(q, i, h, c) * (double)at(k, j, kh, c);
                s[j] = dot * scale;
                if (s[j] > mx) mx = s[j];
            }
            double *o = ref_out + (i * hq + h) * d;
            for (int64_t c = 0; c < d; c++) o[c] = 0;
            for (int64_t j = 0; j < sk; j++) {
                if (s[j] == -INFINITY) continue;
                double w = exp(s[j] - mx);
                sum += w;
                for (int64_t c = 0; c < d; c++) o[c] += w * (double)at(v, j, kh, c);
            }
            for (int64_t c = 0; c < d; c++) o[c] /= sum;
            ref_lse[h * sq + i] = mx + log(sum);
        }
    }
    free(s);
}

/* ||out - ref|| / ||ref|| with out read through its view. */
static double rel_l2(const host_tensor *out, const double *ref) {
    int64_t sq = out->view.n_tokens, hq = out->view.n_heads, d = out->view.head_dim;
    double num = 0, den = 0;
    for (int64_t i = 0; i < sq; i++)
        for (int64_t h = 0; h < hq; h++)
            for (int64_t c = 0; c < d; c++) {
                double r = ref[(i * hq + h) * d + c], e = (double)at(out, i, h, c) - r;
                num += e * e;
                den += r * r;
            }
    return sqrt(num / den);
}

static double max_abs_diff_lse(const float *lse, const double *ref, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)lse[i] - ref[i]);
        if (!(e <= m)) m = e;   /* NaN propagates */
    }
    return m;
}

/* ---------------------------------------------------------------- tests */
static void test_version(void) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", SA_VERSION_MAJOR, SA_VERSION_MINOR, SA_VERSION_PATCH);
    const char *v = sa_version_string();
    CHECK(v != NULL && strcmp(v, expected) == 0, "sa_version_string() = \"%s\", header says \"%s\"",
          v ? v : "(null)", expected);
    CHECK(sa_version_number() == SA_VERSION_NUMBER, "sa_version_number() = %u, header says %d",
          (unsigned)sa_version_number(), SA_VERSION_NUMBER);
}

static void test_status_strings(void) {
    const char *seen[SA_STATUS_COUNT];
    for (sa_status s = 0; s < SA_STATUS_COUNT; s++) {
        const char *m = sa_status_string(s);
        seen[s] = m;
        CHECK(m != NULL && m[0] != '\0' && strcmp(m, "unknown status") != 0,
              "status %d has no message of its own: \"%s\"", (int)s, m ? m : "(null)");
        for (sa_status t = 0; m && t < s; t++)
            CHECK(seen[t] == NULL || strcmp(seen[t], m) != 0, "statuses %d and %d share \"%s\"", (int)t, (int)s, m);
    }
    const sa_status unknown[] = {-1, SA_STATUS_COUNT, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *m = sa_status_string(unknown[i]);
        CHECK(m != NULL && strcmp(m, "unknown status") == 0, "status %d: \"%s\"", (int)unknown[i], m ? m : "(null)");
    }
}

static void test_params_default(void) {
    sa_params p;
    memset(&p, 0xA5, sizeof p);
    sa_params_default(&p);
    CHECK(p.struct_size == sizeof(sa_params), "struct_size %u", (unsigned)p.struct_size);
    CHECK(p.mode == SA_MODE_SAMPLE, "mode %d", (int)p.mode);
    CHECK(p.alpha == 0.95f && p.window_ratio == 0.08f && p.sample_ratio == 0.05f,
          "alpha %g window_ratio %g sample_ratio %g", p.alpha, p.window_ratio, p.sample_ratio);
    CHECK(p.sink_tokens == 4 && p.min_seq_len == 1024 && p.max_density == 0.75f,
          "sink_tokens %d min_seq_len %d max_density %g", (int)p.sink_tokens, (int)p.min_seq_len, p.max_density);
    CHECK(p.scale == 0.0f && p.flags == 0u, "scale %g flags %u", p.scale, (unsigned)p.flags);
    CHECK(p.min_stripes == 0 && p.max_stripes == 0 && p.sample_group == 16 && p.max_diagonals == 64,
          "min_stripes %d max_stripes %d sample_group %d max_diagonals %d", (int)p.min_stripes,
          (int)p.max_stripes, (int)p.sample_group, (int)p.max_diagonals);
    CHECK(p.alpha_correction == 2.0f, "alpha_correction %g", p.alpha_correction);
    CHECK(p.precision == SA_PRECISION_F32, "precision %d", (int)p.precision);
    CHECK(p.min_window == 64 && p.rank_prior_rows == 16, "min_window %d rank_prior_rows %d", (int)p.min_window,
          (int)p.rank_prior_rows);
    (sa_params_default)(NULL);   /* no-op (the function: the macro would take sizeof *NULL) */
    CHECK(1, "sa_params_default(NULL)");
}

/* sa_params_init writes exactly the caller's size: a program compiled against an older, smaller
   sa_params is never written past its struct, and a newer, larger one gets zeros past ours. */
static void test_params_init(void) {
    unsigned char buf[sizeof(sa_params) + 64];
    sa_params ref;
    sa_params_default(&ref);
    const size_t sizes[] = {40, 52, 72, 76, 80, 84, sizeof(sa_params), sizeof(sa_params) + 28};
    for (int i = 0; i < 8; i++) {
        size_t n = sizes[i];
        memset(buf, 0xA5, sizeof buf);
        sa_status s = sa_params_init((sa_params *)(void *)buf, n);
        int tail_ok = 1;
        for (size_t b = n; b < sizeof buf; b++) tail_ok &= buf[b] == 0xA5;
        for (size_t b = sizeof(sa_params); b < n; b++) tail_ok &= buf[b] == 0;
        uint32_t size;
        memcpy(&size, buf, 4);
        size_t common = n < sizeof(sa_params) ? n : sizeof(sa_params);
        CHECK(s == SA_OK && size == n && tail_ok && memcmp(buf + 4, (unsigned char *)&ref + 4, common - 4) == 0,
              "sa_params_init(size %zu): status %d, struct_size %u, bytes past the size or the defaults wrong",
              n, (int)s, (unsigned)size);
    }
    /* A struct larger than ours with zeros past it is accepted by a call. */
    host_tensor t = make_tensor(8, 2, 8, 1), o = make_tensor(8, 2, 8, 0);
    sa_context *ctx = sa_context_new(1);
    sa_params_init((sa_params *)(void *)buf, sizeof(sa_params) + 28);
    CHECK(sa_attention(ctx, (const sa_params *)(void *)buf, &t.view, &t.view, &t.view, &o.view, NULL, NULL) == SA_OK,
          "a larger struct_size with a zero tail: %s", sa_context_last_error(ctx));
    sa_context_free(ctx);
    free(t.data); free(o.data);
    memset(buf, 0xA5, sizeof buf);
    CHECK(sa_params_init((sa_params *)(void *)buf, 39) == SA_ERR_STRUCT_SIZE && buf[0] == 0xA5,
          "size 39: refused, nothing written");
    CHECK(sa_params_init(NULL, sizeof(sa_params)) == SA_ERR_NULL_ARGUMENT, "NULL");
    /* The function (not the macro): what a 0.1 program calls; it fills 72 bytes. */
    memset(buf, 0xA5, sizeof buf);
    (sa_params_default)((sa_params *)(void *)buf);
    uint32_t size;
    int32_t block_size;
    memcpy(&size, buf, 4);
    memcpy(&block_size, buf + 68, 4);
    CHECK(size == 72 && block_size == 64 && buf[72] == 0xA5, "sa_params_default: struct_size %u, block_size %d",
          (unsigned)size, (int)block_size);
}

static void test_context(void) {
    sa_context *c2 = sa_context_new(2);
    CHECK(c2 != NULL && sa_context_n_threads(c2) == 2, "sa_context_new(2): %d threads", sa_context_n_threads(c2));
    sa_context *c0 = sa_context_new(0);
    CHECK(c0 != NULL && sa_context_n_threads(c0) >= 1, "sa_context_new(0): %d threads", sa_context_n_threads(c0));
    CHECK(sa_context_new(-1) == NULL, "sa_context_new(-1) must fail");
    CHECK(sa_context_new(1025) == NULL, "sa_context_new(1025) must fail");
    CHECK(sa_context_n_threads(NULL) == 0, "sa_context_n_threads(NULL)");
    const char *e = sa_context_last_error(c2);
    CHECK(e != NULL && e[0] == '\0', "fresh context last_error \"%s\"", e ? e : "(null)");
    CHECK_STATUS(sa_context_set_memory_limit(c2, 1u << 30), SA_OK);
    CHECK_STATUS(sa_context_set_memory_limit(c2, 0), SA_OK);
    CHECK_STATUS(sa_context_set_memory_limit(NULL, 0), SA_ERR_NULL_ARGUMENT);
    sa_context_free(c2);
    sa_context_free(c0);
    sa_context_free(NULL);   /* no-op */
}

static void test_features(void) {
    sa_features f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    CHECK_STATUS(sa_get_features(&f), SA_OK);
    CHECK(f.struct_size == sizeof f, "struct_size changed to %u", (unsigned)f.struct_size);
    CHECK(f.simd_level == 0 || f.simd_level == 1, "simd_level %d", (int)f.simd_level);
    CHECK(f.openmp == 1, "openmp %d (the library is built with OpenMP)", (int)f.openmp);
    CHECK(f.max_threads >= 1, "max_threads %d", (int)f.max_threads);
    CHECK(f.max_head_dim == 256 && f.head_dim_multiple == 8, "max_head_dim %d head_dim_multiple %d",
          (int)f.max_head_dim, (int)f.head_dim_multiple);
    /* The chosen ISA is the best the CPU has (no SAMPLEATTN_ISA in this test's environment). */
    int best = (f.cpu_isa_mask & SA_CPU_AMX_BF16) ? SA_ISA_AMX : (f.cpu_isa_mask & SA_CPU_AVX512) ? SA_ISA_AVX512
             : (f.cpu_isa_mask & SA_CPU_AVX2) ? SA_ISA_AVX2 : 0;
    CHECK(f.isa == best, "isa %d for cpu_isa_mask 0x%x", (int)f.isa, (unsigned)f.cpu_isa_mask);
    CHECK(f.simd_level == ((f.cpu_isa_mask & SA_CPU_AVX2) ? 1 : 0), "simd_level %d, cpu_isa_mask 0x%x",
          (int)f.simd_level, (unsigned)f.cpu_isa_mask);
    CHECK_STATUS(sa_get_features(NULL), SA_ERR_NULL_ARGUMENT);
    f.struct_size = 0;
    CHECK_STATUS(sa_get_features(&f), SA_ERR_STRUCT_SIZE);
}

/* Dense mode: GQA 4/2, chunked prefill (S_q < S_k), float64 reference, lse, stats, threads. */
static void test_dense(void) {
    const int64_t sq = 77, sk = 100, hq = 4, hkv = 2, d = 64;
    host_tensor q = make_tensor(sq, hq, d, 2), k = make_tensor(sk, hkv, d, 2), v = make_tensor(sk, hkv, d, 1);
    host_tensor out = make_tensor(sq, hq, d, 0), out1 = make_tensor(sq, hq, d, 0);
    float *lse = malloc((size_t)(hq * sq) * sizeof(float));
    double *ref = malloc((size_t)(sq * hq * d) * sizeof(double)), *ref_lse = malloc((size_t)(hq * sq) * sizeof(double));
    reference(&q, &k, &v, 1.0 / sqrt((double)d), NULL, ref, ref_lse);

    sa_context *ctx = sa_context_new(2), *ctx1 = sa_context_new(1);
    sa_params p;
    sa_params_default(&p);
    p.mode = SA_MODE_DENSE;
    sa_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_STATUS(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, lse, &st), SA_OK);
    double err = rel_l2(&out, ref);
    CHECK(err <= 1e-5, "dense relative L2 error %.3g", err);
    double lerr = max_abs_diff_lse(lse, ref_lse, hq * sq);
    CHECK(lerr <= 1e-4, "dense lse max error %.3g", lerr);
    int64_t causal = hq * (sq * (sk - sq) + sq * (sq + 1) / 2);
    CHECK(st.struct_size == sizeof st && st.mode == SA_MODE_DENSE && st.n_heads == hq && st.n_dense_heads == hq,
          "stats struct_size %u mode %d n_heads %lld n_dense_heads %lld", (unsigned)st.struct_size, (int)st.mode,
          (long long)st.n_heads, (long long)st.n_dense_heads);
    CHECK(st.kept_entries == causal && st.causal_entries == causal && st.density == 1.0 && st.cra_estimate == 1.0,
          "stats kept %lld causal %lld (expected %lld) density %g cra %g", (long long)st.kept_entries,
          (long long)st.causal_entries, (long long)causal, st.density, st.cra_estimate);
    CHECK(st.fallback_reason == SA_FALLBACK_NONE && st.n_threads == 2 && st.time_total_s >= 0 &&
          st.time_attention_s >= 0, "stats fallback %d n_threads %d time_total %g", (int)st.fallback_reason,
          (int)st.n_threads, st.time_total_s);
    CHECK(sa_context_last_error(ctx)[0] == '\0', "last_error after success: \"%s\"", sa_context_last_error(ctx));

    /* p NULL = defaults (sample mode, falls back to dense below min_seq_len); one thread; an
       older sa_stats (only the fields up to cra_estimate) is filled that far and no further. */
    unsigned char raw[sizeof(sa_stats)];
    memset(raw, 0xEE, sizeof raw);
    sa_stats *old = (sa_stats *)(void *)raw;
    old->struct_size = offsetof(sa_stats, time_sample_s);
    CHECK_STATUS(sa_attention(ctx1, NULL, &q.view, &k.view, &v.view, &out1.view, NULL, old), SA_OK);
    CHECK(memcmp(out.data, out1.data, out.count * sizeof(float)) == 0, "results differ between 2 and 1 threads");
    CHECK(old->n_dense_heads == hq && old->mode == SA_MODE_SAMPLE, "old stats: n_dense_heads %lld mode %d",
          (long long)old->n_dense_heads, (int)old->mode);
    int untouched = 1;
    for (size_t i = offsetof(sa_stats, time_sample_s); i < sizeof raw; i++) untouched &= raw[i] == 0xEE;
    CHECK(untouched, "bytes past a smaller stats.struct_size were written");

    /* Head-major q and out (strides in elements) give the same result. */
    host_tensor qh = make_tensor(sq, hq, d, 0), oh = make_tensor(sq, hq, d, 0);
    qh.view.stride_token = d;
    qh.view.stride_head = sq * d;
    oh.view.stride_token = d;
    oh.view.stride_head = sq * d;
    for (int64_t i = 0; i < sq; i++)
        for (int64_t h = 0; h < hq; h++)
            for (int64_t c = 0; c < d; c++) qh.data[i * d + h * sq * d + c] = at(&q, i, h, c);
    CHECK_STATUS(sa_attention(ctx, &p, &qh.view, &k.view, &v.view, &oh.view, NULL, NULL), SA_OK);
    err = rel_l2(&oh, ref);
    CHECK(err <= 1e-5, "head-major relative L2 error %.3g", err);

    sa_context_free(ctx);
    sa_context_free(ctx1);
    free(q.data); free(k.data); free(v.data); free(out.data); free(out1.data); free(qh.data); free(oh.data);
    free(lse); free(ref); free(ref_lse);
}

/* Bad input: its own status, a message, and the output untouched. */
static void test_errors(void) {
    const int64_t s = 32, h = 2, d = 64;
    host_tensor q = make_tensor(s, h, d, 1), k = make_tensor(s, h, d, 1), v = make_tensor(s, h, d, 1);
    host_tensor out = make_tensor(s, h, d, 1);
    float *before = malloc(out.count * sizeof(float));
    memcpy(before, out.data, out.count * sizeof(float));
    sa_context *ctx = sa_context_new(1);
    sa_params p;
    sa_tensor t;
    sa_stats st;

#define EXPECT_FAIL(call, expected)                                                          \
    do {                                                                                     \
        CHECK_STATUS(call, expected);                                                        \
        CHECK(sa_context_last_error(ctx)[0] != '\0', "%s: no error message", #call);         \
        CHECK(memcmp(out.data, before, out.count * sizeof(float)) == 0, "%s wrote out", #call); \
    } while (0)

    EXPECT_FAIL(sa_attention(ctx, NULL, NULL, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_NULL_ARGUMENT);
    t = q.view; t.dtype = 9;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_DTYPE);
    t = q.view; t.n_tokens = 0;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_SHAPE);
    t = q.view; t.head_dim = 12;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_UNSUPPORTED_HEAD_DIM);
    t = q.view; t.n_heads = 3; t.stride_token = 3 * d;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_GQA_MISMATCH);
    t = k.view; t.n_tokens = s - 1;
    EXPECT_FAIL(sa_attention(ctx, NULL, &q.view, &t, &t, &out.view, NULL, NULL), SA_ERR_SEQ_MISMATCH);
    t = q.view; t.stride_token = -1;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_STRIDE);
    t = q.view; t.stride_token = 1;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_OVERLAPPING_VIEW);
    t = q.view; t.stride_token = (int64_t)1 << 50;
    EXPECT_FAIL(sa_attention(ctx, NULL, &t, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_OVERFLOW);
    EXPECT_FAIL(sa_attention(ctx, NULL, &q.view, &k.view, &v.view, &q.view, NULL, NULL), SA_ERR_ALIASING);
    sa_params_default(&p); p.scale = -1;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_SCALE);
    sa_params_default(&p); p.alpha = 2;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_PARAM);
    sa_params_default(&p); p.precision = 2;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_PARAM);
    sa_params_default(&p); p.min_window = -1;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_PARAM);
    sa_params_default(&p); p.rank_prior_rows = -1;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_PARAM);
    sa_params_default(&p); p.mode = 7;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_INVALID_MODE);
    sa_params_default(&p); p.flags = 1u << 7;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_UNKNOWN_FLAG);
    sa_params_default(&p); p.struct_size = 0;
    EXPECT_FAIL(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_STRUCT_SIZE);
    memset(&st, 0, sizeof st);
    EXPECT_FAIL(sa_attention(ctx, NULL, &q.view, &k.view, &v.view, &out.view, NULL, &st), SA_ERR_STRUCT_SIZE);
    CHECK_STATUS(sa_context_set_memory_limit(ctx, 1), SA_OK);
    EXPECT_FAIL(sa_attention(ctx, NULL, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_OUT_OF_MEMORY);
    CHECK_STATUS(sa_context_set_memory_limit(ctx, 0), SA_OK);
    CHECK_STATUS(sa_attention(NULL, NULL, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_ERR_NULL_ARGUMENT);
#undef EXPECT_FAIL

    /* A 0.0-sized sa_params (40 bytes, before min_stripes) is still accepted. */
    sa_params_default(&p);
    p.struct_size = offsetof(sa_params, min_stripes);
    CHECK_STATUS(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_OK);
    CHECK(sa_context_last_error(ctx)[0] == '\0', "last_error not cleared by a success");

    sa_context_free(ctx);
    free(q.data); free(k.data); free(v.data); free(out.data); free(before);
}

/* The workspace kept between calls: off by default, outputs bitwise those of fresh memory for
   calls of growing and shrinking shapes in every mode, released when the cache is lowered. */
static void test_workspace_cache(void) {
    const int64_t hq = 4, hkv = 2, d = 64, lengths[] = {700, 1300, 700};
    const int32_t modes[] = {SA_MODE_DENSE, SA_MODE_SAMPLE, SA_MODE_SAMPLE_SLASH};
    sa_context *plain = sa_context_new(2), *cached = sa_context_new(2);
    uint64_t held = 1;
    CHECK_STATUS(sa_context_workspace_cached(cached, &held), SA_OK);
    CHECK(held == 0, "a new context keeps %llu bytes", (unsigned long long)held);
    CHECK_STATUS(sa_context_set_workspace_cache(cached, (uint64_t)1 << 30), SA_OK);
    for (int i = 0; i < 3; i++)
        for (int m = 0; m < 3; m++) {
            const int64_t s = lengths[i];
            host_tensor q = make_tensor(s, hq, d, 2), k = make_tensor(s, hkv, d, 2), v = make_tensor(s, hkv, d, 1);
            host_tensor a = make_tensor(s, hq, d, 0), b = make_tensor(s, hq, d, 0);
            sa_params p;
            sa_params_default(&p);
            p.mode = modes[m];
            p.min_seq_len = 256;
            CHECK_STATUS(sa_attention(plain, &p, &q.view, &k.view, &v.view, &a.view, NULL, NULL), SA_OK);
            CHECK_STATUS(sa_attention(cached, &p, &q.view, &k.view, &v.view, &b.view, NULL, NULL), SA_OK);
            CHECK(memcmp(a.data, b.data, a.count * sizeof(float)) == 0, "mode %d, S %lld: cached workspace changed the output",
                  modes[m], (long long)s);
            free(q.data); free(k.data); free(v.data); free(a.data); free(b.data);
        }
    CHECK_STATUS(sa_context_workspace_cached(plain, &held), SA_OK);
    CHECK(held == 0, "a context without a cache keeps %llu bytes", (unsigned long long)held);
    CHECK_STATUS(sa_context_workspace_cached(cached, &held), SA_OK);
    CHECK(held > 0 && held <= (uint64_t)1 << 30, "cached context keeps %llu bytes", (unsigned long long)held);
    /* A call refused by the memory limit leaves out untouched with blocks kept; once the
       limit is lifted the next call gives the bits of a fresh context. */
    {
        const int64_t s = 900;
        host_tensor q = make_tensor(s, hq, d, 2), k = make_tensor(s, hkv, d, 2), v = make_tensor(s, hkv, d, 1);
        host_tensor a = make_tensor(s, hq, d, 0), b = make_tensor(s, hq, d, 3);
        float *before = malloc(b.count * sizeof(float));
        memcpy(before, b.data, b.count * sizeof(float));
        sa_params p;
        sa_params_default(&p);
        p.min_seq_len = 256;
        CHECK_STATUS(sa_attention(plain, &p, &q.view, &k.view, &v.view, &a.view, NULL, NULL), SA_OK);
        CHECK_STATUS(sa_context_set_memory_limit(cached, 4096), SA_OK);
        CHECK_STATUS(sa_attention(cached, &p, &q.view, &k.view, &v.view, &b.view, NULL, NULL), SA_ERR_OUT_OF_MEMORY);
        CHECK(memcmp(b.data, before, b.count * sizeof(float)) == 0, "a call refused with a cache wrote out");
        CHECK_STATUS(sa_context_set_memory_limit(cached, 0), SA_OK);
        CHECK_STATUS(sa_attention(cached, &p, &q.view, &k.view, &v.view, &b.view, NULL, NULL), SA_OK);
        CHECK(memcmp(a.data, b.data, a.count * sizeof(float)) == 0, "cached context after a refusal differs");
        free(q.data); free(k.data); free(v.data); free(a.data); free(b.data); free(before);
    }
    CHECK_STATUS(sa_context_workspace_cached(cached, &held), SA_OK);
    const uint64_t all = held;
    CHECK_STATUS(sa_context_set_workspace_cache(cached, all / 2), SA_OK);
    CHECK_STATUS(sa_context_workspace_cached(cached, &held), SA_OK);
    CHECK(held <= all / 2, "a cache lowered to %llu bytes keeps %llu", (unsigned long long)(all / 2), (unsigned long long)held);
    CHECK_STATUS(sa_context_set_workspace_cache(cached, 0), SA_OK);
    CHECK_STATUS(sa_context_workspace_cached(cached, &held), SA_OK);
    CHECK(held == 0, "a cache set to 0 keeps %llu bytes", (unsigned long long)held);
    CHECK_STATUS(sa_context_set_workspace_cache(NULL, 0), SA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(sa_context_workspace_cached(NULL, &held), SA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(sa_context_workspace_cached(cached, NULL), SA_ERR_NULL_ARGUMENT);
    sa_context_free(plain);
    sa_context_free(cached);
}

/* Sample mode and plans: the plan's mask, checked by a float64 reference over it. */
/* The windows a seed head may get (sa_params.min_window): stage 1's ceil(window_ratio * S_k),
   its double below S_k, its halvings (rounded up) not below min_window; only the first with 0. */
static int is_candidate_window(int64_t w, int64_t full, int32_t min_window, int64_t sk) {
    if (w == full) return 1;
    if (min_window == 0) return 0;
    if (w == 2 * full && 2 * full < sk) return 1;
    for (int64_t x = (full + 1) / 2; x >= min_window; x = (x + 1) / 2) {
        if (w == x) return 1;
        if (x == 1) break;
    }
    return 0;
}

static void test_sample_and_plan(void) {
    const int64_t sq = 384, sk = 512, hq = 4, hkv = 2, d = 64;
    host_tensor q = make_tensor(sq, hq, d, 3), k = make_tensor(sk, hkv, d, 3), v = make_tensor(sk, hkv, d, 1);
    host_tensor out = make_tensor(sq, hq, d, 0), out_plan = make_tensor(sq, hq, d, 0);
    float *lse = malloc((size_t)(hq * sq) * sizeof(float));
    double *ref = malloc((size_t)(sq * hq * d) * sizeof(double)), *ref_lse = malloc((size_t)(hq * sq) * sizeof(double));
    sa_context *ctx = sa_context_new(2);
    int64_t *indices[4] = {0}, *offsets[4] = {0};

    /* Below min_seq_len without SA_FLAG_FORCE_SPARSE: every head falls back to dense. */
    sa_params p;
    sa_params_default(&p);
    sa_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_STATUS(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, NULL, &st), SA_OK);
    CHECK(st.mode == SA_MODE_SAMPLE && st.n_dense_heads == hq && st.fallback_reason == SA_FALLBACK_SHORT,
          "short fallback: mode %d n_dense_heads %lld fallback %d", (int)st.mode, (long long)st.n_dense_heads,
          (int)st.fallback_reason);
    reference(&q, &k, &v, 1.0 / sqrt((double)d), NULL, ref, ref_lse);
    double err = rel_l2(&out, ref);
    CHECK(err <= 1e-5, "short fallback relative L2 error %.3g", err);

    /* Forced sparse: a real SampleAttention mask. */
    p.flags = SA_FLAG_FORCE_SPARSE;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_STATUS(sa_attention(ctx, &p, &q.view, &k.view, &v.view, &out.view, lse, &st), SA_OK);
    CHECK(st.mode == SA_MODE_SAMPLE && st.n_heads == hq && st.n_dense_heads == 0 && st.fallback_reason == SA_FALLBACK_NONE,
          "sparse: n_dense_heads %lld fallback %d", (long long)st.n_dense_heads, (int)st.fallback_reason);
    CHECK(st.kept_entries > 0 && st.kept_entries <= st.causal_entries && st.density > 0 && st.density <= 1 &&
          st.cra_estimate > 0 && st.cra_estimate <= 1.0 + 1e-9, "sparse stats: kept %lld causal %lld density %g cra %g",
          (long long)st.kept_entries, (long long)st.causal_entries, st.density, st.cra_estimate);

    sa_plan *plan = NULL;
    CHECK_STATUS(sa_plan_create(ctx, &p, &q.view, &k.view, &plan), SA_OK);
    CHECK(plan != NULL, "sa_plan_create set no plan");
    if (plan == NULL) goto done;

    int64_t n_heads = -1, psq = -1, psk = -1;
    CHECK_STATUS(sa_plan_shape(plan, &n_heads, &psq, &psk), SA_OK);
    CHECK(n_heads == hq && psq == sq && psk == sk, "plan shape %lld %lld %lld", (long long)n_heads, (long long)psq,
          (long long)psk);
    CHECK_STATUS(sa_plan_shape(plan, NULL, NULL, NULL), SA_OK);
    CHECK_STATUS(sa_plan_shape(NULL, &n_heads, NULL, NULL), SA_ERR_NULL_ARGUMENT);

    head_mask masks[4];
    int64_t window_full = (int64_t)ceil((double)p.window_ratio * (double)sk);
    int64_t kept_total = 0;
    for (int64_t h = 0; h < hq; h++) {
        sa_plan_head info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        CHECK_STATUS(sa_plan_head_info(plan, h, &info), SA_OK);
        CHECK(info.dense == 0 && is_candidate_window(info.window, window_full, p.min_window, sk) &&
              info.n_indices >= p.sink_tokens && info.n_indices <= sk,
              "head %lld: dense %d window %lld (stage 1's %lld) n_indices %lld", (long long)h, (int)info.dense,
              (long long)info.window, (long long)window_full, (long long)info.n_indices);
        CHECK(info.density > 0 && info.density <= 1 && info.cra_min <= info.cra_mean && info.cra_mean <= 1 + 1e-9 &&
              info.cra_min > 0, "head %lld: density %g cra mean %g min %g", (long long)h, info.density, info.cra_mean,
              info.cra_min);
        indices[h] = malloc((size_t)(info.n_indices + 1) * sizeof(int64_t));
        if (info.n_indices > 0) {
            indices[h][0] = -7;
            CHECK_STATUS(sa_plan_head_indices(plan, h, indices[h], info.n_indices - 1), SA_ERR_BUFFER_TOO_SMALL);
            CHECK(indices[h][0] == -7, "head %lld: indices written despite BUFFER_TOO_SMALL", (long long)h);
        }
        CHECK_STATUS(sa_plan_head_indices(plan, h, indices[h], info.n_indices), SA_OK);
        int sorted = 1, sinks = 1;
        for (int64_t i = 0; i < info.n_indices; i++) {
            if (indices[h][i] < 0 || indices[h][i] >= sk || (i > 0 && indices[h][i] <= indices[h][i - 1])) sorted = 0;
            if (i < p.sink_tokens && indices[h][i] != i) sinks = 0;
        }
        CHECK(sorted, "head %lld: indices not ascending within [0, S_k)", (long long)h);
        CHECK(sinks, "head %lld: the first indices are not the %d sink tokens", (long long)h, (int)p.sink_tokens);
        offsets[h] = malloc((size_t)(info.n_slash_blocks + 1) * sizeof(int64_t));
        CHECK_STATUS(sa_plan_head_slashes(plan, h, offsets[h], info.n_slash_blocks), SA_OK);
        CHECK(info.n_slash_blocks == 0 ? info.block_size == 0 : info.block_size == 1,
              "seed head %lld: %lld diagonals with block_size %lld", (long long)h, (long long)info.n_slash_blocks,
              (long long)info.block_size);
        masks[h] = (head_mask){0, info.window, indices[h], info.n_indices, info.block_size, info.n_slash_blocks,
                               offsets[h]};
        /* kept_entries agrees with the mask it describes */
        int64_t kept = 0;
        for (int64_t i = 0; i < sq; i++)
            for (int64_t j = 0; j < sk; j++) kept += keeps(&masks[h], sk - sq + i, j);
        CHECK(kept == info.kept_entries, "head %lld: kept_entries %lld, mask has %lld", (long long)h,
              (long long)info.kept_entries, (long long)kept);
        kept_total += kept;
    }
    CHECK(kept_total == st.kept_entries, "stats kept %lld, plan %lld", (long long)st.kept_entries, (long long)kept_total);
    sa_plan_head info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_STATUS(sa_plan_head_info(plan, hq, &info), SA_ERR_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(sa_plan_head_info(plan, -1, &info), SA_ERR_INDEX_OUT_OF_RANGE);
    CHECK_STATUS(sa_plan_head_indices(plan, hq, NULL, 0), SA_ERR_INDEX_OUT_OF_RANGE);
    info.struct_size = 0;
    CHECK_STATUS(sa_plan_head_info(plan, 0, &info), SA_ERR_STRUCT_SIZE);

    /* sa_attention in sample mode and sa_plan_apply both compute attention over that mask. */
    reference(&q, &k, &v, 1.0 / sqrt((double)d), masks, ref, ref_lse);
    err = rel_l2(&out, ref);
    CHECK(err <= 1e-5, "sample mode relative L2 error against its plan's mask %.3g", err);
    double lerr = max_abs_diff_lse(lse, ref_lse, hq * sq);
    CHECK(lerr <= 1e-4, "sample mode lse max error %.3g", lerr);

    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK_STATUS(sa_plan_apply(ctx, plan, &q.view, &k.view, &v.view, &out_plan.view, lse, &st), SA_OK);
    err = rel_l2(&out_plan, ref);
    CHECK(err <= 1e-5, "sa_plan_apply relative L2 error %.3g", err);
    CHECK(memcmp(out.data, out_plan.data, out.count * sizeof(float)) == 0,
          "sa_plan_apply differs from sa_attention with the same parameters");
    CHECK(st.kept_entries == kept_total && st.n_dense_heads == 0, "apply stats kept %lld", (long long)st.kept_entries);

    sa_tensor shorter = q.view;
    shorter.n_tokens = sq - 1;
    sa_tensor shorter_out = out_plan.view;
    shorter_out.n_tokens = sq - 1;
    CHECK_STATUS(sa_plan_apply(ctx, plan, &shorter, &k.view, &v.view, &shorter_out, NULL, NULL), SA_ERR_PLAN_MISMATCH);
    CHECK_STATUS(sa_plan_apply(ctx, NULL, &q.view, &k.view, &v.view, &out_plan.view, NULL, NULL), SA_ERR_NULL_ARGUMENT);
    CHECK_STATUS(sa_plan_create(ctx, &p, &q.view, &k.view, NULL), SA_ERR_NULL_ARGUMENT);

    sa_plan_free(plan);
done:
    sa_plan_free(NULL);   /* no-op */
    for (int h = 0; h < 4; h++) { free(indices[h]); free(offsets[h]); }
    sa_context_free(ctx);
    free(q.data); free(k.data); free(v.data); free(out.data); free(out_plan.data);
    free(lse); free(ref); free(ref_lse);
}

/* SA_MODE_SAMPLE_SLASH: diagonal blocks read through sa_plan_head_slashes, columns as indices. */
static void test_slash_plan(void) {
    const int64_t sq = 200, sk = 260, hq = 4, hkv = 2, d = 64;
    host_tensor q = make_tensor(sq, hq, d, 3), k = make_tensor(sk, hkv, d, 3), v = make_tensor(sk, hkv, d, 1);
    host_tensor out = make_tensor(sq, hq, d, 0);
    sa_context *ctx = sa_context_new(2);
    sa_params p;
    sa_params_default(&p);
    p.mode = SA_MODE_SAMPLE_SLASH;
    p.min_seq_len = 0;
    p.flags = SA_FLAG_FORCE_SPARSE;
    p.block_size = 32;
    p.alpha_column = 0.7f;
    p.alpha_slash = 0.5f;
    sa_plan *plan = NULL;
    CHECK_STATUS(sa_plan_create(ctx, &p, &q.view, &k.view, &plan), SA_OK);
    for (int64_t h = 0; h < hq; h++) {
        sa_plan_head info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        CHECK_STATUS(sa_plan_head_info(plan, h, &info), SA_OK);
        CHECK(info.block_size == 32 && info.window == 0 && info.n_indices >= 32 && info.n_slash_blocks >= 1,
              "slash head %lld: block %lld window %lld columns %lld slashes %lld", (long long)h,
              (long long)info.block_size, (long long)info.window, (long long)info.n_indices,
              (long long)info.n_slash_blocks);
        int64_t slashes[16];
        CHECK_STATUS(sa_plan_head_slashes(plan, h, slashes, 0), SA_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(sa_plan_head_slashes(plan, h, slashes, 16), SA_OK);
        CHECK(slashes[0] == 0, "slash head %lld: the diagonal is kept", (long long)h);
        /* sa_plan_head_offsets is the neutral name of the same call. */
        int64_t offsets[16];
        CHECK_STATUS(sa_plan_head_offsets(plan, h, offsets, 0), SA_ERR_BUFFER_TOO_SMALL);
        CHECK_STATUS(sa_plan_head_offsets(plan, h, offsets, 16), SA_OK);
        CHECK(memcmp(offsets, slashes, (size_t)info.n_slash_blocks * sizeof(int64_t)) == 0,
              "slash head %lld: sa_plan_head_offsets gives sa_plan_head_slashes' offsets", (long long)h);
    }
    CHECK_STATUS(sa_plan_apply(ctx, plan, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_OK);
    sa_plan_free(plan);
    sa_context_free(ctx);
    free(q.data); free(k.data); free(v.data); free(out.data);
}

int main(void) {
    rng_state = 0x5eed;
    test_version();
    test_status_strings();
    test_params_default();
    test_params_init();
    test_context();
    test_features();
    test_dense();
    test_errors();
    test_sample_and_plan();
    test_slash_plan();
    test_workspace_cache();
    printf("libsampleattn %s C ABI test: %d passed, %d failed\n", sa_version_string(), n_checks - n_failed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
