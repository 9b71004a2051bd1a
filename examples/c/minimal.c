/*
 * minimal.c - causal prefill attention with libsampleattn.
 *
 * Builds q [S, H_q, d] and k, v [S, H_kv, d] (float32, token-major), runs SampleAttention
 * (falling back to exact attention where it would not pay), and prints part of the result.
 *
 *   cc minimal.c $(pkg-config --cflags --libs sampleattn) -o minimal
 */
#include <sampleattn.h>

#include <stdio.h>
#include <stdlib.h>

static float frand(void) { return (float)((double)rand() / RAND_MAX - 0.5); }

int main(void) {
    const int64_t S = 4096, H_q = 8, H_kv = 2, d = 64;   /* GQA: 4 query heads per K/V head */
    float *q = malloc(sizeof(float) * S * H_q * d);
    float *k = malloc(sizeof(float) * S * H_kv * d);
    float *v = malloc(sizeof(float) * S * H_kv * d);
    float *o = malloc(sizeof(float) * S * H_q * d);
    if (!q || !k || !v || !o) return 1;
    srand(1);
    for (int64_t i = 0; i < S * H_q * d; i++) q[i] = frand();
    for (int64_t i = 0; i < S * H_kv * d; i++) k[i] = frand();
    for (int64_t i = 0; i < S * H_kv * d; i++) v[i] = frand();

    /* Views of our buffers: [tokens, heads, head_dim]; strides 0, 0 = dense token-major. */
    sa_tensor tq = {.data = q, .dtype = SA_DTYPE_F32, .n_tokens = S, .n_heads = H_q, .head_dim = d};
    sa_tensor tk = {.data = k, .dtype = SA_DTYPE_F32, .n_tokens = S, .n_heads = H_kv, .head_dim = d};
    sa_tensor tv = {.data = v, .dtype = SA_DTYPE_F32, .n_tokens = S, .n_heads = H_kv, .head_dim = d};
    sa_tensor to = {.data = o, .dtype = SA_DTYPE_F32, .n_tokens = S, .n_heads = H_q, .head_dim = d};

    sa_context *ctx = sa_context_new(0);   /* 0 = OpenMP's default thread count */
    if (!ctx) { fprintf(stderr, "sa_context_new failed\n"); return 1; }

    sa_params p;
    sa_params_default(&p);                 /* SA_MODE_SAMPLE, alpha 0.95, ... */
    sa_stats st = {.struct_size = sizeof st};

    sa_status s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, &st);
    if (s != SA_OK) {
        fprintf(stderr, "sa_attention: %s (%s)\n", sa_status_string(s), sa_context_last_error(ctx));
        return 1;
    }
    printf("libsampleattn %s: S=%lld H_q=%lld H_kv=%lld d=%lld, %d threads\n", sa_version_string(),
           (long long)S, (long long)H_q, (long long)H_kv, (long long)d, st.n_threads);
    /* Random data attends almost uniformly, so SampleAttention falls back to dense here
       (fallback_reason SA_FALLBACK_DENSITY); real model activations are far sparser. */
    printf("density %.3f, dense heads %lld of %lld (fallback reason %d), estimated CRA %.3f, %.1f ms\n",
           st.density, (long long)st.n_dense_heads, (long long)st.n_heads, st.fallback_reason, st.cra_estimate,
           1e3 * st.time_total_s);
    printf("out[last token, head 0, 0..3] = %.5f %.5f %.5f %.5f\n", o[(S - 1) * H_q * d + 0],
           o[(S - 1) * H_q * d + 1], o[(S - 1) * H_q * d + 2], o[(S - 1) * H_q * d + 3]);

    /* Errors come back as a status plus a message on the context; nothing is written. */
    tq.head_dim = 60;
    s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, NULL);
    printf("head_dim 60 -> %s: %s\n", sa_status_string(s), sa_context_last_error(ctx));

    sa_context_free(ctx);
    free(q); free(k); free(v); free(o);
    return s == SA_ERR_UNSUPPORTED_HEAD_DIM ? 0 : 1;
}
