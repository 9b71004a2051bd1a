/*
 * Concurrency test of libsampleattn.
 *
 *  1. Contexts are independent: 8 host threads, each with its own context, run dense and
 *     SampleAttention calls (GQA, chunked prefill, every dtype, several shapes) at the same time,
 *     and every output (and lse) is bitwise equal to a run on one thread with a 1-thread context.
 *  2. Plans are immutable: one plan applied by 8 threads at once gives the serial result.
 *  3. One context shared by two threads: the second concurrent call is refused with
 *     SA_ERR_CONTEXT_BUSY and writes nothing; the calls that do run are correct.
 *
 *   sa_concurrency_test [--omp-threads N] [--rounds R]
 * --omp-threads: threads of each worker's context (default 2; 1 under ThreadSanitizer, where an
 * OpenMP team of the uninstrumented libomp would give false reports). --rounds: passes over the
 * cases per worker (default 3).
 */
#include "sampleattn.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_support.h"

#define N_WORKERS 8

/* ---------------------------------------------------------------- data */
static size_t dtype_size(sa_dtype t) { return t == SA_DTYPE_F32 ? 4 : 2; }

/* Fills n elements of dtype with uniform values in [-amp, amp). */
static void fill(void *dst, sa_dtype t, size_t n, float amp, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        float x = amp * uniform_from(splitmix64(&seed));
        uint32_t bits;
        memcpy(&bits, &x, 4);
        if (t == SA_DTYPE_F32) {
            memcpy((char *)dst + 4 * i, &x, 4);
        } else if (t == SA_DTYPE_BF16) {
            uint16_t h = (uint16_t)(bits >> 16);
            memcpy((char *)dst + 2 * i, &h, 2);
        } else {   /* f16 of a value in [-amp, amp): exponent rebias, truncated mantissa */
            uint32_t sign = (bits >> 16) & 0x8000u, e = (bits >> 23) & 0xff, m = bits & 0x7fffffu;
            uint16_t h = (uint16_t)sign;
            if (e >= 113 && e < 143) h = (uint16_t)(sign | ((e - 112) << 10) | (m >> 13));
            memcpy((char *)dst + 2 * i, &h, 2);
        }
    }
}

/* ---------------------------------------------------------------- cases */
typedef struct {
    const char *name;
    int64_t sq, sk, hq, hkv, d;
    int32_t mode;
    uint32_t flags;
    sa_dtype dq, dk, dv, dout;
    int head_major;   /* q/k/v/out as [H, S, d] views */
} test_case;

