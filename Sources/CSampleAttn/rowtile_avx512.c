/* AVX-512 row-tile kernels (see sac_rowtile in csampleattn.h), chosen at run time by cpu_isa.c.
   Each function carries its target attribute, so this file builds inside the x86-64-v3 target;
   they run only where sac_isa() reports SA_ISA_AVX512.
   Float32: the operations of the Swift AVX2 kernels, 16 lanes at a time and in the same order
   per element (scores and P V accumulate over d and keys in sequence, the row sums fold in 8
   lanes as Swift's exp2InPlace does), so the results equal the AVX2 path's bit for bit.
   In bf16 precision the operands hold bf16 values and round_p rounds P: the same kernel. */
#include "csampleattn.h"
#include <string.h>
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF

#include "avx512_math.h"

/* Round float32 lanes to bf16 (nearest even, NaN quieted), kept as float32. */
SAC_INLINE SAC_AVX512 __m512 round_bf16_16(__m512 x) {
    __m512i b = _mm512_castps_si512(x);
    __m512i absb = _mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(absb, _mm512_set1_epi32(0x7f800000));
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    __m512i rn = _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd));
    rn = _mm512_mask_or_epi32(rn, nan, b, _mm512_set1_epi32(0x400000));
    return _mm512_castsi512_ps(_mm512_and_si512(rn, _mm512_set1_epi32((int)0xffff0000u)));
}

/* Softmax update of row r over its scores in [ta, tb): mask, row max, exp2, sum, rescale. */
SAC_INLINE SAC_AVX512 void softmax_row(const sac_rowtile *t, int r, int lds) {
    float *row = t->s + (int64_t)r * lds;
    int64_t lo = t->lo[r] > t->j0 ? t->lo[r] : t->j0, hi = t->hi[r] < t->j1 ? t->hi[r] : t->j1;
    int a = (int)(lo - t->j0), b = (int)(hi - t->j0), ta = t->ta, tb = t->tb;
    if (a >= b) {
        for (int j = ta; j < tb; j += 16) _mm512_storeu_ps(row + j, _mm512_setzero_ps());
        return;
    }
    for (int j = ta; j < a; j++) row[j] = -INFINITY;
    for (int j = b; j < tb; j++) row[j] = -INFINITY;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (int j = ta; j < tb; j += 8) mv = vmax8(mv, _mm256_loadu_ps(row + j));
    float h[8];
    _mm256_storeu_ps(h, mv);
    for (int i = 0; i < 4; i++) h[i] = h[i] < h[i + 4] ? h[i + 4] : h[i];
    float m_new = swift_max(t->m[r], swift_max(swift_max(h[0], h[1]), swift_max(h[2], h[3])));
    float correction = _mm512_cvtss_f32(exp2_16(_mm512_set1_ps(t->m[r] - m_new)));
    __m512 shift = _mm512_set1_ps(m_new);
    __m256 acc = _mm256_setzero_ps();
    for (int j = ta; j < tb; j += 16) {
        __m512 e = exp2_16(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift));
        acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
        acc = _mm256_add_ps(acc, _mm512_extractf32x8_ps(e, 1));
        if (t->round_p) e = round_bf16_16(e);
        _mm512_storeu_ps(row + j, e);
    }
    _mm256_storeu_ps(h, acc);
    for (int i = 0; i < 4; i++) h[i] = h[i] + h[i + 4];
    float sum = (h[0] + h[2]) + (h[1] + h[3]);
    t->l[r] = t->l[r] * correction + sum;
    t->m[r] = m_new;
    if (correction != 1.0f) {
        float *o = t->o + (int64_t)r * t->dim;
        __m256 cv = _mm256_set1_ps(correction);
        for (int c = 0; c < t->dim; c += 8) _mm256_storeu_ps(o + c, _mm256_mul_ps(_mm256_loadu_ps(o + c), cv));
    }
}

/* ---------------------------------------------------------------- float32 */

/* Row r of a kernel's query rows: 6-row tiles packed one after another, q[c*6 + r] in each. */
SAC_INLINE const float *query_tile(const sac_rowtile *t, int r) { return t->q + (int64_t)(r / 6) * 6 * t->dim; }

/* S[rows x 16*NT] for key tiles at k, k+16 (rows 6 or 12; NT = 2 keeps 12 or 24 accumulators
   in flight). */
