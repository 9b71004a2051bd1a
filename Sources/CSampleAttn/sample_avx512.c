/* AVX-512 kernels of stage 1 (see sac_sample_scores and sac_exp2_row in csampleattn.h), chosen
   at run time (KernelTable.swift). The Swift path's operations 16 lanes at a time, in the same
   order per element, so plans equal the AVX2 path's bit for bit. The group's row tiles take the
   keys block by block, so a key block is read from memory once per group, not once per row tile. */
#include "csampleattn.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_math.h"

enum { MAX_ROW_TILES = (256 + 5) / 6 };

/* Scores of rows [0, R) of a 6-row tile on key tile k (and k + 16 when NT == 2); tiles below
   `full` fold into the rows' lane maxima m as scoreTile's rowMax does. */
SAC_INLINE SAC_AVX512 void score_tiles(const float *q, const float *kt, int dim, float *s, int64_t lds,
                                       int64_t k, int R, int NT, int64_t full, __m256 *m) {
    const float *k0 = kt + k * dim, *k1 = k0 + 16 * dim;
    __m512 a[6][2];
    for (int r = 0; r < R; r++) { a[r][0] = _mm512_setzero_ps(); a[r][1] = _mm512_setzero_ps(); }
    for (int c = 0; c < dim; c++) {
        __m512 x0 = _mm512_loadu_ps(k0 + c * 16);
        __m512 x1 = NT == 2 ? _mm512_loadu_ps(k1 + c * 16) : x0;
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(q[c * 6 + r]);
            a[r][0] = _mm512_fmadd_ps(b, x0, a[r][0]);
            if (NT == 2) a[r][1] = _mm512_fmadd_ps(b, x1, a[r][1]);
        }
    }
    for (int z = 0; z < NT; z++) {
        for (int r = 0; r < R; r++) _mm512_storeu_ps(s + r * lds + k + 16 * z, a[r][z]);
        if (k + 16 * z < full)
            for (int r = 0; r < R; r++)
                m[r] = vmax8(m[r], vmax8(_mm512_castps512_ps256(a[r][z]), _mm512_extractf32x8_ps(a[r][z], 1)));
    }
}

/* Key tiles [kb, ke) for rows [0, R) of one row tile: pairs of tiles, then a last single one. */
SAC_INLINE SAC_AVX512 void score_range(const float *q, const float *kt, int dim, float *s, int64_t lds,
                                       int64_t kb, int64_t ke, int R, int64_t full, __m256 *m) {
    int64_t k = kb;
    for (; k + 32 <= ke; k += 32) score_tiles(q, kt, dim, s, lds, k, R, 2, full, m);
    if (k < ke) score_tiles(q, kt, dim, s, lds, k, R, 1, full, m);
}

/* rowMax of VectorMath.swift over row[a..<b]: 8 lane maxima in order, hmax, the tail in order. */
SAC_INLINE SAC_AVX512 float row_max(const float *row, int64_t a, int64_t b) {
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int64_t j = a;
    for (; j + 8 <= b; j += 8) mv = vmax8(mv, _mm256_loadu_ps(row + j));
    float m = hmax8(mv);
    for (; j < b; j++) m = swift_max(m, row[j]);
    return m;
}

SAC_AVX512 void sac_sample_scores_avx512(const sac_sample_scores *a) {
    const int dim = a->dim, n = a->rows, tiles_r = (n + 5) / 6;
    const int64_t lds = a->lds, tiles = (a->pos0 + n + 15) / 16 * 16;
    /* 32 KiB of keys per block (L1), a multiple of two tiles */
    const int64_t block = dim >= 256 ? 32 : 8192 / dim / 32 * 32;
    __m256 m[MAX_ROW_TILES * 6];
    int64_t full[MAX_ROW_TILES];
    for (int i = 0; i < tiles_r * 6; i++) m[i] = _mm256_set1_ps(-INFINITY);
    for (int t = 0; t < tiles_r; t++) {
        full[t] = (a->pos0 + 6 * t + 1) / 16 * 16;
        if (full[t] > tiles) full[t] = tiles;
    }
    for (int64_t kb = 0; kb < tiles; kb += block) {
        int64_t ke = kb + block < tiles ? kb + block : tiles;
        for (int t = 0; t < tiles_r; t++) {
            const float *q = a->q + (int64_t)6 * t * dim;
            float *s = a->s + 6 * t * lds;
            __m256 *mt = m + 6 * t;
            switch (n - 6 * t) {   /* the row count is a constant in each call: registers, no spills */
            case 1: score_range(q, a->kt, dim, s, lds, kb, ke, 1, full[t], mt); break;
            case 2: score_range(q, a->kt, dim, s, lds, kb, ke, 2, full[t], mt); break;
            case 3: score_range(q, a->kt, dim, s, lds, kb, ke, 3, full[t], mt); break;
            case 4: score_range(q, a->kt, dim, s, lds, kb, ke, 4, full[t], mt); break;
            case 5: score_range(q, a->kt, dim, s, lds, kb, ke, 5, full[t], mt); break;
            default: score_range(q, a->kt, dim, s, lds, kb, ke, 6, full[t], mt); break;
            }
        }
    }
    for (int r = 0; r < n; r++) {
        const float *row = a->s + r * lds;
        int64_t p = a->pos0 + r, f = full[r / 6];
        a->rowmax[r] = f > p ? row_max(row, 0, p + 1) : swift_max(hmax8(m[r]), row_max(row, f, p + 1));
    }
}

SAC_AVX512 float sac_exp2_row_avx512(float *row, int64_t n, float shift) {
    const __m512 sh = _mm512_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 e = exp2_16(_mm512_sub_ps(_mm512_loadu_ps(row + j), sh));
        _mm512_storeu_ps(row + j, e);
        acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
        acc = _mm256_add_ps(acc, _mm512_extractf32x8_ps(e, 1));
    }
    if (j + 8 <= n) {
        __m512 e = exp2_16(_mm512_sub_ps(_mm512_maskz_loadu_ps(0xff, row + j), sh));
        _mm512_mask_storeu_ps(row + j, 0xff, e);
        acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
        j += 8;
    }
    float total = hsum8(acc);
    if (j < n) {   /* the last < 8 keys, summed one by one as the Swift tail is */
        __mmask16 k = (__mmask16)((1u << (n - j)) - 1);
        __m512 e = exp2_16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), sh));
        _mm512_mask_storeu_ps(row + j, k, e);
        float h[16];
        _mm512_storeu_ps(h, e);
        for (int i = 0; i < n - j; i++) total += h[i];
    }
    return total;
}

#endif
