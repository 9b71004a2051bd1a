/*
 * Host-threads interop test of libsampleattn, on real data (data/qwen05b_code_4k).
 *
 *  1. Reference: every job on the main thread with a 1-thread context; then again with the
 *     default thread count (results must be bitwise equal: the header's promise).
 *  2. The host runs its own OpenMP parallel region (when built with -fopenmp: with LLVM's libomp,
 *     the library's runtime, or with GCC's libgomp, a second runtime in the process) and calls
 *     sa_attention from every thread at once, each thread with its own context, with the
 *     default thread count and with 2 threads per context. Bitwise equal to the reference.
 *     Then ggml-style: the region's threads split each call's KV heads among themselves (views
 *     of head slices, 1-thread contexts); the assembled output and lse are bitwise equal.
 *  3. The same from a pthreads pool (each pthread is an OpenMP initial thread for libomp).
 *  4. One context shared by two threads at once: each call either succeeds (bitwise equal) or is
 *     refused with SA_ERR_CONTEXT_BUSY, and a refused call leaves out, lse and stats untouched.
 *
 * Tests/c/concurrency_test.c covers contexts and plans under pthreads on random data; this one
 * is about a host that brings its own OpenMP runtime. ctest runs it built with the toolchain's
 * clang (libomp) as `host_threads`, and built with GCC (libgomp) as `host_threads_gomp`.
 *
 *   host_threads_test <data dir>      prints a report, exits non-zero on any failure
 */
#include "sampleattn.h"

#include "../../examples/engine/npy_f16.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_support.h"

#ifdef _OPENMP
#  if defined(__has_include)
#    if __has_include(<omp.h>)
#      include <omp.h>
#      define SA_HAVE_OMP_H 1
#    endif
#  endif
#  ifndef SA_HAVE_OMP_H
/* The Swift toolchain's clang ships no omp.h: declare the two functions used. */
int omp_get_thread_num(void);
int omp_get_num_threads(void);
#  endif
#endif

/* ---------------------------------------------------------------- data and jobs */
typedef struct layer { npy_f16 q, k, v; } layer;
static layer layers[2];
static const int layer_ids[2] = {12, 23};
static int64_t S, Hq, Hkv, D;

typedef struct job { int layer; int64_t sk, sq; int32_t mode; } job;
static const job jobs[] = {
    {0, 4096, 512, SA_MODE_DENSE},
    {0, 4096, 512, SA_MODE_SAMPLE},
    {1, 2560, 384, SA_MODE_SAMPLE},
    {1, 3000, 200, SA_MODE_DENSE},
};
#define NJOBS ((int)(sizeof jobs / sizeof jobs[0]))

typedef struct buffers { float *out, *lse; } buffers;
static buffers ref[NJOBS];
static size_t out_count(const job *j) { return (size_t)(j->sq * Hq * D); }
static size_t lse_count(const job *j) { return (size_t)(j->sq * Hq); }

static void buffers_alloc(buffers *b) {
    b->out = (float *)malloc(out_count(&jobs[0]) * 2 * sizeof(float));   /* largest job: 512 rows */
    b->lse = (float *)malloc(lse_count(&jobs[0]) * 2 * sizeof(float));
    if (!b->out || !b->lse) { fprintf(stderr, "out of memory\n"); exit(2); }
}

/* q: the last sq of the first sk tokens, k/v: the first sk tokens; head-major float16 views of
   the .npy arrays [H, S, d] (stride_token = d, stride_head = S*d); out: float32 token-major. */
static sa_status run_job(sa_context *ctx, const job *j, float *out, float *lse, sa_stats *st) {
    const layer *L = &layers[j->layer];
    sa_tensor q = {L->q.data + (j->sk - j->sq) * D, SA_DTYPE_F16, 0, j->sq, Hq, D, D, S * D};
    sa_tensor k = {L->k.data, SA_DTYPE_F16, 0, j->sk, Hkv, D, D, S * D};
    sa_tensor v = {L->v.data, SA_DTYPE_F16, 0, j->sk, Hkv, D, D, S * D};
    sa_tensor o = {out, SA_DTYPE_F32, 0, j->sq, Hq, D, Hq * D, D};
    sa_params p;
    sa_params_default(&p);
    p.mode = j->mode;
    return sa_attention(ctx, &p, &q, &k, &v, &o, lse, st);
}

