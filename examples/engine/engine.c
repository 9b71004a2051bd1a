/*
 * engine.c - libsampleattn in a llama.cpp-style host: a float16 KV cache in ggml's layout,
 * chunked prefill, grouped-query attention, and merging partial attention with the log-sum-exp.
 *
 * The "model" here replays real activations (post-RoPE q, k, v of Qwen2.5-Coder-0.5B on
 * CPython source, data/qwen05b_code_4k): for each chunk of the prompt it produces float32 q, k,
 * v as a model's projections would, stores k and v into the f16 cache, and calls sa_attention
 * with the chunk's queries against views of the cache's first `filled` tokens. No copy of the
 * cache is ever made: the library reads it in place through element strides.
 *
 * It checks, per layer:
 *   (a) dense mode: chunked prefill == one-shot prefill (relative L2 <= 1e-5, lse too);
 *   (b) SampleAttention: chunked and one-shot are both compared with dense; the true CRA of
 *       each row (share of the dense attention mass its mask kept) is exp(lse_sparse - lse_dense);
 *       chunked must stay within the stated tolerances of one-shot;
 *   (c) merging: attention of a chunk over keys [0, P) and over keys [P, P+n) (two calls, disjoint
 *       key sets whose union is the causal set), merged with their lse, equals the one call.
 * Prints a report and exits 1 when a check fails (2 on usage or I/O errors).
 *
 *   engine [--data DIR] [--layers 1,12,23] [--chunk 512] [--n-ctx 8192] [--threads 0]
 *          [--cache heads|tokens] [--merge last|all]
 *
 * Build against an installed library: CMakeLists.txt (find_package) or Makefile (pkg-config).
 */
#include <sampleattn.h>

#include "npy_f16.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- tolerances (stated) */
#define TOL_DENSE_REL_L2     1e-5  /* (a), (c): float32 outputs, chunked/merged vs one call */
#define TOL_DENSE_LSE        1e-6  /* (a), (c): max |lse difference| / max(1, |lse|): float32 lse
                                      of layer 1 reaches 700, where one ulp is 6e-5 */
#define TOL_SPARSE_CRA_DROP  0.02  /* (b): mean true CRA of chunked >= one-shot's - this */
#define TOL_SPARSE_ERR_RATIO 1.5   /* (b): chunked rel L2 vs dense <= this x one-shot's + 0.01 */
#define TOL_SPARSE_CRA_MIN   0.90  /* (b): mean true CRA (both) >= this at alpha 0.95 */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "out of memory (%zu bytes)\n", n); exit(2); }
    return p;
}

/* ---------------------------------------------------------------- the KV cache
 * One per layer, like llama.cpp's k_l / v_l. Element (token t, kv head h, dim i) of K lives at
 * byte offset t*nb1 + h*nb2 + i*2 of `k`: exactly the view ggml_flash_attn_ext takes
 * (ne = [head_dim, n_tokens, n_head_kv], byte strides nb1, nb2). Two layouts of the same idea:
 *   CACHE_HEADS:  for each KV head a [head_dim, n_ctx] block: nb1 = d*2, nb2 = n_ctx*d*2
 *   CACHE_TOKENS: llama.cpp's k_l, one [n_head_kv*head_dim] row per token: nb1 = H_kv*d*2, nb2 = d*2
 * n_ctx is larger than the prompt, so every view below is into a larger buffer. */
enum { CACHE_HEADS, CACHE_TOKENS };

typedef struct kv_cache {
    int64_t   n_ctx, n_head_kv, head_dim;
    size_t    nb1, nb2;      /* bytes between tokens, between heads */
    uint16_t *k, *v;         /* float16 storage */
} kv_cache;

static void cache_init(kv_cache *c, int layout, int64_t n_ctx, int64_t n_head_kv, int64_t d) {
    c->n_ctx = n_ctx;
    c->n_head_kv = n_head_kv;
    c->head_dim = d;
    const size_t es = sizeof(uint16_t);
    if (layout == CACHE_HEADS) { c->nb1 = (size_t)d * es; c->nb2 = (size_t)(n_ctx * d) * es; }
    else                       { c->nb1 = (size_t)(n_head_kv * d) * es; c->nb2 = (size_t)d * es; }
    size_t bytes = (size_t)(n_ctx * n_head_kv * d) * es;
    c->k = (uint16_t *)xmalloc(bytes);
    c->v = (uint16_t *)xmalloc(bytes);
    /* NaN everywhere: any read past the filled tokens would show up in the results. */
    for (size_t i = 0; i < bytes / es; i++) c->k[i] = c->v[i] = 0x7e00;
}

