/* The row-tile kernels against their scalar reference and a float64 oracle, linked against the
   C helpers alone (no Swift runtime). Each ISA kernel the CPU supports is run; the others are
   reported as not run (never as passed).
     rowtile_test            all kernels this CPU can run */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "csampleattn.h"
#include "../c/test_support.h"

enum { LDS = SAC_MAX_KEY_BLOCK };

typedef struct {
    int dim, ta, tb;
    int64_t j0, j1, lo[6], hi[6];
    float *q, *kt, *v, *s, m[6], l[6], *o;
    uint16_t *qb, *kb, *vb;
} setup;

static float gauss(void) { return (uniform() + uniform() + uniform()) * 1.2f; }

/* A random step: keys [j0, j0 + LDS) of a panel, rows with ranges that cut tiles, one empty
   row, and a running state from an earlier block (m finite, l > 0, o != 0) or a fresh one. */
static void make(setup *t, int dim, int fresh, int bf16) {
    memset(t, 0, sizeof *t);
    t->dim = dim;
    t->j0 = 512; t->j1 = t->j0 + LDS;
    t->q = calloc((size_t)6 * dim, sizeof(float));
    t->kt = calloc((size_t)LDS * dim, sizeof(float));
    t->v = calloc((size_t)LDS * dim, sizeof(float));
    t->s = calloc((size_t)6 * LDS, sizeof(float));
    t->o = calloc((size_t)6 * dim, sizeof(float));
    t->qb = calloc((size_t)6 * dim, 2);
    t->kb = calloc((size_t)LDS * dim, 2);
    t->vb = calloc((size_t)LDS * dim, 2);
    float qs = 3.0f / sqrtf((float)dim);
    for (int i = 0; i < 6 * dim; i++) t->q[i] = gauss() * qs;
    for (int i = 0; i < LDS * dim; i++) { t->kt[i] = gauss(); t->v[i] = gauss(); }
    if (bf16) {
        sac_round_bf16(t->q, 6 * dim); sac_round_bf16(t->kt, LDS * dim); sac_round_bf16(t->v, LDS * dim);
    }
    int wide = (int)(rng_state % 2);   /* rows 1 and 2 reach past the block's ends, or not */
    for (int r = 0; r < 6; r++) {
        int a = 16 + (int)((uniform() + 1) * 20), b = LDS - 16 - (int)((uniform() + 1) * 20);
        t->lo[r] = t->j0 + a - (r == 1 && wide ? 600 : 0);
        t->hi[r] = t->j0 + b + (r == 2 && wide ? 900 : 0);
        t->m[r] = fresh ? -INFINITY : 2.0f + uniform();
        t->l[r] = fresh ? 0 : 3.0f + uniform();
        for (int c = 0; c < dim; c++) t->o[r * dim + c] = fresh ? 0 : gauss();
    }
    t->lo[4] = t->hi[4] = t->j0 + 40;   /* no key in this block */
    /* [ta, tb): the tiles covering the rows' ranges, as attendPanel computes them */
    int64_t ua = INT64_MAX, ub = INT64_MIN;
    for (int r = 0; r < 6; r++) {
        if (t->lo[r] >= t->hi[r]) continue;
        int64_t a = t->lo[r] > t->j0 ? t->lo[r] : t->j0, b = t->hi[r] < t->j1 ? t->hi[r] : t->j1;
        if (a < ua) ua = a;
        if (b > ub) ub = b;
    }
    t->ta = (int)((ua - t->j0) / 16 * 16);
    t->tb = (int)((ub - t->j0 + 15) / 16 * 16);
}

static void release(setup *t) {
    free(t->q); free(t->kt); free(t->v); free(t->s); free(t->o); free(t->qb); free(t->kb); free(t->vb);
}

static sac_rowtile args(setup *t, float *m, float *l, float *o, float *s, int round_p) {
    sac_rowtile a;
    memset(&a, 0, sizeof a);
    a.q = t->q; a.kt = t->kt; a.v = t->v; a.qb = t->qb; a.kb = t->kb; a.vb = t->vb;
    a.lo = t->lo; a.hi = t->hi; a.s = s; a.m = m; a.l = l; a.o = o;
    a.j0 = t->j0; a.j1 = t->j1; a.dim = t->dim; a.lds = LDS; a.ta = t->ta; a.tb = t->tb;
    a.round_p = round_p;
    return a;
}

typedef struct { float m[6], l[6], *o, *s; } state;

static state run(setup *t, sac_rowtile_fn fn, int round_p) {
    state st;
    memcpy(st.m, t->m, sizeof st.m);
    memcpy(st.l, t->l, sizeof st.l);
    st.o = malloc((size_t)6 * t->dim * sizeof(float));
    memcpy(st.o, t->o, (size_t)6 * t->dim * sizeof(float));
    st.s = malloc((size_t)6 * LDS * sizeof(float));
    for (int i = 0; i < 6 * LDS; i++) st.s[i] = NAN;   /* the kernel must write what it reads */
    sac_rowtile a = args(t, st.m, st.l, st.o, st.s, round_p);
    fn(&a);
    return st;
}

/* float64 oracle of the step: per row, m' = max(m, max s), l' = l 2^(m-m') + sum 2^(s-m'),
   o' = o 2^(m-m') + sum 2^(s-m') v. Returns the largest error relative to the row's scale. */
