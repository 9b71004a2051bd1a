/* The ISA the library chose, and every kernel path end to end against a float64 oracle, through
   the public API (the environment picks the path: SAMPLEATTN_ISA, and the test-only
   SAMPLEATTN_TEST_CPU_MASK that hides CPU features).
     isa_test check [ISA]      ISA (avx2|avx512|amx) must be the one chosen (default: the best the
                               CPU has); dense, sample and slash mode against the oracle in
                               float32 and bf16 precision, 1 vs 3 threads bitwise; prints a
                               hash per output (equal float32 hashes across ISAs = bitwise equal)
     isa_test refuse TEXT      every call fails with SA_ERR_UNSUPPORTED_CPU and a message
                               containing TEXT, writing nothing */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sampleattn.h"
#include "../c/test_support.h"

typedef struct { float *data; sa_tensor view; } tensor;

static tensor make(int64_t tokens, int64_t heads, int64_t dim, float amp) {
    tensor t;
    size_t n = (size_t)(tokens * heads * dim);
    t.data = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) t.data[i] = amp * (uniform() + uniform() + uniform());
    memset(&t.view, 0, sizeof t.view);
    t.view.data = t.data;
    t.view.dtype = SA_DTYPE_F32;
    t.view.n_tokens = tokens; t.view.n_heads = heads; t.view.head_dim = dim;
    return t;
}

static size_t count(const tensor *t) { return (size_t)(t->view.n_tokens * t->view.n_heads * t->view.head_dim); }

/* Query heads attend a few strong keys (so sample mode has stripes to find): some keys get a
   shared direction that queries share too. */
static void add_structure(tensor *q, tensor *k) {
    int64_t d = q->view.head_dim;
    for (int64_t j = 0; j < k->view.n_tokens; j += 37)
        for (int64_t h = 0; h < k->view.n_heads; h++)
            for (int64_t c = 0; c < d; c++) k->data[(j * k->view.n_heads + h) * d + c] += 1.5f * (c % 3 == 0);
    for (size_t i = 0; i < count(q); i += (size_t)d)
        for (int64_t c = 0; c < d; c++) q->data[i + (size_t)c] += 0.8f * (c % 3 == 0);
}

typedef struct { int dense; int64_t window, bs, n_off; const int64_t *off; const unsigned char *sel; } mask;

static int keeps(const mask *m, int64_t p, int64_t j) {
    if (j > p) return 0;
    if (m->dense || j > p - m->window || m->sel[j]) return 1;
    for (int64_t i = 0; i < m->n_off; i++) if (m->off[i] == p / m->bs - j / m->bs) return 1;
    return 0;
}

/* float64 attention over the masks (NULL = dense causal). */
static void oracle(const tensor *q, const tensor *k, const tensor *v, const mask *masks, double *ref) {
    int64_t sq = q->view.n_tokens, sk = k->view.n_tokens, hq = q->view.n_heads, hkv = k->view.n_heads;
    int64_t d = q->view.head_dim, g = hq / hkv;
    double scale = 1.0 / sqrt((double)d), *s = malloc((size_t)sk * sizeof(double));
    for (int64_t h = 0; h < hq; h++)
        for (int64_t i = 0; i < sq; i++) {
            int64_t p = sk - sq + i;
            const float *qi = q->data + (i * hq + h) * d;
            double mx = -INFINITY, sum = 0, *o = ref + (i * hq + h) * d;
            for (int64_t j = 0; j < sk; j++) {
                s[j] = -INFINITY;
                if (masks && !keeps(&masks[h], p, j)) continue;
                if (j > p) continue;
                const float *kj = k->data + (j * hkv + h / g) * d;
                double dot = 0;
                for (int64_t c = 0; c < d; c++) dot += (double)qi[c] * kj[c];
                s[j] = dot * scale;
                if (s[j] > mx) mx = s[j];
            }
            for (int64_t c = 0; c < d; c++) o[c] = 0;
            for (int64_t j = 0; j < sk; j++) {
                if (s[j] == -INFINITY) continue;
                double w = exp(s[j] - mx);
                const float *vj = v->data + (j * hkv + h / g) * d;
                sum += w;
                for (int64_t c = 0; c < d; c++) o[c] += w * vj[c];
            }
            for (int64_t c = 0; c < d; c++) o[c] /= sum;
        }
    free(s);
}

