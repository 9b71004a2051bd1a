/* One thread, one kernel: the key-block kernels on query blocks far below the diagonal (every
   row sees every key), so the time is the kernels' own, with no planning, packing or threads.
   Reports nanoseconds per score and dense-equivalent GFLOP/s (4 d flops per score).
     kernel_block_bench [keys (16384)] [dim (64)] [rounds (5)]
   The AMX kernel runs where the CPU has AMX-BF16, the AVX-512 row-tile kernel where it has
   AVX-512 (float32, and bf16 precision's rounded P). Medians of the rounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "csampleattn.h"
#include "sampleattn.h"

enum { QB = 96, KB = SAC_MAX_KEY_BLOCK };

static unsigned rng = 12345u;
static float uniform(void) { rng = rng * 1664525u + 1013904223u; return (float)(rng >> 8) / 16777216.0f - 0.5f; }

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static double median(double *x, int n) { qsort(x, (size_t)n, sizeof *x, cmp); return x[n / 2]; }

int main(int argc, char **argv) {
    const int keys = argc > 1 ? atoi(argv[1]) : 16384, dim = argc > 2 ? atoi(argv[2]) : 64;
    const int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (keys < KB || keys % KB || dim < 32 || dim % 32 || dim > 256 || rounds < 1) {
        fprintf(stderr, "usage: kernel_block_bench [keys: multiple of %d] [dim: 32..256, multiple of 32] [rounds]\n", KB);
        return 2;
    }
    uint32_t mask = sac_cpu_isa_mask();
    float *q = malloc(sizeof(float) * QB * dim), *kt = malloc(sizeof(float) * (size_t)keys * dim);
    float *v = malloc(sizeof(float) * (size_t)keys * dim), *s = malloc(sizeof(float) * QB * KB);
    float *o = malloc(sizeof(float) * QB * dim), m[QB], l[QB];
    uint16_t *qa = malloc(2 * QB * (size_t)dim), *kb = malloc(2 * (size_t)keys * dim), *vb = malloc(2 * ((size_t)keys + 32) * dim);
    int64_t lo[QB], hi[QB];
    for (int i = 0; i < QB * dim; i++) q[i] = uniform() * 0.5f;
    for (size_t i = 0; i < (size_t)keys * dim; i++) { kt[i] = uniform(); v[i] = uniform(); }
    sac_round_bf16(q, QB * dim); sac_round_bf16(kt, (int64_t)keys * dim); sac_round_bf16(v, (int64_t)keys * dim);
    for (int r = 0; r < QB; r++) { lo[r] = 0; hi[r] = (int64_t)keys + 1000; }
    const double scores = (double)QB * keys;
    printf("cpu_isa_mask 0x%x; %d keys, d = %d, %d-row query block, %d-key blocks, one thread\n", (unsigned)mask,
           keys, dim, QB, KB);

    if (mask & SA_CPU_AMX_BF16) {
        sac_pack_query_rows_bf16(q, QB, dim, qa);
        sac_pack_block_bf16(kt, v, dim, 0, keys, kb, vb);
        double t[64];
        for (int rd = 0; rd < rounds && rd < 64; rd++) {
            for (int r = 0; r < QB; r++) { m[r] = -INFINITY; l[r] = 0; }
            memset(o, 0, sizeof(float) * QB * dim);
            double t0 = sac_now_seconds();
            for (int j0 = 0; j0 < keys; j0 += KB) {
                sac_block b = {qa, kb + (size_t)j0 * dim, vb + (size_t)j0 * dim, lo, hi, s, m, l, o, j0, j0 + KB, QB, dim, KB};
                sac_attend_block_amx(&b);
            }
            t[rd] = sac_now_seconds() - t0;
        }
        double x = median(t, rounds < 64 ? rounds : 64);
        printf("amx block kernel (bf16):       %.3f ns/score, %.1f GFLOP/s\n", x / scores * 1e9, 4.0 * dim * scores / x * 1e-9);
    } else {
        printf("amx block kernel: NOT RUN (CPU lacks AMX-BF16)\n");
    }
    if (mask & SA_CPU_AVX512) {
        for (int variant = 0; variant < 3; variant++) {
            const int round_p = variant == 1, pair = variant == 2, step = pair ? 12 : 6;
            double t[64];
            for (int rd = 0; rd < rounds && rd < 64; rd++) {
                for (int r = 0; r < QB; r++) { m[r] = -INFINITY; l[r] = 0; }
                memset(o, 0, sizeof(float) * QB * dim);
                double t0 = sac_now_seconds();
                for (int j0 = 0; j0 < keys; j0 += KB)
                    for (int r0 = 0; r0 < QB; r0 += step) {
                        sac_rowtile rt = {q + r0 * dim, kt + (size_t)j0 * dim, v + (size_t)j0 * dim, lo + r0, hi + r0,
                                          s + r0 * KB, m + r0, l + r0, o + r0 * dim, j0, j0 + KB, dim, KB, 0, KB, round_p};
                        (pair ? sac_rowtile2_avx512 : sac_rowtile_avx512)(&rt);
                    }
                t[rd] = sac_now_seconds() - t0;
            }
            double x = median(t, rounds < 64 ? rounds : 64);
            printf("avx512 row-tile kernel (%s): %.3f ns/score, %.1f GFLOP/s\n",
                   pair ? "f32, 12-row pair" : round_p ? "bf16 P" : "f32 ", x / scores * 1e9,
                   4.0 * dim * scores / x * 1e-9);
        }
    } else {
        printf("avx512 row-tile kernel: NOT RUN (CPU lacks AVX-512)\n");
    }
    free(q); free(kt); free(v); free(s); free(o); free(qa); free(kb); free(vb);
    return 0;
}