/* The same job restricted to KV heads [g0, g1) and their query heads (views of the same memory;
   out and lse land in the rows of the full result): how a ggml-style op splits the work over its
   (ith, nth) threads, each calling the library with a 1-thread context. */
static sa_status run_job_kv_heads(sa_context *ctx, const job *j, int64_t g0, int64_t g1, float *out, float *lse) {
    const layer *L = &layers[j->layer];
    const int64_t G = Hq / Hkv, h0 = g0 * G, nh = (g1 - g0) * G;
    sa_tensor q = {L->q.data + (j->sk - j->sq) * D + h0 * S * D, SA_DTYPE_F16, 0, j->sq, nh, D, D, S * D};
    sa_tensor k = {L->k.data + g0 * S * D, SA_DTYPE_F16, 0, j->sk, g1 - g0, D, D, S * D};
    sa_tensor v = {L->v.data + g0 * S * D, SA_DTYPE_F16, 0, j->sk, g1 - g0, D, D, S * D};
    sa_tensor o = {out + h0 * D, SA_DTYPE_F32, 0, j->sq, nh, D, Hq * D, D};
    sa_params p;
    sa_params_default(&p);
    p.mode = j->mode;
    return sa_attention(ctx, &p, &q, &k, &v, &o, lse + h0 * j->sq, NULL);
}

static int same(const job *j, const buffers *a, const buffers *b) {
    return memcmp(a->out, b->out, out_count(j) * sizeof(float)) == 0
        && memcmp(a->lse, b->lse, lse_count(j) * sizeof(float)) == 0;
}

/* Every job, starting at `first` (so concurrent threads run different jobs at the same time),
   `rounds` times, compared with the reference. Returns the number of mismatches or errors. */
static int worker_jobs(sa_context *ctx, int first, int rounds, buffers *b) {
    int bad = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < NJOBS; i++) {
            const job *j = &jobs[(first + i) % NJOBS];
            sa_status s = run_job(ctx, j, b->out, b->lse, NULL);
            if (s != SA_OK) {
                fprintf(stderr, "    job %d: %s (%s)\n", (int)(j - jobs), sa_status_string(s), sa_context_last_error(ctx));
                bad++;
            } else if (!same(j, b, &ref[j - jobs])) {
                fprintf(stderr, "    job %d: result differs from the single-threaded reference\n", (int)(j - jobs));
                bad++;
            }
        }
    return bad;
}

/* ---------------------------------------------------------------- pthreads pool */
typedef struct pool_arg {
    int tid, ctx_threads, rounds, bad;
    pthread_barrier_t *start;
} pool_arg;

static void *pool_main(void *p) {
    pool_arg *a = (pool_arg *)p;
    buffers b;
    buffers_alloc(&b);
    sa_context *ctx = sa_context_new(a->ctx_threads);
    pthread_barrier_wait(a->start);
    a->bad = ctx ? worker_jobs(ctx, a->tid, a->rounds, &b) : 1;
    sa_context_free(ctx);
    free(b.out); free(b.lse);
    return NULL;
}

static int run_pool(int n, int ctx_threads, int rounds) {
    pthread_t th[16];
    pool_arg args[16];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int t = 0; t < n; t++) {
        args[t] = (pool_arg){t, ctx_threads, rounds, 0, &start};
        pthread_create(&th[t], NULL, pool_main, &args[t]);
    }
    int bad = 0;
    for (int t = 0; t < n; t++) { pthread_join(th[t], NULL); bad += args[t].bad; }
    pthread_barrier_destroy(&start);
    return bad;
}

/* ---------------------------------------------------------------- one context, two threads */
#define SENTINEL_BYTE 0xA5
typedef struct shared_arg {
    sa_context *ctx;
    pthread_barrier_t *step;
    struct shared_arg *both;     /* the two threads' args */
    int *stop;                   /* written by the barrier's serial thread between two barriers */
    int iterations, ok, busy, bad;
} shared_arg;

static int untouched(const void *p, size_t n, size_t skip) {
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = skip; i < n; i++) if (c[i] != SENTINEL_BYTE) return 0;
    return 1;
}