static double rel_l2(const float *got, const double *want, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { double e = got[i] - want[i]; num += e * e; den += want[i] * want[i]; }
    return sqrt(num / den);
}

static uint64_t fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* One configuration in both precisions: output vs the oracle over the plan's mask, 1 vs 3
   threads bitwise, and bf16 really rounding (it must differ from float32, by a bounded error). */
static void check_config(const char *name, int mode, int64_t s, int64_t hq, int64_t hkv, int64_t d) {
    rng_state = (uint64_t)(s * 31 + d * 7 + mode);
    tensor q = make(s, hq, d, 0.6f), k = make(s, hkv, d, 0.6f), v = make(s, hkv, d, 1.0f);
    add_structure(&q, &k);
    tensor out = make(s, hq, d, 0), out3 = make(s, hq, d, 0);
    double *ref = malloc(count(&out) * sizeof(double));
    double err[2] = {0, 0};
    float *f32_out = malloc(count(&out) * sizeof(float));
    sa_context *c1 = sa_context_new(1), *c3 = sa_context_new(3);
    for (int prec = 0; prec < 2; prec++) {
        sa_params p;
        sa_params_default(&p);
        p.mode = mode;
        p.flags = SA_FLAG_FORCE_SPARSE;
        p.precision = prec ? SA_PRECISION_BF16 : SA_PRECISION_F32;
        sa_plan *plan = NULL;
        CHECK_STATUS(sa_plan_create(c1, &p, &q.view, &k.view, &plan), SA_OK);
        if (!plan) { fprintf(stderr, "%s: %s\n", name, sa_context_last_error(c1)); continue; }
        mask *m = calloc((size_t)hq, sizeof(mask));
        int64_t kept = 0;
        for (int64_t h = 0; h < hq; h++) {
            sa_plan_head info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            CHECK_STATUS(sa_plan_head_info(plan, h, &info), SA_OK);
            int64_t *idx = malloc((size_t)(info.n_indices + 1) * sizeof(int64_t));
            int64_t *off = malloc((size_t)(info.n_slash_blocks + 1) * sizeof(int64_t));
            unsigned char *sel = calloc((size_t)s, 1);
            sa_plan_head_indices(plan, h, idx, info.n_indices);
            sa_plan_head_slashes(plan, h, off, info.n_slash_blocks);
            for (int64_t i = 0; i < info.n_indices; i++) sel[idx[i]] = 1;
            free(idx);
            m[h] = (mask){info.dense, info.window, info.block_size, info.n_slash_blocks, off, sel};
            kept += info.kept_entries;
        }
        if (prec == 0) oracle(&q, &k, &v, mode == SA_MODE_DENSE ? NULL : m, ref);
        CHECK_STATUS(sa_plan_apply(c1, plan, &q.view, &k.view, &v.view, &out.view, NULL, NULL), SA_OK);
        CHECK_STATUS(sa_plan_apply(c3, plan, &q.view, &k.view, &v.view, &out3.view, NULL, NULL), SA_OK);
        CHECK(memcmp(out.data, out3.data, count(&out) * sizeof(float)) == 0,
              "%s precision %d: 1 and 3 threads differ", name, prec);
        err[prec] = rel_l2(out.data, ref, count(&out));
        printf("HASH %s %s %016llx  rel_l2 %.3g  density %.3f\n", name, prec ? "bf16" : "f32",
               (unsigned long long)fnv(out.data, count(&out) * sizeof(float)), err[prec],
               (double)kept / (double)(hq * s * (s + 1) / 2));
        if (prec == 0) memcpy(f32_out, out.data, count(&out) * sizeof(float));
        else CHECK(memcmp(f32_out, out.data, count(&out) * sizeof(float)) != 0, "%s: bf16 equals f32", name);
        for (int64_t h = 0; h < hq; h++) { free((void *)m[h].off); free((void *)m[h].sel); }
        free(m);
        sa_plan_free(plan);
    }
    CHECK(err[0] <= 1e-5, "%s f32: relative L2 error %.3g vs the float64 oracle", name, err[0]);
    CHECK(err[1] <= 6e-3 && err[1] > 10 * err[0], "%s bf16: relative L2 error %.3g (f32 %.3g)", name, err[1], err[0]);
    sa_context_free(c1); sa_context_free(c3);
    free(q.data); free(k.data); free(v.data); free(out.data); free(out3.data); free(ref); free(f32_out);
}

