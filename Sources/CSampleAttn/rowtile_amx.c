/* AMX-BF16 kernel of one key block for a whole query block (SA_ISA_AMX, bf16 precision, head_dim
   a multiple of 32): per 16-row tile, S = Q K^T and O += P V on tiles (bf16 operands, float32
   sums), between them the online softmax in AVX-512 with P written as bf16 directly.
   The caller (cpu_isa.c) has asked Linux for tile data permission before the first call. */
#include "csampleattn.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_math.h"   /* exp2_16: the same exp2 as the float32 kernels */
#include "amx_tiles.h"

SAC_AMX void sac_pack_query_rows_bf16(const float *q, int32_t rows, int32_t dim, uint16_t *qa) {
    for (int32_t r0 = 0; r0 < rows; r0 += 16) sac_query_tile_bf16(q, r0, rows, dim, qa + (int64_t)r0 * dim);
}

SAC_AMX void sac_pack_keys_bf16(const float *kt, int32_t dim, int32_t ka, int32_t kb, uint16_t *kbuf) {
    for (int32_t k = ka; k < kb; k += 16) {
        const float *src = kt + (int64_t)k * dim;
        uint16_t *dst = kbuf + (int64_t)k * dim;
        for (int32_t c = 0; c < dim; c += 2)
            _mm512_storeu_si512(dst + c * 16, sac_pair_bf16(_mm512_loadu_ps(src + c * 16), _mm512_loadu_ps(src + (c + 1) * 16)));
    }
}

SAC_AMX void sac_pack_block_bf16(const float *kt, const float *v, int32_t dim, int32_t ka, int32_t kb,
                                 uint16_t *kbuf, uint16_t *vbuf) {
    sac_pack_keys_bf16(kt, dim, ka, kb, kbuf);
    /* Values in pairs of keys from ka rounded down to 32 to kb rounded up to 32 (32-key A tiles of
       P); keys past kb are zero, not read: they may lie past the panel. */
    int32_t va = ka / 32 * 32, vz = (kb + 31) / 32 * 32;
    for (int32_t j = va; j < vz; j += 2) {
        uint16_t *dst = vbuf + (int64_t)j * dim;
        if (j >= kb) { memset(dst, 0, sizeof(uint16_t) * 2 * (size_t)dim); continue; }
        const float *r0 = v + (int64_t)j * dim, *r1 = r0 + dim;
        for (int32_t c = 0; c < dim; c += 16)
            _mm512_storeu_si512(dst + 2 * c, sac_pair_bf16(_mm512_loadu_ps(r0 + c), _mm512_loadu_ps(r1 + c)));
    }
}

/* O[16 x 16n] at column c += P[16 x (ka..kz)] V, P as bf16 rows of ldp elements. */
SAC_AMX static void values(const sac_block *b, const uint16_t *p, size_t ldp, float *o, int c, int n, int ka, int kz) {
    const int dim = b->dim;
    const size_t ldo = (size_t)dim * 4, ldv = (size_t)dim * 4;
    _tile_loadd(0, o + c, ldo);
    if (n > 1) _tile_loadd(1, o + c + 16, ldo);
    if (n > 2) _tile_loadd(2, o + c + 32, ldo);
    if (n > 3) _tile_loadd(3, o + c + 48, ldo);
    for (int j = ka; j < kz; j += 32) {
        _tile_loadd(4, p + j, ldp * 2);
        const uint16_t *vb = b->vb + (int64_t)j * dim + 2 * c;   /* pair row j/2, column c */
        _tile_loadd(6, vb, ldv); _tile_dpbf16ps(0, 4, 6);
        if (n > 1) { _tile_loadd(7, vb + 32, ldv); _tile_dpbf16ps(1, 4, 7); }
        if (n > 2) { _tile_loadd(6, vb + 64, ldv); _tile_dpbf16ps(2, 4, 6); }
        if (n > 3) { _tile_loadd(7, vb + 96, ldv); _tile_dpbf16ps(3, 4, 7); }
    }
    _tile_stored(0, o + c, ldo);
    if (n > 1) _tile_stored(1, o + c + 16, ldo);
    if (n > 2) _tile_stored(2, o + c + 32, ldo);
    if (n > 3) _tile_stored(3, o + c + 48, ldo);
}

