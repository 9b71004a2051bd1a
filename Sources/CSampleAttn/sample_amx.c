/* Stage 1's group scores on AMX-BF16 tiles (SA_ISA_AMX, bf16 precision, head_dim a multiple of
   32): the sampled rows and the keys rounded to bf16, float32 sums, the row maxima folded per
   64-key chunk while its scores are in L1. The planner then estimates the masses of the
   attention that bf16 precision computes (the float32 kernels' plans are not reproduced). */
#include "csampleattn.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>

#include "amx_tiles.h"

SAC_AMX void sac_sample_scores_amx(const sac_sample_scores *a) {
    const int dim = a->dim, lds = a->lds, rows = a->rows;
    uint16_t qa[16 * 256] __attribute__((aligned(64)));
    float part[16 * 64] __attribute__((aligned(64)));   /* a short row tile's scores */
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    sac_tiles_configure();
    for (int r0 = 0; r0 < rows; r0 += 16) {
        const int nr = rows - r0 < 16 ? rows - r0 : 16;
        sac_query_tile_bf16(a->q, r0, rows, dim, qa);
        /* keys up to the tile's last row; row r's max over keys 0 ... pos0 + r0 + r */
        const int64_t last = a->pos0 + r0 + nr - 1, end = (last + 16) / 16 * 16;
        __m512 mx[16];
        for (int r = 0; r < 16; r++) mx[r] = ninf;
        for (int64_t k = 0; k < end; k += 64) {
            const int n = (end - k) / 16 < 4 ? (int)((end - k) / 16) : 4;
            float *dst = a->s + (int64_t)r0 * lds + k;
            sac_tile_scores(qa, a->kb + k * dim, dim, nr == 16 ? dst : part, nr == 16 ? lds : 64, n);
            for (int r = 0; r < nr; r++) {
                float *row = nr == 16 ? dst + (int64_t)r * lds : part + r * 64;
                if (nr < 16) memcpy(dst + (int64_t)r * lds, row, sizeof(float) * 16 * (size_t)n);
                const int64_t valid = a->pos0 + r0 + r + 1 - k;   /* keys of this chunk the row sees */
                for (int j = 0; j < 16 * n && j < valid; j += 16) {
                    __mmask16 m = valid - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (valid - j)) - 1);
                    mx[r] = _mm512_max_ps(mx[r], _mm512_mask_loadu_ps(ninf, m, row + j));
                }
            }
        }
        for (int r = 0; r < nr; r++) a->rowmax[r0 + r] = _mm512_reduce_max_ps(mx[r]);
    }
    _tile_release();
}
#endif
