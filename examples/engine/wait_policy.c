/*
 * wait_policy.c - what libsampleattn's OpenMP workers cost a host that has its own thread pool.
 *
 * The host alternates, like an engine's layer loop, between an sa_attention call on the main
 * thread (a context of P threads: an OpenMP team) and a compute phase on its own pool of P
 * pthreads. After each parallel region, LLVM's libomp keeps its workers spinning for
 * KMP_BLOCKTIME (200 ms by default) before they sleep, so they compete with the host's pool for
 * the same cores. Run it under each setting and compare the host phase:
 *
 *   for e in X=1 OMP_WAIT_POLICY=passive KMP_BLOCKTIME=0; do env $e ./wait_policy; done
 *
 *   wait_policy [threads (default 2)] [iterations (default 15)]
 * Timing only (no pass/fail); numbers vary with machine load.
 */
#include <sampleattn.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pthread_barrier_t phase;
static volatile int quit = 0;
static volatile double sink;

/* The host's pool: wait for a phase, compute ~100 ms of dependent FMAs, report done. */
static void *pool_worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&phase);
        if (quit) break;
        double x = 1.0;
        for (long i = 0; i < 20000000; i++) x = x * 1.0000001 + 1e-9;
        sink = x;
        pthread_barrier_wait(&phase);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int P = argc > 1 ? atoi(argv[1]) : 2, R = argc > 2 ? atoi(argv[2]) : 15;
    if (P < 1 || P > 256 || R < 2) { fprintf(stderr, "usage: %s [threads] [iterations >= 2]\n", argv[0]); return 2; }
    const int64_t S = 2048, H = 14, Hkv = 2, d = 64;
    float *q = malloc(sizeof(float) * S * H * d), *k = malloc(sizeof(float) * S * Hkv * d);
    float *v = malloc(sizeof(float) * S * Hkv * d), *o = malloc(sizeof(float) * S * H * d);
    if (!q || !k || !v || !o) return 2;
    srand(1);
    for (int64_t i = 0; i < S * H * d; i++) q[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int64_t i = 0; i < S * Hkv * d; i++) { k[i] = (float)rand() / RAND_MAX - 0.5f; v[i] = k[i]; }
    sa_tensor tq = {q, SA_DTYPE_F32, 0, S, H, d, 0, 0}, to = {o, SA_DTYPE_F32, 0, S, H, d, 0, 0};
    sa_tensor tk = {k, SA_DTYPE_F32, 0, S, Hkv, d, 0, 0}, tv = {v, SA_DTYPE_F32, 0, S, Hkv, d, 0, 0};
    sa_params p;
    sa_params_default(&p);
    p.mode = SA_MODE_DENSE;
    sa_context *ctx = sa_context_new(P);
    if (!ctx) return 2;

    pthread_t th[256];
    pthread_barrier_init(&phase, NULL, (unsigned)P + 1);
    for (int i = 0; i < P; i++) pthread_create(&th[i], NULL, pool_worker, NULL);
    double t_attn = 0, t_host = 0;
    for (int r = 0; r < R; r++) {
        double t0 = now_s();
        sa_status s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, NULL);
        double t1 = now_s();
        if (s != SA_OK) { fprintf(stderr, "sa_attention: %s\n", sa_status_string(s)); return 1; }
        pthread_barrier_wait(&phase);   /* start the host phase ... */
        pthread_barrier_wait(&phase);   /* ... and wait for the pool */
        double t2 = now_s();
        if (r > 0) { t_attn += t1 - t0; t_host += t2 - t1; }   /* the first iteration warms up */
    }
    quit = 1;
    pthread_barrier_wait(&phase);
    for (int i = 0; i < P; i++) pthread_join(th[i], NULL);

    /* CPU the process burns while the host is idle for 100 ms right after a call: the library's
       OpenMP workers spinning (machine-load independent, unlike the timings above). */
    double idle_cpu = 0;
    for (int r = 0; r < 5; r++) {
        sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, NULL);
        struct timespec c0, c1, nap = {0, 100000000};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        idle_cpu += (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    }
    const char *wp = getenv("OMP_WAIT_POLICY"), *bt = getenv("KMP_BLOCKTIME");
    printf("OMP_WAIT_POLICY=%s KMP_BLOCKTIME=%s: %d threads, attention %.1f ms, host pool phase %.1f ms "
           "(per iteration, %d iterations); CPU burnt in the 100 ms after a call while the host sleeps: "
           "%.0f ms\n", wp ? wp : "(unset)", bt ? bt : "(unset)", P, 1e3 * t_attn / (R - 1),
           1e3 * t_host / (R - 1), R - 1, 1e3 * idle_cpu / 5);
    sa_context_free(ctx);
    free(q); free(k); free(v); free(o);
    return 0;
}