static void *shared_main(void *p) {
    shared_arg *a = (shared_arg *)p;
    const job *j = &jobs[3];          /* the small dense job */
    buffers b;
    buffers_alloc(&b);
    for (int it = 0;; it++) {
        memset(b.out, SENTINEL_BYTE, out_count(j) * sizeof(float));
        memset(b.lse, SENTINEL_BYTE, lse_count(j) * sizeof(float));
        sa_stats st;
        memset(&st, SENTINEL_BYTE, sizeof st);
        st.struct_size = sizeof st;
        pthread_barrier_wait(a->step);          /* both threads enter sa_attention together */
        sa_status s = run_job(a->ctx, j, b.out, b.lse, &st);
        if (s == SA_OK) {
            a->ok++;
            if (!same(j, &b, &ref[3]) || st.n_heads != Hq) a->bad++;
        } else if (s == SA_ERR_CONTEXT_BUSY) {
            a->busy++;
            if (!untouched(b.out, out_count(j) * sizeof(float), 0) || !untouched(b.lse, lse_count(j) * sizeof(float), 0)
                || !untouched(&st, sizeof st, sizeof st.struct_size)) {
                fprintf(stderr, "    a refused call wrote to out, lse or stats\n");
                a->bad++;
            }
        } else {
            fprintf(stderr, "    shared context: %s\n", sa_status_string(s));
            a->bad++;
        }
        a->iterations = it + 1;
        /* One thread decides: stop after 200 rounds, or after 20 once 3 refusals were seen. */
        if (pthread_barrier_wait(a->step) == PTHREAD_BARRIER_SERIAL_THREAD) {
            int busy = a->both[0].busy + a->both[1].busy;
            *a->stop = it + 1 >= 200 || (it + 1 >= 20 && busy >= 3);
        }
        pthread_barrier_wait(a->step);
        if (*a->stop) break;
    }
    free(b.out); free(b.lse);
    return NULL;
}

/* ---------------------------------------------------------------- main */
int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s <data dir (qwen05b_code_4k)>\n", argv[0]); return 2; }
    char path[4096], err[1024];
    for (int l = 0; l < 2; l++) {
        npy_f16 *arr[3] = {&layers[l].q, &layers[l].k, &layers[l].v};
        const char *name[3] = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/L%02d_%s.npy", argv[1], layer_ids[l], name[i]);
            if (npy_f16_load(path, arr[i], err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 2; }
        }
    }
    Hq = layers[0].q.shape[0]; S = layers[0].q.shape[1]; D = layers[0].q.shape[2]; Hkv = layers[0].k.shape[0];
    printf("host threads test: libsampleattn %s, layers 12 and 23, %d jobs (dense and SampleAttention, chunked "
           "prefill S_q < S_k, GQA %lld/%lld, f16 head-major in, f32 out)\n", sa_version_string(), NJOBS,
           (long long)Hq, (long long)Hkv);

    /* 1. reference */
    sa_context *ctx1 = sa_context_new(1), *ctxn = sa_context_new(0);
    if (!ctx1 || !ctxn) { fprintf(stderr, "sa_context_new failed\n"); return 2; }
    double t0 = now_seconds();
    for (int i = 0; i < NJOBS; i++) {
        buffers_alloc(&ref[i]);
        sa_status s = run_job(ctx1, &jobs[i], ref[i].out, ref[i].lse, NULL);
        if (s != SA_OK) { fprintf(stderr, "job %d: %s\n", i, sa_status_string(s)); return 1; }
    }
    printf("reference: main thread, 1-thread context, %.0f ms\n", 1e3 * (now_seconds() - t0));
    {
        buffers b;
        buffers_alloc(&b);
        t0 = now_seconds();
        int bad = worker_jobs(ctxn, 0, 1, &b);
        printf("main thread, %d-thread context, %.0f ms\n", sa_context_n_threads(ctxn), 1e3 * (now_seconds() - t0));
        CHECK(bad == 0, "%s", "bitwise equal to the 1-thread reference");
        free(b.out); free(b.lse);
    }
    sa_context_free(ctx1);
    sa_context_free(ctxn);

    /* 2. the host's own OpenMP parallel region */
