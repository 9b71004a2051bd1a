/* Scalar reference of stage 1's group scores (see sac_sample_scores in csampleattn.h): the
   operations of groupExponentials' Swift path (scoreTile with its row-max fold, rowMax) one lane
   at a time and in the same order, so it gives their results bit for bit. */
#include "csampleattn.h"
#include "ref_math.h"

void sac_sample_scores_ref(const sac_sample_scores *a) {
    const int dim = a->dim, n = a->rows;
    const int64_t lds = a->lds, tiles = (a->pos0 + n + 15) / 16 * 16;
    for (int r = 0; r < n; r++) {
        const float *q = a->q + r / 6 * 6 * dim + r % 6;
        float *row = a->s + r * lds;
        for (int64_t j = 0; j < tiles; j++) {
            const float *k = a->kt + j / 16 * 16 * dim + j % 16;
            float acc = 0;
            for (int c = 0; c < dim; c++) acc = fmaf(q[c * 6], k[c * 16], acc);
            row[j] = acc;
        }
    }
    for (int r = 0; r < n; r++) {
        const float *row = a->s + r * lds;
        int64_t p = a->pos0 + r, full = (a->pos0 + r / 6 * 6 + 1) / 16 * 16;
        if (full > tiles) full = tiles;
        if (full > p) { a->rowmax[r] = row_max_ref(row, 0, p + 1); continue; }
        /* the fold of scoreTile: per tile below `full`, lane i takes keys i and i + 8 */
        float m[8];
        for (int i = 0; i < 8; i++) m[i] = -INFINITY;
        for (int64_t t = 0; t < full; t += 16)
            for (int i = 0; i < 8; i++) m[i] = vmax1(m[i], vmax1(row[t + i], row[t + 8 + i]));
        a->rowmax[r] = swift_max(hmax_ref(m), row_max_ref(row, full, p + 1));
    }
}