static void cache_free(kv_cache *c) { free(c->k); free(c->v); }

/* Store n tokens of x (float32 [n, H_kv, d], the model's output for a chunk) at position pos. */
static void cache_store(const kv_cache *c, uint16_t *base, int64_t pos, int64_t n, const float *x) {
    const int64_t H = c->n_head_kv, d = c->head_dim;
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < H; h++) {
            uint16_t *dst = (uint16_t *)((char *)base + (size_t)(pos + t) * c->nb1 + (size_t)h * c->nb2);
            const float *src = x + (t * H + h) * d;
            for (int64_t i = 0; i < d; i++) dst[i] = f32_to_f16(src[i]);
        }
}

/* The view of cache tokens [first, first + n): ggml byte strides -> sa_tensor element strides. */
static sa_tensor cache_view(const kv_cache *c, const uint16_t *base, int64_t first, int64_t n) {
    sa_tensor t;
    memset(&t, 0, sizeof t);
    t.data = (char *)base + (size_t)first * c->nb1;
    t.dtype = SA_DTYPE_F16;
    t.n_tokens = n;
    t.n_heads = c->n_head_kv;
    t.head_dim = c->head_dim;
    t.stride_token = (int64_t)(c->nb1 / sizeof(uint16_t));
    t.stride_head = (int64_t)(c->nb2 / sizeof(uint16_t));
    return t;
}

/* A token-major float32 [n, H, d] view (ggml's q / flash_attn_ext output: nb1 = H*d*4, nb2 = d*4). */
static sa_tensor f32_view(float *data, int64_t n, int64_t H, int64_t d) {
    sa_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = SA_DTYPE_F32;
    t.n_tokens = n;
    t.n_heads = H;
    t.head_dim = d;
    t.stride_token = H * d;
    t.stride_head = d;
    return t;
}

/* ---------------------------------------------------------------- the "model" of one layer
 * Replays a capture: q [H_q, S, d], k and v [H_kv, S, d] float16 (head-major .npy files). */
typedef struct layer_data {
    int      layer;
    npy_f16  q, k, v;
    int64_t  n_tokens, n_head, n_head_kv, head_dim;
} layer_data;

static int layer_load(layer_data *L, const char *dir, int layer, char *err, size_t err_size) {
    char path[4096];
    memset(L, 0, sizeof *L);
    L->layer = layer;
    npy_f16 *arr[3] = {&L->q, &L->k, &L->v};
    const char *name[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/L%02d_%s.npy", dir, layer, name[i]);
        if (npy_f16_load(path, arr[i], err, err_size) != 0) return -1;
        if (arr[i]->ndim != 3) { snprintf(err, err_size, "%.400s: expected 3 dimensions", path); return -1; }
    }
    L->n_head = L->q.shape[0];
    L->n_tokens = L->q.shape[1];
    L->head_dim = L->q.shape[2];
    L->n_head_kv = L->k.shape[0];
    for (int i = 1; i < 3; i++)
        if (arr[i]->shape[1] != L->n_tokens || arr[i]->shape[2] != L->head_dim || arr[i]->shape[0] != L->n_head_kv) {
            snprintf(err, err_size, "layer %d: q, k, v shapes disagree", layer);
            return -1;
        }
    return 0;
}

static void layer_free(layer_data *L) { npy_f16_free(&L->q); npy_f16_free(&L->k); npy_f16_free(&L->v); }

/* The projections of tokens [pos, pos+n) in float32, token-major like ggml's activations:
   x [n, H, d] from a head-major f16 capture [H, S, d]. */
static void model_project(const npy_f16 *a, int64_t pos, int64_t n, float *x) {
    const int64_t H = a->shape[0], S = a->shape[1], d = a->shape[2];
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < d; i++)
                x[(t * H + h) * d + i] = f16_to_f32(a->data[(h * S + pos + t) * d + i]);
}

