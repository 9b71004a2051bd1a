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
    free(t->q); free(t->kt); free(t->v); free(t->s); free(t->o);
}

static sac_rowtile args(setup *t, float *m, float *l, float *o, float *s, int round_p) {
    sac_rowtile a;
    memset(&a, 0, sizeof a);
    a.q = t->q; a.kt = t->kt; a.v = t->v;
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

/* Scores s[a..b) of a row in float64 from its packed key tiles; returns their max with m0. */
static double oracle_scores(const float *q, const float *kt, int dim, int a, int b, float m0, double *s) {
    double mx = m0;
    for (int j = a; j < b; j++) {
        double acc = 0;
        for (int c = 0; c < dim; c++) acc += (double)q[c] * kt[(j / 16) * 16 * dim + c * 16 + j % 16];
        s[j] = acc;
        if (acc > mx) mx = acc;
    }
    return mx;
}

/* float64 oracle of one row's step over keys [a, b) of the block: m' = max(m, max s),
   l' = l 2^(m-m') + sum 2^(s-m'), o' = o 2^(m-m') + sum p v with p = 2^(s-m'), or with bf16_p the
   kernel's own rounded p (got_p), which must be within half a bf16 step of it. Returns the error
   relative to l'; an empty range must leave the row untouched. */
static double oracle_row(const float *q, const float *kt, const float *v, int dim, int a, int b,
                         float m0, float l0, const float *o0, float m1, float l1, const float *o1,
                         const float *got_p, int bf16_p) {
    if (a >= b)
        return m1 == m0 && l1 == l0 && memcmp(o1, o0, sizeof(float) * (size_t)dim) == 0 ? 0 : INFINITY;
    double s[SAC_MAX_KEY_BLOCK], mx = oracle_scores(q, kt, dim, a, b, m0, s);
    double corr = exp2((double)m0 - mx), l = l0 * corr, o[256];
    for (int c = 0; c < dim; c++) o[c] = o0[c] * corr;
    for (int j = a; j < b; j++) {
        double p = exp2(s[j] - mx);
        l += p;
        if (bf16_p) {
            if (!(fabs(got_p[j] - p) <= p * (1.0 / 256) + 1e-6)) return INFINITY;
            p = got_p[j];
        }
        for (int c = 0; c < dim; c++) o[c] += p * v[j * dim + c];
    }
    double e = fabs(l1 - l) / l;
    for (int c = 0; c < dim; c++) { double d = fabs(o1[c] - o[c]) / l; if (d > e) e = d; }
    if (fabs(m1 - mx) > 1e-5 * (1 + fabs(mx))) e = INFINITY;
    return e;
}

/* The AMX kernel's row against float64 with P rounded to bf16 inside the kernel: every output
   element within the bf16 rounding bound (2^-8, its unit roundoff, of sum p |v|) plus slack for
   the float32 scores and sums, l and m
   as in oracle_row. Returns the largest error / bound (<= 1 passes). */
static double oracle_row_bf16_bound(const float *q, const float *kt, const float *v, int dim, int a, int b,
                                    float m0, float l0, const float *o0, float m1, float l1, const float *o1) {
    if (a >= b)
        return m1 == m0 && l1 == l0 && memcmp(o1, o0, sizeof(float) * (size_t)dim) == 0 ? 0 : INFINITY;
    double s[SAC_MAX_KEY_BLOCK], mx = oracle_scores(q, kt, dim, a, b, m0, s);
    double corr = exp2((double)m0 - mx), l = l0 * corr, worst = 0;
    for (int j = a; j < b; j++) l += exp2(s[j] - mx);
    for (int c = 0; c < dim; c++) {
        double o = o0[c] * corr, mag = fabs(o), pv = 0;
        for (int j = a; j < b; j++) {
            double p = exp2(s[j] - mx);
            o += p * v[j * dim + c];
            pv += p * fabs(v[j * dim + c]);
        }
        double bound = pv / 256 + 1e-5 * (mag + pv) + 1e-6 * l, e = fabs(o1[c] - o) / bound;
        if (!(e <= worst)) worst = e;
    }
    if (!(fabs(l1 - l) <= 1e-5 * l) || fabs(m1 - mx) > 1e-5 * (1 + fabs(mx))) worst = INFINITY;
    return worst;
}

static double oracle_error(const setup *t, const state *st, int bf16_p) {
    double worst = 0;
    float qr[256];
    for (int r = 0; r < 6; r++) {
        int64_t lo = t->lo[r] > t->j0 ? t->lo[r] : t->j0, hi = t->hi[r] < t->j1 ? t->hi[r] : t->j1;
        for (int c = 0; c < t->dim; c++) qr[c] = t->q[c * 6 + r];
        double e = oracle_row(qr, t->kt, t->v, t->dim, (int)(lo - t->j0), (int)(hi - t->j0), t->m[r], t->l[r],
                              t->o + r * t->dim, st->m[r], st->l[r], st->o + r * t->dim, st->s + r * LDS, bf16_p);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static int same_state(const setup *t, const state *a, const state *b) {
    return memcmp(a->m, b->m, sizeof a->m) == 0 && memcmp(a->l, b->l, sizeof a->l) == 0 &&
           memcmp(a->o, b->o, sizeof(float) * 6 * (size_t)t->dim) == 0;
}

static void release_state(state *s) { free(s->o); free(s->s); }

/* A pair kernel (two row tiles in one call) against the reference run on each tile alone,
   bitwise, and against the float64 oracle: the tiles share keys, values and [ta, tb) (the
   union of both tiles' own ranges, as attendPanel pairs them when those are equal). */
static void test_pair(sac_rowtile_fn pair, const char *name, int dim, int fresh, int prec) {
    setup t[2];
    make(&t[0], dim, fresh, prec);
    make(&t[1], dim, fresh, prec);
    memcpy(t[1].kt, t[0].kt, sizeof(float) * LDS * (size_t)dim);
    memcpy(t[1].v, t[0].v, sizeof(float) * LDS * (size_t)dim);
    int ta = t[0].ta < t[1].ta ? t[0].ta : t[1].ta, tb = t[0].tb > t[1].tb ? t[0].tb : t[1].tb;
    float *q = malloc(sizeof(float) * 12 * (size_t)dim), *o = malloc(sizeof(float) * 12 * (size_t)dim);
    float *sc = malloc(sizeof(float) * 12 * LDS), m[12], l[12];
    int64_t lo[12], hi[12];
    for (int h = 0; h < 2; h++) {
        t[h].ta = ta; t[h].tb = tb;
        memcpy(q + h * 6 * dim, t[h].q, sizeof(float) * 6 * (size_t)dim);
        memcpy(o + h * 6 * dim, t[h].o, sizeof(float) * 6 * (size_t)dim);
        memcpy(m + 6 * h, t[h].m, sizeof t[h].m); memcpy(l + 6 * h, t[h].l, sizeof t[h].l);
        memcpy(lo + 6 * h, t[h].lo, sizeof t[h].lo); memcpy(hi + 6 * h, t[h].hi, sizeof t[h].hi);
    }
    for (int i = 0; i < 12 * LDS; i++) sc[i] = NAN;
    sac_rowtile a = args(&t[0], m, l, o, sc, prec);
    a.q = q; a.lo = lo; a.hi = hi;
    pair(&a);
    for (int h = 0; h < 2; h++) {
        state ref = run(&t[h], sac_rowtile_ref, prec), got;
        memcpy(got.m, m + 6 * h, sizeof got.m); memcpy(got.l, l + 6 * h, sizeof got.l);
        got.o = o + h * 6 * dim; got.s = sc + h * 6 * LDS;
        CHECK(same_state(&t[h], &got, &ref), "%s d=%d fresh=%d bf16=%d: tile %d differs from the reference", name, dim,
              fresh, prec, h);
        double e = oracle_error(&t[h], &got, prec);
        CHECK(e < 2e-5, "%s d=%d fresh=%d bf16=%d: tile %d error %.3g vs float64", name, dim, fresh, prec, h, e);
        release_state(&ref);
    }
    free(q); free(o); free(sc);
    release(&t[0]); release(&t[1]);
}

/* The AMX key-block kernel on a whole query block: `rows` rows (not a multiple of 16) with
   ranges cutting tiles, empty rows, rows reaching past the block; a block shorter than 256 keys
   (zero-padded value pairs); rows past `rows` filled with NaN must not leak; and a block below
   the diagonal, where most rows see every key (the kernel's path without lane masks). Each row
   against the float64 oracle with the kernel's own bf16 P. */
static void test_amx_blocks(void) {
    const int dims[] = {32, 64, 128, 256}, nkeys[] = {256, 208, 256};
    for (int di = 0; di < 4; di++)
        for (int ki = 0; ki < 3; ki++) {
            const int dim = dims[di], rows = 90, R = 96, n = nkeys[ki], interior = ki == 2;
            const int64_t j0 = 512, j1 = j0 + n;
            rng_state = 77u + (unsigned)(di * 2 + ki);
            float *q = calloc((size_t)R * dim, 4), *kt = calloc((size_t)LDS * dim, 4), *v = calloc((size_t)LDS * dim, 4);
            float *s = malloc((size_t)R * LDS * 4), *m = malloc(R * 4), *l = malloc(R * 4), *o = malloc((size_t)R * dim * 4);
            float *m0 = malloc(R * 4), *l0 = malloc(R * 4), *o0 = malloc((size_t)R * dim * 4);
            uint16_t *qa = calloc((size_t)R * dim, 2), *kb = calloc((size_t)LDS * dim, 2), *vb = calloc((size_t)LDS * dim, 2);
            int64_t lo[96], hi[96];
            float qs = 3.0f / sqrtf((float)dim);
            for (int i = 0; i < rows * dim; i++) q[i] = gauss() * qs;
            for (int i = 0; i < n * dim; i++) { kt[i] = gauss(); v[i] = gauss(); }
            sac_round_bf16(q, rows * dim); sac_round_bf16(kt, n * dim); sac_round_bf16(v, n * dim);
            for (int i = 0; i < R * LDS; i++) s[i] = NAN;
            for (int r = 0; r < R; r++) {
                int fresh = r % 3 == 0;
                m[r] = r < rows ? (fresh ? -INFINITY : 2.0f + uniform()) : NAN;
                l[r] = r < rows ? (fresh ? 0 : 3.0f + uniform()) : NAN;
                for (int c = 0; c < dim; c++) o[r * dim + c] = r < rows ? (fresh ? 0 : gauss()) : NAN;
                int a = (int)((uniform() + 1) * 100), b = n - (int)((uniform() + 1) * 60);
                lo[r] = j0 + a - (r % 7 == 1 ? 1000 : 0);
                hi[r] = j0 + b + (r % 5 == 2 ? 1000 : 0);
                if (interior && r % 4 != 3) { lo[r] = j0 - 7; hi[r] = j1 + (r % 2); }   /* every key */
                if (r % 11 == 4) lo[r] = hi[r] = j0 + 30;   /* empty */
                if (r >= rows) { lo[r] = 0; hi[r] = 1 << 30; }   /* stale scratch: must be ignored */
            }
            memcpy(m0, m, R * 4); memcpy(l0, l, R * 4); memcpy(o0, o, (size_t)R * dim * 4);
            int64_t ua = INT64_MAX;
            for (int r = 0; r < rows; r++)
                if (lo[r] < hi[r]) { int64_t a = lo[r] > j0 ? lo[r] : j0; if (a < ua) ua = a; }
            /* q in packQueries' layout for sac_pack_query_rows_bf16 */
            float *qt = calloc((size_t)R * dim, 4);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < dim; c++) qt[(r / 6) * 6 * dim + c * 6 + r % 6] = q[r * dim + c];
            sac_pack_query_rows_bf16(qt, rows, dim, qa);
            sac_pack_block_bf16(kt, v, dim, (int32_t)((ua - j0) / 16 * 16), n, kb, vb);
            sac_block blk = {qa, kb, vb, lo, hi, s, m, l, o, j0, j1, rows, dim, LDS};
            sac_attend_block_amx(&blk);
            double worst = 0;
            for (int r = 0; r < rows; r++) {
                int64_t a = lo[r] > j0 ? lo[r] : j0, b = hi[r] < j1 ? hi[r] : j1;
                double e = oracle_row_bf16_bound(q + r * dim, kt, v, dim, (int)(a - j0), (int)(b - j0), m0[r], l0[r],
                                                 o0 + r * dim, m[r], l[r], o + r * dim);
                if (!(e <= worst)) worst = e;
            }
            CHECK(worst <= 1, "amx d=%d keys=%d%s: error %.3g of the bf16 rounding bound vs float64", dim, n,
                  interior ? " interior" : "", worst);
            printf("amx d=%d keys=%d%s: largest error %.2f of the bound\n", dim, n, interior ? " interior" : "", worst);
            int clean = 1;
            for (int r = rows; r < R; r++) clean &= isnan(m[r]) && isnan(l[r]);
            CHECK(clean, "amx d=%d: padding rows' m, l were written", dim);
            free(q); free(kt); free(v); free(s); free(m); free(l); free(o); free(m0); free(l0); free(o0);
            free(qa); free(kb); free(vb); free(qt);
        }
}

/* Stage 1's kernels on one sampled group: `rows` rows from last key pos0 (row tiles cut by the
   16-key tiles and by the 6-row tiles), against the scalar reference bitwise (scores up to each
   row's last key, row max, exponentials and their sum) and against float64 (max and sum). */
static void test_sample_group(sac_sample_scores_fn scores, sac_exp2_row_fn exp2_row, const char *name,
                              int dim, int rows, int64_t pos0) {
    const int64_t keys = pos0 + rows, tiles = (keys + 15) / 16 * 16;
    const int lds = (int)tiles + 16, rt = (rows + 5) / 6;
    float *q = calloc((size_t)rt * 6 * dim, 4), *kt = calloc((size_t)tiles * dim, 4);
    float *s = malloc((size_t)rows * lds * 4), *s_ref = malloc((size_t)rows * lds * 4);
    float *mx = malloc((size_t)rows * 4), *mx_ref = malloc((size_t)rows * 4);
    float qs = 3.0f / sqrtf((float)dim);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < dim; c++) q[r / 6 * 6 * dim + c * 6 + r % 6] = gauss() * qs;
    for (int64_t i = 0; i < keys * dim; i++) kt[i] = gauss();   /* the padding keys stay 0 */
    for (int64_t i = 0; i < (int64_t)rows * lds; i++) s[i] = s_ref[i] = NAN;
    sac_sample_scores a = {q, kt, s, mx, pos0, rows, dim, lds, NULL}, b = {q, kt, s_ref, mx_ref, pos0, rows, dim, lds, NULL};
    scores(&a);
    sac_sample_scores_ref(&b);
    int same = memcmp(mx, mx_ref, (size_t)rows * 4) == 0;
    double worst = 0;
    for (int r = 0; r < rows && same; r++) {
        int64_t n = pos0 + r + 1;
        float *row = s + (int64_t)r * lds, *row_ref = s_ref + (int64_t)r * lds;
        same = memcmp(row, row_ref, (size_t)n * 4) == 0;
        /* float64: the row's max and sum of exp2(s - max) */
        double m = -INFINITY, *sd = malloc((size_t)n * 8), sum = 0;
        float qr[256];
        for (int c = 0; c < dim; c++) qr[c] = q[r / 6 * 6 * dim + c * 6 + r % 6];
        oracle_scores(qr, kt, dim, 0, (int)n, -INFINITY, sd);
        for (int64_t j = 0; j < n; j++) if (sd[j] > m) m = sd[j];
        for (int64_t j = 0; j < n; j++) sum += exp2(sd[j] - m);
        float total = exp2_row(row, n, mx[r]), total_ref = sac_exp2_row_ref(row_ref, n, mx_ref[r]);
        same = same && memcmp(&total, &total_ref, 4) == 0 && memcmp(row, row_ref, (size_t)n * 4) == 0;
        double e = fabs(mx[r] - m) / (1 + fabs(m)) + fabs(total - sum) / sum;
        if (!(e <= worst)) worst = e;
        free(sd);
    }
    CHECK(same, "%s sample d=%d rows=%d pos0=%lld differs from the reference", name, dim, rows, (long long)pos0);
    CHECK(worst < 2e-5, "%s sample d=%d rows=%d pos0=%lld: error %.3g vs float64", name, dim, rows,
          (long long)pos0, worst);
    free(q); free(kt); free(s); free(s_ref); free(mx); free(mx_ref);
}

/* Stage 1's AMX kernel (bf16 precision) on one sampled group: every score a row sees against
   float64 over the bf16-rounded query and keys (float32 sums of exact products: within 1e-5 of
   the sum of |q_c k_c|), each row's max exactly the max of its own scores. */
static void test_sample_group_amx(int dim, int rows, int64_t pos0) {
    const int64_t keys = pos0 + rows, tiles = (keys + 15) / 16 * 16;
    const int lds = (int)tiles + 16, rt = (rows + 5) / 6;
    float *q = calloc((size_t)rt * 6 * dim, 4), *kt = calloc((size_t)tiles * dim, 4), *s = malloc((size_t)rows * lds * 4);
    float *mx = malloc((size_t)rows * 4), *qr = malloc((size_t)dim * 4);
    uint16_t *kb = calloc((size_t)tiles * dim, 2);
    float qs = 3.0f / sqrtf((float)dim);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < dim; c++) q[r / 6 * 6 * dim + c * 6 + r % 6] = gauss() * qs;
    for (int64_t i = 0; i < keys * dim; i++) kt[i] = gauss();
    for (int64_t i = 0; i < (int64_t)rows * lds; i++) s[i] = NAN;
    sac_pack_keys_bf16(kt, dim, 0, (int32_t)tiles, kb);
    for (int64_t i = 0; i < tiles * dim; i++) kt[i] = sac_bf16_round_ref(kt[i]);   /* what the tiles multiply */
    sac_sample_scores a = {q, kt, s, mx, pos0, rows, dim, lds, kb};
    sac_sample_scores_amx(&a);
    double worst = 0;
    int exact_max = 1;
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < dim; c++) qr[c] = sac_bf16_round_ref(q[r / 6 * 6 * dim + c * 6 + r % 6]);
        float own = -INFINITY;
        for (int64_t j = 0; j <= pos0 + r; j++) {
            double ref = 0, mag = 0;
            for (int c = 0; c < dim; c++) {
                double x = (double)qr[c] * kt[(j / 16) * 16 * dim + c * 16 + j % 16];
                ref += x; mag += fabs(x);
            }
            float got = s[(int64_t)r * lds + j];
            double e = fabs(got - ref) / (1e-5 * mag + 1e-30);
            if (!(e <= worst)) worst = e;
            if (got > own) own = got;
        }
        exact_max &= mx[r] == own;
    }
    CHECK(worst <= 1, "amx sample d=%d rows=%d pos0=%lld: score error %.3g of the bound vs float64", dim, rows,
          (long long)pos0, worst);
    CHECK(exact_max, "amx sample d=%d rows=%d pos0=%lld: a row max is not the max of its scores", dim, rows,
          (long long)pos0);
    free(q); free(kt); free(s); free(mx); free(qr); free(kb);
}