static const test_case cases[] = {
    {"dense gqa4 f32", 333, 333, 8, 2, 64, SA_MODE_DENSE, 0, 0, 0, 0, 0, 0},
    {"dense chunked mixed dtypes", 97, 410, 6, 3, 72, SA_MODE_DENSE, 0, 1, 2, 0, 1, 1},
    {"sample gqa4 f16", 520, 520, 4, 1, 128, SA_MODE_SAMPLE, SA_FLAG_FORCE_SPARSE, 1, 1, 1, 1, 0},
    {"sample shared-kv chunked bf16", 190, 600, 6, 2, 64, SA_MODE_SAMPLE, SA_FLAG_SHARE_KV_GROUP, 2, 2, 2, 0, 1},
    {"sample force-sparse d=40", 450, 450, 7, 7, 40, SA_MODE_SAMPLE, SA_FLAG_FORCE_SPARSE, 0, 0, 0, 0, 0},
    {"dense d=256", 130, 130, 2, 1, 256, SA_MODE_DENSE, 0, 0, 1, 2, 0, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct {
    void *q, *k, *v;
    size_t out_bytes, lse_count;
    sa_tensor tq, tk, tv, tout;
    sa_params p;
    void *ref_out;     /* one-thread result */
    float *ref_lse;
} prepared;

static prepared prep[N_CASES];

static void prepare(size_t i) {
    const test_case *c = &cases[i];
    prepared *pr = &prep[i];
    size_t nq = (size_t)(c->sq * c->hq * c->d), nk = (size_t)(c->sk * c->hkv * c->d);
    pr->q = malloc(nq * dtype_size(c->dq));
    pr->k = malloc(nk * dtype_size(c->dk));
    pr->v = malloc(nk * dtype_size(c->dv));
    fill(pr->q, c->dq, nq, 2.0f, 100 + i);
    fill(pr->k, c->dk, nk, 2.0f, 200 + i);
    fill(pr->v, c->dv, nk, 1.0f, 300 + i);
    pr->out_bytes = nq * dtype_size(c->dout);
    pr->lse_count = (size_t)(c->hq * c->sq);
    pr->tq = view_of(pr->q, c->dq, c->sq, c->hq, c->d, c->head_major);
    pr->tk = view_of(pr->k, c->dk, c->sk, c->hkv, c->d, c->head_major);
    pr->tv = view_of(pr->v, c->dv, c->sk, c->hkv, c->d, c->head_major);
    pr->tout = view_of(NULL, c->dout, c->sq, c->hq, c->d, c->head_major);
    sa_params_default(&pr->p);
    pr->p.mode = c->mode;
    pr->p.flags = c->flags;
    pr->p.min_seq_len = 0;          /* sparse at these small sizes */
    pr->p.sample_ratio = 0.1f;
    pr->ref_out = malloc(pr->out_bytes);
    pr->ref_lse = malloc(pr->lse_count * sizeof(float));
}

/* Runs case i on ctx into fresh buffers; returns the status and leaves the results in *out and *lse. */
static sa_status run_case(sa_context *ctx, size_t i, void **out, float **lse) {
    prepared *pr = &prep[i];
    *out = malloc(pr->out_bytes);
    *lse = malloc(pr->lse_count * sizeof(float));
    memset(*out, 0x5A, pr->out_bytes);
    memset(*lse, 0x5A, pr->lse_count * sizeof(float));
    sa_tensor o = pr->tout;
    o.data = *out;
    return sa_attention(ctx, &pr->p, &pr->tq, &pr->tk, &pr->tv, &o, *lse, NULL);
}

static int same_result(size_t i, const void *out, const float *lse) {
    return memcmp(out, prep[i].ref_out, prep[i].out_bytes) == 0 &&
           memcmp(lse, prep[i].ref_lse, prep[i].lse_count * sizeof(float)) == 0;
}

/* ---------------------------------------------------------------- 1. independent contexts */
static int omp_threads = 2, rounds = 3;

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    sa_context *ctx = sa_context_new(omp_threads);
    if (!ctx) { FAIL("worker %d: sa_context_new(%d) failed", id, omp_threads); return NULL; }
    for (int r = 0; r < rounds; r++) {
        for (size_t n = 0; n < N_CASES; n++) {
            size_t i = (n + (size_t)id) % N_CASES;   /* workers start on different cases */
            void *out;
            float *lse;
            sa_status s = run_case(ctx, i, &out, &lse);
            if (s != SA_OK)
                FAIL("worker %d case '%s': status %d (%s): %s", id, cases[i].name, (int)s,
                     sa_status_string(s), sa_context_last_error(ctx));
            else if (!same_result(i, out, lse))
                FAIL("worker %d case '%s' round %d: result differs from the one-thread run", id, cases[i].name, r);
            free(out);
            free(lse);
        }
    }
    sa_context_free(ctx);
    return NULL;
}

/* ---------------------------------------------------------------- 2. one plan, many threads */
typedef struct {
    const sa_plan *plan;
    size_t i;
    const void *ref_out;
    const float *ref_lse;
} plan_job;

static void *plan_worker(void *arg) {
    const plan_job *job = arg;
    prepared *pr = &prep[job->i];
    sa_context *ctx = sa_context_new(omp_threads);
    for (int r = 0; r < rounds; r++) {
        void *out = malloc(pr->out_bytes);
        float *lse = malloc(pr->lse_count * sizeof(float));
        sa_tensor o = pr->tout;
        o.data = out;
        sa_status s = sa_plan_apply(ctx, job->plan, &pr->tq, &pr->tk, &pr->tv, &o, lse, NULL);
        if (s != SA_OK)
            FAIL("plan_apply: status %d: %s", (int)s, sa_context_last_error(ctx));
        else if (memcmp(out, job->ref_out, pr->out_bytes) != 0 ||
                 memcmp(lse, job->ref_lse, pr->lse_count * sizeof(float)) != 0)
            FAIL("plan_apply from %d threads differs from the serial apply", N_WORKERS);
        free(out);
        free(lse);
    }
    sa_context_free(ctx);
    return NULL;
}

static void test_shared_plan(void) {
    size_t i = 2;   /* a sparse case */
    prepared *pr = &prep[i];
    sa_context *ctx = sa_context_new(1);
    sa_plan *plan = NULL;
    sa_status s = sa_plan_create(ctx, &pr->p, &pr->tq, &pr->tk, &plan);
    if (s != SA_OK) { FAIL("plan_create: %d %s", (int)s, sa_context_last_error(ctx)); sa_context_free(ctx); return; }
    void *out = malloc(pr->out_bytes);
    float *lse = malloc(pr->lse_count * sizeof(float));
    sa_tensor o = pr->tout;
    o.data = out;
    s = sa_plan_apply(ctx, plan, &pr->tq, &pr->tk, &pr->tv, &o, lse, NULL);
    if (s != SA_OK) FAIL("serial plan_apply: %d %s", (int)s, sa_context_last_error(ctx));
    /* sa_attention = plan_create + plan_apply, bitwise. */
    if (!same_result(i, out, lse)) FAIL("plan_create + plan_apply differs from sa_attention");
    plan_job job = {plan, i, out, lse};
    pthread_t th[N_WORKERS];
    for (int t = 0; t < N_WORKERS; t++) pthread_create(&th[t], NULL, plan_worker, &job);
    for (int t = 0; t < N_WORKERS; t++) pthread_join(th[t], NULL);
    sa_plan_free(plan);
    free(out);
    free(lse);
    sa_context_free(ctx);
}

/* ---------------------------------------------------------------- 3. one context, two threads */
typedef struct {
    sa_context *ctx;
    volatile int stop;          /* set by the main thread (read with __atomic) */
    int a_ok, a_busy, b_ok, b_busy, b_busy_untouched;
    pthread_barrier_t start;
} shared_ctx;

static void *busy_a(void *arg) {   /* long calls on the shared context */
    shared_ctx *sh = arg;
    pthread_barrier_wait(&sh->start);
    while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
        void *out;
        float *lse;
        sa_status s = run_case(sh->ctx, 0, &out, &lse);
        if (s == SA_OK) {
            sh->a_ok++;
            if (!same_result(0, out, lse)) FAIL("shared context: a call that ran gave a wrong result");
        } else if (s == SA_ERR_CONTEXT_BUSY) {
            sh->a_busy++;
        } else {
            FAIL("shared context, thread A: status %d (%s)", (int)s, sa_status_string(s));
        }
        free(out);
        free(lse);
    }
    return NULL;
}