/* ---------------------------------------------------------------- numbers */
typedef struct l2acc { double num, den; } l2acc;   /* relative L2: sqrt(sum (a-b)^2 / sum b^2) */

static void l2_add(l2acc *acc, const float *a, const float *ref, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)ref[i];
        acc->num += e * e;
        acc->den += (double)ref[i] * (double)ref[i];
    }
}
static double l2_rel(const l2acc *acc) { return acc->den > 0 ? sqrt(acc->num / acc->den) : sqrt(acc->num); }

/* max |a - b| / max(1, |b|): lse values reach several hundred, so compare them relatively. */
static double max_rel_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i]));
        if (!(e <= m)) m = e;
    }
    return m;
}

/* True CRA of a sparse result: row (h, i) kept exp(lse_sparse - lse_dense) of the dense mass. */
typedef struct cra_summary { double mean, worst_head_mean, min_row; } cra_summary;

static cra_summary true_cra(const float *lse_sparse, const float *lse_dense, int64_t H, int64_t S) {
    cra_summary r = {0, 1e9, 1e9};
    for (int64_t h = 0; h < H; h++) {
        double sum = 0;
        for (int64_t i = 0; i < S; i++) {
            double c = exp((double)lse_sparse[h * S + i] - (double)lse_dense[h * S + i]);
            sum += c;
            if (c < r.min_row) r.min_row = c;
        }
        r.mean += sum / (double)S;
        if (sum / (double)S < r.worst_head_mean) r.worst_head_mean = sum / (double)S;
    }
    r.mean /= (double)H;
    return r;
}