int main(void) {
    uint32_t mask = sac_cpu_isa_mask();
    int avx512 = (mask & SA_CPU_AVX512) != 0, amx = (mask & SA_CPU_AMX_BF16) != 0;
#if defined(SAC_AMX_EMULATE)
    /* The AMX kernel's logic with emulated tiles (Tests/isa/amx_emulation.h); AVX512-BF16 needed. */
    amx = (mask & SA_CPU_AVX512) && (mask & SA_CPU_AVX512_BF16);
    printf("cpu_isa_mask 0x%x: amx kernel with emulated tiles %s\n", (unsigned)mask,
           amx ? "tested" : "NOT RUN (CPU lacks AVX512-BF16)");
#else
    printf("cpu_isa_mask 0x%x: avx512 kernel %s, amx kernel %s\n", (unsigned)mask,
           avx512 ? "tested" : "NOT RUN (CPU lacks it)", amx ? "tested" : "NOT RUN (CPU lacks it)");
#endif
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
                if (prec) {   /* the bound the AMX kernel is held to holds for the reference too */
                    double worst = 0;
                    float qr[256];
                    for (int r = 0; r < 6; r++) {
                        int64_t lo = t.lo[r] > t.j0 ? t.lo[r] : t.j0, hi = t.hi[r] < t.j1 ? t.hi[r] : t.j1;
                        for (int c = 0; c < dim; c++) qr[c] = t.q[c * 6 + r];
                        double e = oracle_row_bf16_bound(qr, t.kt, t.v, dim, (int)(lo - t.j0), (int)(hi - t.j0), t.m[r],
                                                         t.l[r], t.o + r * dim, ref.m[r], ref.l[r], ref.o + r * dim);
                        if (!(e <= worst)) worst = e;
                    }
                    CHECK(worst <= 1, "reference d=%d fresh=%d: %.3g of the bf16 bound", dim, fresh, worst);
                }
                test_pair(sac_rowtile2_ref, "pair reference", dim, fresh, prec);
                if (avx512) test_pair(sac_rowtile2_avx512, "avx512 pair", dim, fresh, prec);
                if (avx512) {
                    state a = run(&t, sac_rowtile_avx512, prec);
                    CHECK(same_state(&t, &a, &ref), "avx512 d=%d fresh=%d bf16=%d differs from the reference", dim, fresh, prec);
                    double ea = oracle_error(&t, &a, prec);
                    CHECK(ea < 2e-5, "avx512 d=%d: error %.3g vs float64", dim, ea);
                    release_state(&a);
                }
                release_state(&ref);
                release(&t);
            }
    if (avx512) {   /* the AVX-512 exp2 (through sac_exp2_row with shift 0) equals the reference bit for bit */
        enum { N = 40006 };
        static float x[N], want[N];
        for (int i = 0; i < 40000; i++) x[i] = -200.0f + (float)i * 0.01f + (float)(i % 7) * 1e-4f;
        x[40000] = -INFINITY; x[40001] = INFINITY; x[40002] = NAN; x[40003] = -0.0f; x[40004] = -126.0f; x[40005] = 1e-30f;
        for (int i = 0; i < N; i++) want[i] = sac_exp2_ref(x[i]);
        sac_exp2_row_avx512(x, N, 0.0f);
        int same = 1;
        for (int i = 0; i < N; i++) same &= isnan(want[i]) ? isnan(x[i]) : memcmp(&x[i], &want[i], 4) == 0;
        CHECK(same, "avx512 exp2 differs from the reference");
    }
    /* stage 1: group sizes with a short last row tile, first keys below, on and past a tile edge */
    const int group_rows[] = {1, 4, 6, 16, 17, 64, 256};
    const int64_t first_keys[] = {0, 7, 15, 16, 333, 2047};
    for (int di = 0; di < 7; di++)
        for (int gi = 0; gi < 7; gi++)
            for (int pi = 0; pi < 6; pi++) {
                if (group_rows[gi] == 256 && dims[di] > 64) continue;   /* keeps the test short */
                rng_state = 5000u + 97u * (unsigned)di + 13u * (unsigned)gi + (unsigned)pi;
                test_sample_group(sac_sample_scores_ref, sac_exp2_row_ref, "reference", dims[di], group_rows[gi],
                                  first_keys[pi]);
                if (avx512)
                    test_sample_group(sac_sample_scores_avx512, sac_exp2_row_avx512, "avx512", dims[di],
                                      group_rows[gi], first_keys[pi]);
            }
    if (amx) {
        test_amx_blocks();
        const int amx_dims[] = {32, 64, 128, 256}, amx_rows[] = {1, 5, 16, 20, 33, 64};
        const int64_t amx_first[] = {0, 15, 100, 2047};
        for (int di = 0; di < 4; di++)
            for (int gi = 0; gi < 6; gi++)
                for (int pi = 0; pi < 4; pi++) {
                    rng_state = 9000u + 97u * (unsigned)di + 13u * (unsigned)gi + (unsigned)pi;
                    test_sample_group_amx(amx_dims[di], amx_rows[gi], amx_first[pi]);
                }
        printf("amx sample kernel: %d dims x %d group sizes x %d first keys checked\n", 4, 6, 4);
    }
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