static void *busy_b(void *arg) {   /* short calls on the same context, racing A */
    shared_ctx *sh = arg;
    prepared *pr = &prep[5];
    unsigned char *out = malloc(pr->out_bytes), *before = malloc(pr->out_bytes);
    pthread_barrier_wait(&sh->start);
    struct timespec pause = {0, 200000};   /* 0.2 ms */
    for (int n = 0; n < 20000 && sh->b_busy < 20; n++) {
        memset(out, 0x77, pr->out_bytes);
        memcpy(before, out, pr->out_bytes);
        sa_tensor o = pr->tout;
        o.data = out;
        sa_status s = (n % 8) ? sa_context_set_memory_limit(sh->ctx, 0)
                              : sa_attention(sh->ctx, &pr->p, &pr->tq, &pr->tk, &pr->tv, &o, NULL, NULL);
        if (s == SA_OK) {
            sh->b_ok++;
        } else if (s == SA_ERR_CONTEXT_BUSY) {
            sh->b_busy++;
            if (memcmp(out, before, pr->out_bytes) == 0) sh->b_busy_untouched++;
        } else {
            FAIL("shared context, thread B: status %d (%s)", (int)s, sa_status_string(s));
        }
        nanosleep(&pause, NULL);
    }
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
    free(out);
    free(before);
    return NULL;
}

