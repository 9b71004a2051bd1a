/* The machine's float32 FMA ceiling, to read the kernels' GFLOP/s against: independent FMA
   chains in registers (no memory), and the score kernel's inner-loop shape (two 16-key loads
   and six broadcast query loads for twelve FMAs), on 1 and on N threads at once. A kernel
   cannot beat the first; the thread counts show how much a core slows when all of them run.
     fma_peak [threads,threads,... (1)] [rounds (5)]
   Reports GFLOP/s per thread (medians of the rounds) and in all. No library code: a probe. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>

enum { ITERS = 20000000, CHAINS = 16 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 16 independent 16-lane chains: 32 flops x 16 per iteration. */
__attribute__((target("avx512f"))) static float chains_avx512(long iters) {
    __m512 a[CHAINS], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
        for (int i = 0; i < CHAINS; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    __m512 s = a[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

/* The score kernel's step: 2 key loads, 6 query broadcasts, 12 FMAs (6 rows x 2 key tiles),
   over a 64-dim, 32-key panel that stays in L1. */
__attribute__((target("avx512f"))) static float tile_avx512(long iters) {
    static __thread float k[64 * 32], q[64 * 6];
    for (int i = 0; i < 64 * 32; i++) k[i] = 1e-3f * (float)(i % 7);
    for (int i = 0; i < 64 * 6; i++) q[i] = 1e-3f * (float)(i % 5);
    __m512 acc = _mm512_setzero_ps();
    for (long n = 0; n < iters / 64; n++) {
        __m512 a[6][2];
        for (int r = 0; r < 6; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
        for (int c = 0; c < 64; c++) {
            __m512 x0 = _mm512_loadu_ps(k + c * 32), x1 = _mm512_loadu_ps(k + c * 32 + 16);
            for (int r = 0; r < 6; r++) {
                __m512 bq = _mm512_set1_ps(q[c * 6 + r]);
                a[r][0] = _mm512_fmadd_ps(bq, x0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(bq, x1, a[r][1]);
            }
        }
        for (int r = 0; r < 6; r++) acc = _mm512_add_ps(acc, _mm512_add_ps(a[r][0], a[r][1]));
    }
    return _mm512_reduce_add_ps(acc);
}

/* 10 independent 8-lane chains (16 registers in all on AVX2). */
__attribute__((target("avx2,fma"))) static float chains_avx2(long iters) {
    __m256 a[10], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 10; i++) a[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iters; n++)
        for (int i = 0; i < 10; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    float h[8], s = 0;
    for (int i = 0; i < 10; i++) {
        _mm256_storeu_ps(h, a[i]);
        for (int l = 0; l < 8; l++) s += h[l];
    }
    return s;
}

typedef struct { int kind; long iters; double seconds; float sink; pthread_barrier_t *start; } job;

static const char *names[] = {"avx512 chains (registers)", "avx512 score-tile step (L1)", "avx2 chains (registers)"};
static const double flops_per_iter[] = {32.0 * CHAINS, 2.0 * 16 * 12, 16.0 * 10};   /* tile: per c step */

static void *worker(void *p) {
    job *j = p;
    pthread_barrier_wait(j->start);
    double t0 = now();
    j->sink = j->kind == 0 ? chains_avx512(j->iters) : j->kind == 1 ? tile_avx512(j->iters) : chains_avx2(j->iters);
    j->seconds = now() - t0;
    return NULL;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

/* GFLOP/s per thread (the median thread of the median round) with `threads` running at once. */
static double measure(int kind, int threads, int rounds) {
    double per_round[64];
    long iters = kind == 1 ? ITERS / 4 : ITERS / 2;
    for (int rd = 0; rd < rounds && rd < 64; rd++) {
        pthread_t tid[256];
        job jobs[256];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)threads);
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){kind, iters, 0, 0, &start};
            pthread_create(&tid[t], NULL, worker, &jobs[t]);
        }
        double rates[256];
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            rates[t] = flops_per_iter[kind] * (double)iters / jobs[t].seconds * 1e-9;
            if (jobs[t].sink == 12345.0f) printf(" ");   /* keeps the results live */
        }
        pthread_barrier_destroy(&start);
        qsort(rates, (size_t)threads, sizeof *rates, cmp);
        per_round[rd] = rates[threads / 2];
    }
    qsort(per_round, (size_t)rounds, sizeof *per_round, cmp);
    return per_round[rounds / 2];
}

int main(int argc, char **argv) {
    const char *list = argc > 1 ? argv[1] : "1";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > 64) { fprintf(stderr, "usage: fma_peak [threads,threads,...] [rounds 1..64]\n"); return 2; }
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f"), has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    printf("avx512f %d, avx2+fma %d; GFLOP/s per thread (median), and in all\n", has512, has2);
    char buf[256];
    strncpy(buf, list, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int threads = atoi(tok);
        if (threads < 1 || threads > 256) { fprintf(stderr, "threads must be 1..256\n"); return 2; }
        for (int kind = 0; kind < 3; kind++) {
            if ((kind < 2 && !has512) || (kind == 2 && !has2)) continue;
            double g = measure(kind, threads, rounds);
            printf("%-30s threads %3d: %7.1f per thread, %8.1f in all\n", names[kind], threads, g, g * threads);
        }
    }
    return 0;
}
#else
int main(void) { fprintf(stderr, "fma_peak: x86-64 only\n"); return 2; }
#endif