/* Lanes of keys j..j+15 inside [a, b). */
static inline __mmask16 lanes(int j, int a, int b) {
    int lo = a - j < 0 ? 0 : a - j > 16 ? 16 : a - j, hi = b - j < 0 ? 0 : b - j > 16 ? 16 : b - j;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The online-softmax update of row r from its scores, P written as bf16 over the 32-key chunks
   [ka, kz) (zero outside the row's keys), in one pass for the max and one for exp2, the sum
   and P. The same exp2 as the float32 kernels; sums in 16 lanes. */
SAC_AMX static void softmax_row(const sac_block *b, int r, const float *row, uint16_t *p, int ta, int tb, int ka, int kz) {
    int64_t lo = b->lo[r] > b->j0 ? b->lo[r] : b->j0, hi = b->hi[r] < b->j1 ? b->hi[r] : b->j1;
    int a = (int)(lo - b->j0), e = (int)(hi - b->j0);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    if (a >= e) {
        for (int j = ka; j < kz; j += 16) _mm256_storeu_si256((__m256i *)(void *)(p + j), _mm256_setzero_si256());
        return;
    }
    /* A row that sees every key of its chunks (most rows off the diagonal) needs no lane masks;
       its sums are those of the masked loop, where masked lanes add zeros. */
    const int full = a <= ka && e >= kz;   /* then [ta, tb) = [ka, kz) */
    __m512 m0 = ninf, m1 = ninf;           /* two chains: the max is exact in any order */
    if (full) {
        int j = ka;
        for (; j + 32 <= kz; j += 32) {
            m0 = _mm512_max_ps(m0, _mm512_loadu_ps(row + j));
            m1 = _mm512_max_ps(m1, _mm512_loadu_ps(row + j + 16));
        }
        if (j < kz) m0 = _mm512_max_ps(m0, _mm512_loadu_ps(row + j));
    } else {
        for (int j = ta; j < tb; j += 16) m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, lanes(j, a, e), row + j));
    }
    float m_old = b->m[r], m_row = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1)), m_new = m_row > m_old ? m_row : m_old;
    float correction = _mm512_cvtss_f32(exp2_16(_mm512_set1_ps(m_old - m_new)));
    __m512 shift = _mm512_set1_ps(m_new), acc = _mm512_setzero_ps();
    if (full) {
        for (int j = ka; j < kz; j += 16) {
            __m512 x = exp2_16(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift));
            acc = _mm512_add_ps(acc, x);
            _mm256_storeu_si256((__m256i *)(void *)(p + j), (__m256i)_mm512_cvtneps_pbh(x));
        }
    } else {
        for (int j = ka; j < kz; j += 16) {
            __mmask16 k = lanes(j, a, e);
            __m512 x = exp2_16(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, k, row + j), shift));
            x = _mm512_maskz_mov_ps(k, x);
            acc = _mm512_add_ps(acc, x);
            _mm256_storeu_si256((__m256i *)(void *)(p + j), (__m256i)_mm512_cvtneps_pbh(x));
        }
    }
    b->l[r] = b->l[r] * correction + _mm512_reduce_add_ps(acc);
    b->m[r] = m_new;
    if (correction != 1.0f) {
        float *o = b->o + (int64_t)r * b->dim;
        __m512 cv = _mm512_set1_ps(correction);
        for (int c = 0; c < b->dim; c += 16) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), cv));
    }
}

SAC_AMX void sac_attend_block_amx(const sac_block *b) {
    const int dim = b->dim, lds = b->lds;
    uint16_t p[16 * SAC_MAX_KEY_BLOCK] __attribute__((aligned(64)));
    sac_tiles_configure();
    for (int r0 = 0; r0 < b->rows; r0 += 16) {
        int nr = b->rows - r0 < 16 ? b->rows - r0 : 16;
        /* key tiles this row tile needs: the union of its rows' ranges inside the block */
        int64_t ua = INT64_MAX, ub = INT64_MIN;
        for (int r = r0; r < r0 + nr; r++) {
            if (b->lo[r] >= b->hi[r]) continue;
            int64_t a = b->lo[r] > b->j0 ? b->lo[r] : b->j0, e = b->hi[r] < b->j1 ? b->hi[r] : b->j1;
            if (a < ua) ua = a;
            if (e > ub) ub = e;
        }
        if (ua >= ub) continue;
        int ta = (int)((ua - b->j0) / 16 * 16), tb = (int)((ub - b->j0 + 15) / 16 * 16);
        int ka = ta / 32 * 32, kz = (tb + 31) / 32 * 32;   /* 32-key chunks of P for the tiles */
        float *s = b->s + (int64_t)r0 * lds;
        for (int k = ta; k < tb; k += 64)
            sac_tile_scores(b->qa + (int64_t)r0 * dim, b->kb + (int64_t)k * dim, dim, s + k, lds, (tb - k) / 16 < 4 ? (tb - k) / 16 : 4);
        for (int r = 0; r < 16; r++) {
            uint16_t *pr = p + r * SAC_MAX_KEY_BLOCK;
            if (r < nr) softmax_row(b, r0 + r, s + (int64_t)r * lds, pr, ta, tb, ka, kz);
            else for (int j = ka; j < kz; j += 16) _mm256_storeu_si256((__m256i *)(void *)(pr + j), _mm256_setzero_si256());
        }
        for (int c = 0; c < dim; c += 64)
            values(b, p, SAC_MAX_KEY_BLOCK, b->o + (int64_t)r0 * dim, c, (dim - c) / 16 < 4 ? (dim - c) / 16 : 4, ka, kz);
    }
    _tile_release();
}
#endif