#ifdef _OPENMP
    const int host_threads = 3;
    const int ctx_threads_list[2] = {0, 2};
    for (int c = 0; c < 2; c++) {
        int bad = 0, team = 0, ctx_threads_seen = 0;
        t0 = now_seconds();
#pragma omp parallel num_threads(host_threads) reduction(+ : bad)
        {
            int tid = omp_get_thread_num();
#pragma omp single
            team = omp_get_num_threads();
            buffers b;
            buffers_alloc(&b);
            sa_context *ctx = sa_context_new(ctx_threads_list[c]);   /* one context per host thread */
            if (tid == 0 && ctx) ctx_threads_seen = sa_context_n_threads(ctx);
            bad += ctx ? worker_jobs(ctx, tid, 1, &b) : 1;
            sa_context_free(ctx);
            free(b.out); free(b.lse);
        }
        char what[160];
        snprintf(what, sizeof what, "host OpenMP region of %d threads, each its own context (n_threads %d -> %d), "
                 "%.0f ms", team, ctx_threads_list[c], ctx_threads_seen, 1e3 * (now_seconds() - t0));
        CHECK(bad == 0 && team == host_threads, "%s: all results bitwise equal", what);
    }
    /* ggml-style: the host's threads split the KV heads of each call among themselves, each
       calling the library with a 1-thread context on its slice (views, no copies). */
    {
        int bad = 0;
        buffers b;
        buffers_alloc(&b);
        t0 = now_seconds();
        for (int i = 0; i < NJOBS; i++) {
            memset(b.out, 0xA5, out_count(&jobs[i]) * sizeof(float));
            memset(b.lse, 0xA5, lse_count(&jobs[i]) * sizeof(float));
#pragma omp parallel num_threads((int)Hkv) reduction(+ : bad)
            {
                int ith = omp_get_thread_num(), nth = omp_get_num_threads();
                sa_context *ctx = sa_context_new(1);
                for (int64_t g = ith; g < Hkv; g += nth)
                    if (!ctx || run_job_kv_heads(ctx, &jobs[i], g, g + 1, b.out, b.lse) != SA_OK) bad++;
                sa_context_free(ctx);
            }
            if (!same(&jobs[i], &b, &ref[i])) bad++;
        }
        char what[160];
        snprintf(what, sizeof what, "host OpenMP region splitting the %lld KV heads over its threads "
                 "(1-thread contexts, head-slice views), %.0f ms", (long long)Hkv, 1e3 * (now_seconds() - t0));
        CHECK(bad == 0, "%s: assembled results bitwise equal", what);
        free(b.out); free(b.lse);
    }
#else
    printf("  skip host OpenMP region (not built with -fopenmp)\n");
#endif

    /* 3. a pthreads pool */
    for (int c = 0; c < 2; c++) {
        int ctx_threads = c == 0 ? 1 : 2;
        t0 = now_seconds();
        int bad = run_pool(3, ctx_threads, 1);
        char what[160];
        snprintf(what, sizeof what, "pthreads pool of 3, each its own %d-thread context, %.0f ms", ctx_threads,
                 1e3 * (now_seconds() - t0));
        CHECK(bad == 0, "%s: all results bitwise equal", what);
    }

    /* 4. one context, two threads entering it together, until enough refusals were seen */
    {
        sa_context *shared = sa_context_new(2);
        pthread_barrier_t step;
        pthread_barrier_init(&step, NULL, 2);
        int stop = 0;
        shared_arg a[2] = {{shared, &step, a, &stop, 0, 0, 0, 0}, {shared, &step, a, &stop, 0, 0, 0, 0}};
        pthread_t th[2];
        for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, shared_main, &a[t]);
        for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
        pthread_barrier_destroy(&step);
        int ok = a[0].ok + a[1].ok, busy = a[0].busy + a[1].busy, bad = a[0].bad + a[1].bad;
        printf("one context, two threads entering together, %d rounds: %d calls succeeded, %d refused with "
               "SA_ERR_CONTEXT_BUSY\n", a[0].iterations, ok, busy);
        CHECK(bad == 0, "%s", "every call succeeded with the right result or was refused with out, lse, stats untouched");
        CHECK(ok > 0 && busy > 0, "%s", "both outcomes were seen (concurrent use is detected)");
        /* the context still works after the contention */
        buffers b;
        buffers_alloc(&b);
        CHECK(worker_jobs(shared, 0, 1, &b) == 0, "%s", "the shared context works afterwards");
        free(b.out); free(b.lse);
        sa_context_free(shared);
    }

    for (int i = 0; i < NJOBS; i++) { free(ref[i].out); free(ref[i].lse); }
    for (int l = 0; l < 2; l++) { npy_f16_free(&layers[l].q); npy_f16_free(&layers[l].k); npy_f16_free(&layers[l].v); }
    printf("%s\n", n_failed ? "host threads test: FAILED" : "host threads test: all checks passed");
    return n_failed ? 1 : 0;
}