SAC_INLINE SAC_AVX512 void scores_f32(const sac_rowtile *t, int k, int nt, int rows, int lds) {
    const int dim = t->dim;
    const float *k0 = t->kt + (int64_t)k * dim, *k1 = k0 + 16 * dim;
    __m512 a[12][2];
    for (int r = 0; r < rows; r++) { a[r][0] = _mm512_setzero_ps(); a[r][1] = _mm512_setzero_ps(); }
    for (int c = 0; c < dim; c++) {
        __m512 x0 = _mm512_loadu_ps(k0 + c * 16);
        __m512 x1 = nt == 2 ? _mm512_loadu_ps(k1 + c * 16) : x0;
        for (int r = 0; r < rows; r++) {
            __m512 b = _mm512_set1_ps(query_tile(t, r)[c * 6 + r % 6]);
            a[r][0] = _mm512_fmadd_ps(b, x0, a[r][0]);
            if (nt == 2) a[r][1] = _mm512_fmadd_ps(b, x1, a[r][1]);
        }
    }
    for (int r = 0; r < rows; r++) {
        _mm512_storeu_ps(t->s + r * lds + k, a[r][0]);
        if (nt == 2) _mm512_storeu_ps(t->s + r * lds + k + 16, a[r][1]);
    }
}

/* O[rows x 16*NZ] at column c += P[rows x (ta..tb)] V[(ta..tb) x 16*NZ] (rows x NZ <= 24). The
   loops are unrolled by pragma: left to itself the compiler keeps 12 x 2 accumulators on the stack. */
SAC_INLINE SAC_AVX512 void values_f32(const sac_rowtile *t, int c, int nz, int rows, int lds) {
    const int dim = t->dim;
    __m512 a[12][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++)
#pragma clang loop unroll(full)
        for (int z = 0; z < nz; z++) a[r][z] = _mm512_loadu_ps(t->o + r * dim + c + 16 * z);
    const float *v = t->v + (int64_t)t->ta * dim + c;
    for (int j = t->ta; j < t->tb; j++, v += dim) {
        __m512 x[4];
#pragma clang loop unroll(full)
        for (int z = 0; z < nz; z++) x[z] = _mm512_loadu_ps(v + 16 * z);
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            __m512 b = _mm512_set1_ps(t->s[r * lds + j]);
#pragma clang loop unroll(full)
            for (int z = 0; z < nz; z++) a[r][z] = _mm512_fmadd_ps(b, x[z], a[r][z]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++)
#pragma clang loop unroll(full)
        for (int z = 0; z < nz; z++) _mm512_storeu_ps(t->o + r * dim + c + 16 * z, a[r][z]);
}

SAC_INLINE SAC_AVX512 void values_f32_8(const sac_rowtile *t, int c, int rows, int lds) {
    const int dim = t->dim;
    __m256 a[12];
    for (int r = 0; r < rows; r++) a[r] = _mm256_loadu_ps(t->o + r * dim + c);
    const float *v = t->v + (int64_t)t->ta * dim + c;
    for (int j = t->ta; j < t->tb; j++, v += dim) {
        __m256 x = _mm256_loadu_ps(v);
        for (int r = 0; r < rows; r++) a[r] = _mm256_fmadd_ps(_mm256_set1_ps(t->s[r * lds + j]), x, a[r]);
    }
    for (int r = 0; r < rows; r++) _mm256_storeu_ps(t->o + r * dim + c, a[r]);
}

/* One call's step on `rows` (6 or 12) rows; zmax: the accumulator columns of the value product
   (6 x 4 or 12 x 2 registers). lds is a constant where the caller passes the usual one, so the
   rows' addresses are constant offsets instead of integer work on the FMA ports. */
SAC_INLINE SAC_AVX512 void rowtile_step(const sac_rowtile *t, int rows, int zmax, int lds) {
    int k = t->ta;
    for (; k + 32 <= t->tb; k += 32) scores_f32(t, k, 2, rows, lds);
    if (k < t->tb) scores_f32(t, k, 1, rows, lds);
    for (int r = 0; r < rows; r++) softmax_row(t, r, lds);
    int c = 0;
    for (; c + 16 * zmax <= t->dim; c += 16 * zmax) values_f32(t, c, zmax, rows, lds);
    if (zmax == 4 && c + 32 <= t->dim) { values_f32(t, c, 2, rows, lds); c += 32; }
    if (c + 16 <= t->dim) { values_f32(t, c, 1, rows, lds); c += 16; }
    if (c < t->dim) values_f32_8(t, c, rows, lds);
}

SAC_AVX512 void sac_rowtile_avx512(const sac_rowtile *t) {
    if (t->lds == SAC_MAX_KEY_BLOCK) rowtile_step(t, 6, 4, SAC_MAX_KEY_BLOCK);
    else rowtile_step(t, 6, 4, t->lds);
}

/* Two row tiles that share [ta, tb): each key and value load serves 12 rows instead of 6. */
SAC_AVX512 void sac_rowtile2_avx512(const sac_rowtile *t) {
    if (t->lds == SAC_MAX_KEY_BLOCK) rowtile_step(t, 12, 2, SAC_MAX_KEY_BLOCK);
    else rowtile_step(t, 12, 2, t->lds);
}

#endif