static double oracle_error(const setup *t, const state *st, int bf16_p) {
    double worst = 0;
    for (int r = 0; r < 6; r++) {
        int64_t lo = t->lo[r] > t->j0 ? t->lo[r] : t->j0, hi = t->hi[r] < t->j1 ? t->hi[r] : t->j1;
        int a = (int)(lo - t->j0), b = (int)(hi - t->j0);
        if (a >= b) {
            int same = st->m[r] == t->m[r] && st->l[r] == t->l[r] &&
                       memcmp(st->o + r * t->dim, t->o + r * t->dim, sizeof(float) * (size_t)t->dim) == 0;
            if (!same) worst = INFINITY;
            continue;
        }
        double s[LDS], mx = t->m[r];
        for (int j = a; j < b; j++) {
            double acc = 0;
            for (int c = 0; c < t->dim; c++)
                acc += (double)t->q[c * 6 + r] * t->kt[(j / 16) * 16 * t->dim + c * 16 + j % 16];
            s[j] = acc;
            if (acc > mx) mx = acc;
        }
        double corr = exp2((double)t->m[r] - mx), l = t->l[r] * corr;
        double o[256];
        for (int c = 0; c < t->dim; c++) o[c] = t->o[r * t->dim + c] * corr;
        for (int j = a; j < b; j++) {
            double p = exp2(s[j] - mx);
            l += p;
            if (bf16_p) {
                /* P rounded to bf16: within half a bf16 step of the exact p; the products then
                   use the kernel's own rounded P (a rounding that flips is not an error) */
                double got = st->s[r * LDS + j];
                if (!(fabs(got - p) <= p * (1.0 / 256) + 1e-6)) return INFINITY;
                p = got;
            }
            for (int c = 0; c < t->dim; c++) o[c] += p * t->v[j * t->dim + c];
        }
        double scale = l, e = fabs(st->l[r] - l) / scale;
        for (int c = 0; c < t->dim; c++) { double d = fabs(st->o[r * t->dim + c] - o[c]) / scale; if (d > e) e = d; }
        if (fabs(st->m[r] - mx) > 1e-5 * (1 + fabs(mx))) e = INFINITY;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static int same_state(const setup *t, const state *a, const state *b) {
    return memcmp(a->m, b->m, sizeof a->m) == 0 && memcmp(a->l, b->l, sizeof a->l) == 0 &&
           memcmp(a->o, b->o, sizeof(float) * 6 * (size_t)t->dim) == 0;
}

static void release_state(state *s) { free(s->o); free(s->s); }

int main(void) {
    uint32_t mask = sac_cpu_isa_mask();
    int avx512 = (mask & SA_CPU_AVX512) != 0, bf16 = (mask & SA_CPU_AVX512_BF16) != 0;
    printf("cpu_isa_mask 0x%x: avx512 kernel %s, avx512-bf16 kernel %s\n", (unsigned)mask,
           avx512 ? "tested" : "NOT RUN (CPU lacks it)", bf16 ? "tested" : "NOT RUN (CPU lacks it)");
    /* exp2 reference: exact at integers, 0 below -126, close to exp2 elsewhere */
    double e2 = 0;
    for (int i = -2000; i <= 2000; i++) {
        float x = (float)i * 0.0613f;
        double want = exp2((double)x), got = sac_exp2_ref(x);
        if (x >= -126 && x <= 126) { double d = fabs(got - want) / want; if (d > e2) e2 = d; }
    }
    CHECK(e2 < 4e-7, "exp2 reference relative error %.3g", e2);
    CHECK(sac_exp2_ref(-INFINITY) == 0 && sac_exp2_ref(-127) == 0 && sac_exp2_ref(3) == 8, "exp2 edges");
    CHECK(sac_bf16_round_ref(1.00390625f) == 1.0f && sac_bf16_round_ref(1.01171875f) == 1.015625f,
          "bf16 rounding to nearest even");

    const int dims[] = {8, 40, 64, 72, 128, 136, 256};
    for (int di = 0; di < 7; di++)
        for (int fresh = 0; fresh < 2; fresh++)
            for (int prec = 0; prec < 2; prec++) {
                int dim = dims[di];
                setup t;
                rng_state = 1000u + 17u * (unsigned)di + 5u * (unsigned)fresh + (unsigned)prec;
                make(&t, dim, fresh, prec);
                state ref = run(&t, sac_rowtile_ref, prec);
                double err = oracle_error(&t, &ref, prec);
                CHECK(err < 2e-5, "reference d=%d fresh=%d bf16=%d: error %.3g vs float64", dim, fresh, prec, err);
                if (avx512) {
                    state a = run(&t, sac_rowtile_avx512, prec);
                    CHECK(same_state(&t, &a, &ref), "avx512 d=%d fresh=%d bf16=%d differs from the reference", dim, fresh, prec);
                    double ea = oracle_error(&t, &a, prec);
                    CHECK(ea < 2e-5, "avx512 d=%d: error %.3g vs float64", dim, ea);
                    release_state(&a);
                }
                if (bf16 && prec) {
                    sac_pack_query_bf16(t.q, 6, dim, t.qb);
                    sac_pack_block_bf16(t.kt, t.v, dim, t.ta, t.tb, t.kb, t.vb);
                    state b = run(&t, sac_rowtile_avx512_bf16, 1);
                    double eb = oracle_error(&t, &b, 1);
                    /* same operands, bf16 products exact: only the sums' order and rounding differ */
                    CHECK(eb < 2e-5, "avx512-bf16 d=%d fresh=%d: error %.3g vs float64", dim, fresh, eb);
                    release_state(&b);
                }
                release_state(&ref);
                release(&t);
            }
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