static int failures = 0;
static void check(int ok, const char *what) {
    printf("      %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

#define CALL(expr)                                                                               \
    do {                                                                                         \
        sa_status s_ = (expr);                                                                   \
        if (s_ != SA_OK) {                                                                       \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #expr,                  \
                    sa_status_string(s_), sa_context_last_error(ctx));                           \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

/* ---------------------------------------------------------------- one layer */
typedef struct options {
    const char *data;
    int         layers[16], n_layers;
    int64_t     chunk, n_ctx;
    int32_t     threads;
    int         cache_layout;
    int         merge_all;
} options;

static void run_layer(sa_context *ctx, const options *o, const layer_data *L) {
    const int64_t N = L->n_tokens, Hq = L->n_head, Hkv = L->n_head_kv, d = L->head_dim;
    const int64_t C = o->chunk;
    const size_t qn = (size_t)(N * Hq * d);
    const float scale = (float)(1.0 / sqrt((double)d));   /* the model's scale (1/8 here), passed explicitly */

    sa_params dense, sample;
    sa_params_default(&dense);
    dense.mode = SA_MODE_DENSE;
    dense.scale = scale;
    sa_params_default(&sample);   /* SA_MODE_SAMPLE, alpha 0.95, window 0.08, min_seq_len 2048 */
    sample.scale = scale;

    kv_cache cache;
    cache_init(&cache, o->cache_layout, o->n_ctx, Hkv, d);

    float *q_all = (float *)xmalloc(qn * sizeof(float));          /* the prompt's queries */
    float *o_dense_ch = (float *)xmalloc(qn * sizeof(float));     /* chunked, dense */
    float *o_sample_ch = (float *)xmalloc(qn * sizeof(float));    /* chunked, SampleAttention */
    float *o_dense_1 = (float *)xmalloc(qn * sizeof(float));      /* one-shot, dense */
    float *o_sample_1 = (float *)xmalloc(qn * sizeof(float));     /* one-shot, SampleAttention */
    float *lse_dense_ch = (float *)xmalloc((size_t)(Hq * N) * sizeof(float));   /* [H_q, N] */
    float *lse_sample_ch = (float *)xmalloc((size_t)(Hq * N) * sizeof(float));
    float *lse_dense_1 = (float *)xmalloc((size_t)(Hq * N) * sizeof(float));
    float *lse_sample_1 = (float *)xmalloc((size_t)(Hq * N) * sizeof(float));
    /* per-chunk scratch: the model's k, v; lse of one call; the merge demo's buffers */
    float *k_chunk = (float *)xmalloc((size_t)(C * Hkv * d) * sizeof(float));
    float *v_chunk = (float *)xmalloc((size_t)(C * Hkv * d) * sizeof(float));
    float *lse_a = (float *)xmalloc((size_t)(Hq * C) * sizeof(float));
    float *lse_b = (float *)xmalloc((size_t)(Hq * C) * sizeof(float));
    float *q_hm = (float *)xmalloc((size_t)(Hq * C * d) * sizeof(float));
    float *o_a = (float *)xmalloc((size_t)(Hq * C * d) * sizeof(float));
    float *o_b = (float *)xmalloc((size_t)(C * Hq * d) * sizeof(float));
    float *o_m = (float *)xmalloc((size_t)(C * Hq * d) * sizeof(float));
    float *lse_m = (float *)xmalloc((size_t)(Hq * C) * sizeof(float));

    double t_dense_ch = 0, t_sample_ch = 0, t0;
    double t_merge_a = 0, t_merge_b = 0, t_merge_m = 0, t_merge_ref = 0;
    int64_t n_merged = 0;
    int64_t kept_ch = 0, causal_ch = 0, dense_chunks = 0, n_chunks = 0;
    l2acc merge_err = {0, 0};
    double merge_lse_err = 0;

    /* ---- chunked prefill: the engine's loop */
    for (int64_t pos = 0; pos < N; pos += C) {
        const int64_t n = N - pos < C ? N - pos : C;
        const int64_t filled = pos + n;
        float *q = q_all + (size_t)(pos * Hq * d);
        model_project(&L->q, pos, n, q);              /* this chunk's activations, float32 */
        model_project(&L->k, pos, n, k_chunk);
        model_project(&L->v, pos, n, v_chunk);
        cache_store(&cache, cache.k, pos, n, k_chunk);  /* append to the f16 cache */
        cache_store(&cache, cache.v, pos, n, v_chunk);

        sa_tensor tq = f32_view(q, n, Hq, d);
        sa_tensor tk = cache_view(&cache, cache.k, 0, filled);   /* cache[0, filled) */
        sa_tensor tv = cache_view(&cache, cache.v, 0, filled);
        sa_tensor td = f32_view(o_dense_ch + (size_t)(pos * Hq * d), n, Hq, d);
        sa_tensor ts = f32_view(o_sample_ch + (size_t)(pos * Hq * d), n, Hq, d);
        sa_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;

        t0 = now_s();
        CALL(sa_attention(ctx, &dense, &tq, &tk, &tv, &td, lse_a, NULL));
        double t_chunk_dense = now_s() - t0;
        t_dense_ch += t_chunk_dense;
        for (int64_t h = 0; h < Hq; h++)   /* lse is [H_q, n] per call; the layer's is [H_q, N] */
            memcpy(lse_dense_ch + h * N + pos, lse_a + h * n, (size_t)n * sizeof(float));

        t0 = now_s();
        CALL(sa_attention(ctx, &sample, &tq, &tk, &tv, &ts, lse_a, &st));
        t_sample_ch += now_s() - t0;
        for (int64_t h = 0; h < Hq; h++)
            memcpy(lse_sample_ch + h * N + pos, lse_a + h * n, (size_t)n * sizeof(float));
        kept_ch += st.kept_entries;
        causal_ch += st.causal_entries;
        dense_chunks += st.n_dense_heads == st.n_heads;
        n_chunks++;

        /* ---- (c) merge demo: keys [0, pos) and keys [pos, filled), disjoint, union = causal set.
         * Part B is ordinary chunked prefill over the view cache[pos, filled): S_q = S_k = n, so
         * row i sees keys pos..pos+i, exactly its causal keys in that range.
         * Part A needs every row to see ALL of [0, pos) (no causal cut inside the prefix). The API
         * puts the last query at the last key, so a view cache[0, pos) with S_q = n would cut rows
         * off; instead give each (head, row) pair its own "head" with one token: q as
         * [1, H_q*n, d] over a head-major copy [H_q, n, d]. One query token sits at the last key,
         * sees all of [0, pos), and query "head" h*n + i reads KV head (h*n + i) / (n*H_q/H_kv)
         * = h / (H_q/H_kv), the right GQA group. (One-token "heads" cost more than the plain
         * call: the kernel's query tiles are 6 rows.) Done for the last chunk, or every chunk
         * with --merge-all. */
        if (pos > 0 && (o->merge_all || filled == N)) {
            double ta = now_s();
            for (int64_t h = 0; h < Hq; h++)
                for (int64_t i = 0; i < n; i++)
                    memcpy(q_hm + (h * n + i) * d, q + (i * Hq + h) * d, (size_t)d * sizeof(float));
            sa_tensor qa = {0};
            qa.data = q_hm; qa.dtype = SA_DTYPE_F32; qa.n_tokens = 1; qa.n_heads = Hq * n; qa.head_dim = d;
            qa.stride_token = Hq * n * d; qa.stride_head = d;
            sa_tensor oa = qa;
            oa.data = o_a;
            sa_tensor ka = cache_view(&cache, cache.k, 0, pos), va = cache_view(&cache, cache.v, 0, pos);
            CALL(sa_attention(ctx, &dense, &qa, &ka, &va, &oa, lse_a, NULL));   /* lse_a: [H_q*n] = [H_q, n] */
            double tb = now_s();

            sa_tensor kb = cache_view(&cache, cache.k, pos, n), vb = cache_view(&cache, cache.v, pos, n);
            sa_tensor ob = f32_view(o_b, n, Hq, d);
            CALL(sa_attention(ctx, &dense, &tq, &kb, &vb, &ob, lse_b, NULL));
            double tc = now_s();

            for (int64_t h = 0; h < Hq; h++)
                for (int64_t i = 0; i < n; i++) {   /* o = (o1 e^(l1-m) + o2 e^(l2-m)) / (e^(l1-m) + e^(l2-m)) */
                    double l1 = lse_a[h * n + i], l2 = lse_b[h * n + i], m = l1 > l2 ? l1 : l2;
                    double w1 = exp(l1 - m), w2 = exp(l2 - m), inv = 1.0 / (w1 + w2);
                    const float *a = o_a + (h * n + i) * d, *b = o_b + (i * Hq + h) * d;
                    float *out = o_m + (i * Hq + h) * d;
                    for (int64_t c = 0; c < d; c++) out[c] = (float)((a[c] * w1 + b[c] * w2) * inv);
                    lse_m[h * n + i] = (float)(m + log(w1 + w2));
                }
            double td_ = now_s();
            t_merge_a += tb - ta;
            t_merge_b += tc - tb;
            t_merge_m += td_ - tc;
            t_merge_ref += t_chunk_dense;
            n_merged++;
            l2_add(&merge_err, o_m, o_dense_ch + (size_t)(pos * Hq * d), (size_t)(n * Hq * d));
            for (int64_t h = 0; h < Hq; h++) {
                double e = max_rel_diff(lse_m + h * n, lse_dense_ch + h * N + pos, (size_t)n);
                if (!(e <= merge_lse_err)) merge_lse_err = e;
            }
        }
    }

    /* ---- one-shot prefill of the whole prompt against the same cache */
    sa_tensor tq = f32_view(q_all, N, Hq, d);
    sa_tensor tk = cache_view(&cache, cache.k, 0, N), tv = cache_view(&cache, cache.v, 0, N);
    sa_tensor td = f32_view(o_dense_1, N, Hq, d), ts = f32_view(o_sample_1, N, Hq, d);
    sa_stats st1;
    memset(&st1, 0, sizeof st1);
    st1.struct_size = sizeof st1;
    t0 = now_s();
    CALL(sa_attention(ctx, &dense, &tq, &tk, &tv, &td, lse_dense_1, NULL));
    double t_dense_1 = now_s() - t0;
    t0 = now_s();
    CALL(sa_attention(ctx, &sample, &tq, &tk, &tv, &ts, lse_sample_1, &st1));
    double t_sample_1 = now_s() - t0;

    /* ---- report */
    printf("layer %d: %lld tokens in %lld chunks of %lld, H_q %lld, H_kv %lld, d %lld; cache n_ctx %lld, "
           "%s, nb1 %zu nb2 %zu bytes\n", L->layer, (long long)N, (long long)n_chunks, (long long)C,
           (long long)Hq, (long long)Hkv, (long long)d, (long long)cache.n_ctx,
           o->cache_layout == CACHE_HEADS ? "[d, n_ctx] block per KV head" : "llama.cpp row per token",
           cache.nb1, cache.nb2);

    l2acc e_a = {0, 0};
    l2_add(&e_a, o_dense_ch, o_dense_1, qn);
    double lse_a_err = max_rel_diff(lse_dense_ch, lse_dense_1, (size_t)(Hq * N));
    printf("  (a) dense, chunked vs one-shot: rel L2 %.2e, lse rel %.2e   (%.0f ms chunked, %.0f ms one-shot)\n",
           l2_rel(&e_a), lse_a_err, 1e3 * t_dense_ch, 1e3 * t_dense_1);
    check(l2_rel(&e_a) <= TOL_DENSE_REL_L2, "chunked dense output equals one-shot (rel L2 <= 1e-5)");
    check(lse_a_err <= TOL_DENSE_LSE, "chunked dense lse equals one-shot (max |d| / max(1, |lse|) <= 1e-6)");

    l2acc e1 = {0, 0}, ech = {0, 0}, ex = {0, 0};
    l2_add(&e1, o_sample_1, o_dense_1, qn);
    l2_add(&ech, o_sample_ch, o_dense_1, qn);
    l2_add(&ex, o_sample_ch, o_sample_1, qn);
    cra_summary c1 = true_cra(lse_sample_1, lse_dense_1, Hq, N);
    cra_summary cch = true_cra(lse_sample_ch, lse_dense_1, Hq, N);
    double dens_ch = causal_ch ? (double)kept_ch / (double)causal_ch : 1.0;
    printf("  (b) SampleAttention (alpha %.2f), true CRA = exp(lse_sparse - lse_dense):\n", sample.alpha);
    printf("      one-shot: density %.3f, CRA mean %.4f, worst head %.4f, worst row %.4f, "
           "rel L2 vs dense %.4f  (%.0f ms, est. CRA %.4f)\n", st1.density, c1.mean, c1.worst_head_mean,
           c1.min_row, l2_rel(&e1), 1e3 * t_sample_1, st1.cra_estimate);
    printf("      chunked:  density %.3f, CRA mean %.4f, worst head %.4f, worst row %.4f, "
           "rel L2 vs dense %.4f  (%.0f ms; %lld of %lld chunks dense: S_k < min_seq_len %d)\n", dens_ch,
           cch.mean, cch.worst_head_mean, cch.min_row, l2_rel(&ech), 1e3 * t_sample_ch, (long long)dense_chunks,
           (long long)n_chunks, sample.min_seq_len);
    printf("      chunked vs one-shot: rel L2 %.4f, CRA mean %+.4f\n", l2_rel(&ex), cch.mean - c1.mean);
    check(c1.mean >= TOL_SPARSE_CRA_MIN && cch.mean >= TOL_SPARSE_CRA_MIN, "mean true CRA >= 0.90 (both)");
    check(cch.mean >= c1.mean - TOL_SPARSE_CRA_DROP, "chunked mean CRA >= one-shot's - 0.02");
    check(l2_rel(&ech) <= TOL_SPARSE_ERR_RATIO * l2_rel(&e1) + 0.01,
          "chunked rel L2 vs dense <= 1.5 x one-shot's + 0.01");

    printf("  (c) lse merge, keys [0, P) + [P, P+n) vs one call, %lld chunk(s): rel L2 %.2e, lse rel %.2e\n"
           "      (%.0f ms prefix part + %.0f ms chunk part + %.0f ms merge, vs %.0f ms for the one call)\n",
           (long long)n_merged, l2_rel(&merge_err), merge_lse_err, 1e3 * t_merge_a, 1e3 * t_merge_b,
           1e3 * t_merge_m, 1e3 * t_merge_ref);
    check(n_merged == 0 || (l2_rel(&merge_err) <= TOL_DENSE_REL_L2 && merge_lse_err <= TOL_DENSE_LSE),
          "merged output and lse equal the one call (rel L2 <= 1e-5, lse rel <= 1e-6)");

    /* the cache past `filled` was never read: its NaNs would have poisoned every result above */
    free(q_all); free(o_dense_ch); free(o_sample_ch); free(o_dense_1); free(o_sample_1);
    free(lse_dense_ch); free(lse_sample_ch); free(lse_dense_1); free(lse_sample_1);
    free(k_chunk); free(v_chunk); free(lse_a); free(lse_b); free(q_hm); free(o_a); free(o_b);
    free(o_m); free(lse_m);
    cache_free(&cache);
}

/* ---------------------------------------------------------------- main */
static int f16_selfcheck(void) {
    /* every finite f16 survives f16 -> f32 -> f16; a few f32 roundings */
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 0x1f) continue;
        if (f32_to_f16(f16_to_f32((uint16_t)h)) != h) return 0;
    }
    return f32_to_f16(1.0f) == 0x3c00 && f32_to_f16(65504.0f) == 0x7bff && f32_to_f16(65520.0f) == 0x7c00
        && f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00 && f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02
        && f32_to_f16(5.9604645e-08f) == 0x0001 && f32_to_f16(2.9802322e-08f) == 0x0000;
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--data DIR] [--layers 1,12,23] [--chunk 512] [--n-ctx 8192] "
                    "[--threads 0] [--cache heads|tokens] [--merge last|all]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    o.data = "data/qwen05b_code_4k";
    o.layers[0] = 1; o.layers[1] = 12; o.layers[2] = 23; o.n_layers = 3;
    o.chunk = 512;
    o.n_ctx = 8192;
    o.threads = 0;
    o.cache_layout = CACHE_HEADS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) usage(argv[0]);
        i++;
        if (!strcmp(a, "--data")) o.data = val;
        else if (!strcmp(a, "--chunk")) o.chunk = atoll(val);
        else if (!strcmp(a, "--n-ctx")) o.n_ctx = atoll(val);
        else if (!strcmp(a, "--threads")) o.threads = atoi(val);
        else if (!strcmp(a, "--merge")) {
            if (!strcmp(val, "last")) o.merge_all = 0;
            else if (!strcmp(val, "all")) o.merge_all = 1;
            else usage(argv[0]);
        }
        else if (!strcmp(a, "--cache")) {
            if (!strcmp(val, "heads")) o.cache_layout = CACHE_HEADS;
            else if (!strcmp(val, "tokens")) o.cache_layout = CACHE_TOKENS;
            else usage(argv[0]);
        } else if (!strcmp(a, "--layers")) {
            o.n_layers = 0;
            for (const char *p = val; *p && o.n_layers < 16;) {
                o.layers[o.n_layers++] = atoi(p);
                p = strchr(p, ',');
                if (!p) break;
                p++;
            }
        } else usage(argv[0]);
    }
    if (o.chunk <= 0 || o.n_ctx <= 0 || o.n_layers == 0) usage(argv[0]);

    printf("libsampleattn %s (header %d.%d.%d)\n", sa_version_string(), SA_VERSION_MAJOR, SA_VERSION_MINOR,
           SA_VERSION_PATCH);
    if (sa_version_number() / 100 != SA_VERSION_NUMBER / 100) {
        fprintf(stderr, "library %s does not match the header\n", sa_version_string());
        return 2;
    }
    printf("f16 helpers: %s\n", f16_selfcheck() ? "ok (every finite f16 round-trips)" : "FAIL");
    if (!f16_selfcheck()) failures++;

    /* One context per host thread that calls the library; it holds the thread count. */
    sa_context *ctx = sa_context_new(o.threads);
    if (!ctx) { fprintf(stderr, "sa_context_new(%d) failed\n", o.threads); return 2; }
    printf("context: %d threads\n", sa_context_n_threads(ctx));

    for (int li = 0; li < o.n_layers; li++) {
        layer_data L;
        char err[1024];
        if (layer_load(&L, o.data, o.layers[li], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        if (L.n_tokens > o.n_ctx) {
            fprintf(stderr, "prompt of %lld tokens does not fit n_ctx %lld\n", (long long)L.n_tokens,
                    (long long)o.n_ctx);
            return 2;
        }
        run_layer(ctx, &o, &L);
        layer_free(&L);
    }
    sa_context_free(ctx);
    printf("%s\n", failures ? "engine example: FAILED" : "engine example: all checks passed");
    return failures ? 1 : 0;
}