static void test_busy(void) {
    shared_ctx sh;
    memset(&sh, 0, sizeof sh);
    sh.ctx = sa_context_new(omp_threads);
    pthread_barrier_init(&sh.start, NULL, 2);
    pthread_t a, b;
    pthread_create(&a, NULL, busy_a, &sh);
    pthread_create(&b, NULL, busy_b, &sh);
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    pthread_barrier_destroy(&sh.start);
    printf("shared context: A ran %d calls (%d refused), B ran %d (%d refused, %d with the output untouched)\n",
           sh.a_ok, sh.a_busy, sh.b_ok, sh.b_busy, sh.b_busy_untouched);
    if (sh.b_busy == 0) FAIL("a second thread on a context in use was never refused with SA_ERR_CONTEXT_BUSY");
    if (sh.b_busy_untouched != sh.b_busy) FAIL("a refused call wrote its output");
    if (sh.a_ok == 0) FAIL("thread A never ran");
    /* The context works normally afterwards. */
    void *out;
    float *lse;
    sa_status s = run_case(sh.ctx, 0, &out, &lse);
    if (s != SA_OK || !same_result(0, out, lse)) FAIL("context unusable after the race: status %d", (int)s);
    free(out);
    free(lse);
    sa_context_free(sh.ctx);
}

int main(int argc, char **argv) {
    for (int a = 1; a + 1 < argc; a += 2) {
        if (strcmp(argv[a], "--omp-threads") == 0) omp_threads = atoi(argv[a + 1]);
        else if (strcmp(argv[a], "--rounds") == 0) rounds = atoi(argv[a + 1]);
    }
    if (omp_threads < 1) omp_threads = 1;
    /* Reference results: one thread, one 1-thread context, one case at a time. */
    sa_context *ctx1 = sa_context_new(1);
    for (size_t i = 0; i < N_CASES; i++) {
        prepare(i);
        void *out;
        float *lse;
        sa_status s = run_case(ctx1, i, &out, &lse);
        if (s != SA_OK) FAIL("reference run of '%s': %d %s", cases[i].name, (int)s, sa_context_last_error(ctx1));
        memcpy(prep[i].ref_out, out, prep[i].out_bytes);
        memcpy(prep[i].ref_lse, lse, prep[i].lse_count * sizeof(float));
        free(out);
        free(lse);
    }
    /* The sparse cases really are sparse (else this would only test dense twice). */
    sa_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    void *o2 = malloc(prep[2].out_bytes);
    sa_tensor o = prep[2].tout;
    o.data = o2;
    if (sa_attention(ctx1, &prep[2].p, &prep[2].tq, &prep[2].tk, &prep[2].tv, &o, NULL, &st) != SA_OK ||
        st.n_dense_heads == st.n_heads)
        FAIL("case '%s' is not sparse (dense heads %lld of %lld)", cases[2].name, (long long)st.n_dense_heads,
             (long long)st.n_heads);
    free(o2);
    sa_context_free(ctx1);

    pthread_t th[N_WORKERS];
    for (int t = 0; t < N_WORKERS; t++) pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < N_WORKERS; t++) pthread_join(th[t], NULL);
    printf("%d threads x %d rounds x %zu cases on %d-thread contexts: %s\n", N_WORKERS, rounds, N_CASES,
           omp_threads, n_failed ? "FAILED" : "bitwise equal to the one-thread run");

    test_shared_plan();
    test_busy();

    for (size_t i = 0; i < N_CASES; i++) {
        free(prep[i].q); free(prep[i].k); free(prep[i].v); free(prep[i].ref_out); free(prep[i].ref_lse);
    }
    printf("%s\n", n_failed ? "FAILED" : "passed");
    return n_failed ? 1 : 0;
}
