/* Scalar reference of the row-tile step (see sac_rowtile in csampleattn.h): the operations of
   the Swift kernels (BlockAttention.swift, MicroKernels.swift, VectorMath.swift) one lane at a
   time and in the same order, so it gives their results bit for bit. The ISA kernels are tested
   against it and against a float64 oracle. */
#include "csampleattn.h"
#include "ref_math.h"
#include <math.h>
#include <string.h>

static float vmin1(float a, float b) { return b < a ? b : a; }

float sac_exp2_ref(float x) {
    float xc = vmin1(vmax1(x, -126.0f), 126.0f);
    const float magic = 12582912.0f;   /* 1.5 * 2^23 */
    float t = xc + magic;
    float n = t - magic;
    float f = xc - n;
    float p = 1.5403530393381606e-4f;
    p = fmaf(p, f, 1.3333558146428443e-3f);
    p = fmaf(p, f, 9.618129107628477e-3f);
    p = fmaf(p, f, 5.550410866482158e-2f);
    p = fmaf(p, f, 0.2402265069591007f);
    p = fmaf(p, f, 0.6931471805599453f);
    p = fmaf(p, f, 1.0f);
    uint32_t tb; memcpy(&tb, &t, 4);
    uint32_t bits = (tb - 0x4B400000u + 127u) << 23;
    float scale; memcpy(&scale, &bits, 4);
    return x < -126.0f ? 0.0f : p * scale;
}

float sac_bf16_round_ref(float x) {
    uint32_t bits; memcpy(&bits, &x, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) bits = (bits | 0x400000u) & 0xffff0000u;  /* quiet NaN */
    else bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;                /* nearest even */
    memcpy(&x, &bits, 4);
    return x;
}

/* The Swift exp2InPlace over row[0..<n]: 8 lane sums, hsum's fold, then the tail in order. */
float sac_exp2_row_ref(float *row, int64_t n, float shift) {
    float acc[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int i = 0; i < 8; i++) {
            float e = sac_exp2_ref(row[j + i] - shift);
            row[j + i] = e;
            acc[i] = acc[i] + e;
        }
    float h[4];
    for (int i = 0; i < 4; i++) h[i] = acc[i] + acc[i + 4];
    float total = (h[0] + h[2]) + (h[1] + h[3]);
    for (; j < n; j++) {
        float e = sac_exp2_ref(row[j] - shift);
        row[j] = e;
        total += e;
    }
    return total;
}

void sac_rowtile_softmax_row(const sac_rowtile *t, int r) {
    float *row = t->s + (int64_t)r * t->lds;
    int64_t lo = t->lo[r] > t->j0 ? t->lo[r] : t->j0, hi = t->hi[r] < t->j1 ? t->hi[r] : t->j1;
    int a = (int)(lo - t->j0), b = (int)(hi - t->j0);
    if (a >= b) { memset(row + t->ta, 0, sizeof(float) * (size_t)(t->tb - t->ta)); return; }
    for (int j = t->ta; j < a; j++) row[j] = -INFINITY;
    for (int j = b; j < t->tb; j++) row[j] = -INFINITY;
    float m_new = swift_max(t->m[r], row_max_ref(row, t->ta, t->tb));
    float correction = sac_exp2_ref(t->m[r] - m_new);
    float sum = sac_exp2_row_ref(row + t->ta, t->tb - t->ta, m_new);
    if (t->round_p)
        for (int j = t->ta; j < t->tb; j++) row[j] = sac_bf16_round_ref(row[j]);
    t->l[r] = t->l[r] * correction + sum;
    t->m[r] = m_new;
    if (correction != 1.0f) {
        float *o = t->o + (int64_t)r * t->dim;
        for (int c = 0; c < t->dim; c++) o[c] = o[c] * correction;
    }
}

void sac_rowtile_ref(const sac_rowtile *t) {
    const int dim = t->dim, lds = t->lds;
    for (int k = t->ta; k < t->tb; k += 16) {
        const float *kt = t->kt + (int64_t)k * dim;
        for (int r = 0; r < 6; r++)
            for (int jj = 0; jj < 16; jj++) {
                float acc = 0;
                for (int c = 0; c < dim; c++) acc = fmaf(t->q[c * 6 + r], kt[c * 16 + jj], acc);
                t->s[r * lds + k + jj] = acc;
            }
    }
    for (int r = 0; r < 6; r++) sac_rowtile_softmax_row(t, r);
    for (int r = 0; r < 6; r++) {
        float *o = t->o + (int64_t)r * dim;
        const float *p = t->s + (int64_t)r * lds;
        for (int j = t->ta; j < t->tb; j++)
            for (int c = 0; c < dim; c++) o[c] = fmaf(p[j], t->v[(int64_t)j * dim + c], o[c]);
    }
}

void sac_rowtile2_ref(const sac_rowtile *t) {
    sac_rowtile second = *t;
    second.q = t->q + (int64_t)6 * t->dim;
    second.lo = t->lo + 6; second.hi = t->hi + 6;
    second.s = t->s + (int64_t)6 * t->lds;
    second.m = t->m + 6; second.l = t->l + 6;
    second.o = t->o + (int64_t)6 * t->dim;
    sac_rowtile_ref(t);
    sac_rowtile_ref(&second);
}

void sac_round_bf16(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = sac_bf16_round_ref(x[i]);
}