static int isa_of(const char *name) {
    return strcmp(name, "avx2") == 0 ? SA_ISA_AVX2 : strcmp(name, "avx512") == 0 ? SA_ISA_AVX512
         : strcmp(name, "amx") == 0 ? SA_ISA_AMX : -1;
}

static sa_features features(void) {
    sa_features f;
    memset(&f, 0, sizeof f);
    f.struct_size = sizeof f;
    CHECK_STATUS(sa_get_features(&f), SA_OK);
    return f;
}

static int check(const char *want) {
    sa_features f = features();
    int best = (f.cpu_isa_mask & SA_CPU_AMX_BF16) ? SA_ISA_AMX
             : (f.cpu_isa_mask & SA_CPU_AVX512) ? SA_ISA_AVX512 : SA_ISA_AVX2;
    int expect = want ? isa_of(want) : best;
    printf("isa %d, cpu_isa_mask 0x%x (avx2 %d avx512 %d avx512_bf16 %d amx_bf16 %d)\n", (int)f.isa,
           (unsigned)f.cpu_isa_mask, !!(f.cpu_isa_mask & SA_CPU_AVX2), !!(f.cpu_isa_mask & SA_CPU_AVX512),
           !!(f.cpu_isa_mask & SA_CPU_AVX512_BF16), !!(f.cpu_isa_mask & SA_CPU_AMX_BF16));
    CHECK(f.isa == expect, "isa %d, expected %d", (int)f.isa, expect);
    check_config("dense_d64", SA_MODE_DENSE, 777, 4, 2, 64);
    check_config("dense_d40", SA_MODE_DENSE, 300, 2, 1, 40);
    check_config("dense_d136", SA_MODE_DENSE, 300, 2, 2, 136);
    check_config("sample_d64", SA_MODE_SAMPLE, 1536, 4, 2, 64);
    check_config("slash_d64", SA_MODE_SAMPLE_SLASH, 1536, 4, 2, 64);
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}

static int refuse(const char *text) {
    sa_features f = features();
    CHECK(f.isa == 0, "isa %d, expected 0 (refused)", (int)f.isa);
    tensor q = make(64, 2, 16, 1), out = make(64, 2, 16, 0);
    for (size_t i = 0; i < count(&out); i++) out.data[i] = 7.0f;
    sa_context *ctx = sa_context_new(1);
    CHECK_STATUS(sa_attention(ctx, NULL, &q.view, &q.view, &q.view, &out.view, NULL, NULL), SA_ERR_UNSUPPORTED_CPU);
    const char *msg = sa_context_last_error(ctx);
    printf("message: %s\n", msg);
    CHECK(strstr(msg, text) != NULL, "message '%s' lacks '%s'", msg, text);
    int untouched = 1;
    for (size_t i = 0; i < count(&out); i++) untouched &= out.data[i] == 7.0f;
    CHECK(untouched, "out was written by a refused call");
    sa_plan *plan = NULL;
    CHECK_STATUS(sa_plan_create(ctx, NULL, &q.view, &q.view, &plan), SA_ERR_UNSUPPORTED_CPU);
    CHECK(plan == NULL, "a plan was returned");
    CHECK(strcmp(sa_status_string(SA_ERR_UNSUPPORTED_CPU), "unknown status") != 0, "status string");
    sa_context_free(ctx);
    free(q.data); free(out.data);
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "check") == 0) return check(argc >= 3 ? argv[2] : NULL);
    if (argc >= 3 && strcmp(argv[1], "refuse") == 0) return refuse(argv[2]);
    fprintf(stderr, "usage: isa_test check [avx2|avx512|amx] | isa_test refuse TEXT\n");
    return 2;
}
