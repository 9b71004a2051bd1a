/*
 * Host thread teams (sa_attention_team):
 *  1. nth = 1..4 pthreads calling it together give out, lse and stats bitwise equal to
 *     sa_attention on a 1-thread context: dense, sample and slash modes, GQA, chunked prefill
 *     (S_q < S_k), token-major layouts and ggml-like strided ones (f16 K/V inside a larger cache,
 *     head-major f32 Q). One context serves all team sizes, call after call.
 *  2. Errors return on every thread without hanging and write nothing: nth out of range, threads
 *     with different nth, an ith out of range or twice, the leader's validation failure, a second
 *     team call while one is open.
 */
#include "test_support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NTH 4

typedef struct {
    int64_t sq, sk, hq, hkv, dim;
    int strided;
    sa_tensor q, k, v, out;
    float *lse;
    void *qbuf, *kbuf, *vbuf, *obuf;
} problem;

/* float -> f16 bits by truncation (any f16 data will do; tiny values flush to zero). */
static uint16_t to_f16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000);
    int32_t e = (int32_t)((b >> 23) & 0xff) - 127 + 15;
    if (e <= 0) return sign;
    return (uint16_t)(sign | (uint32_t)e << 10 | ((b >> 13) & 0x3ff));
}

/* Token-major f32 Q/K/V/out, or ggml-like: Q head-major, K/V f16 rows of a cache of 2*sk
   tokens with padding between heads' blocks, out with a token stride larger than H*d. */
static void make_problem(problem *p, int64_t sq, int64_t sk, int64_t hq, int64_t hkv, int64_t dim,
                         int strided, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->sq = sq; p->sk = sk; p->hq = hq; p->hkv = hkv; p->dim = dim; p->strided = strided;
    rng_state = seed;
    int64_t kv_tokens = strided ? 2 * sk : sk, kv_stride = strided ? hkv * dim + 8 : hkv * dim;
    size_t kv_elems = (size_t)(kv_tokens * kv_stride), el = strided ? 2 : 4;
    p->qbuf = malloc((size_t)(sq * hq * dim) * 4);
    p->kbuf = malloc(kv_elems * el);
    p->vbuf = malloc(kv_elems * el);
    int64_t out_stride = strided ? hq * dim + 16 : hq * dim;
    p->obuf = malloc((size_t)(sq * out_stride) * 4);
    p->lse = malloc((size_t)(hq * sq) * 4);
    for (int64_t i = 0; i < sq * hq * dim; i++) ((float *)p->qbuf)[i] = 2.0f * uniform();
    for (size_t i = 0; i < kv_elems; i++) {
        float a = 2.0f * uniform(), b = uniform();
        if (strided) { ((uint16_t *)p->kbuf)[i] = to_f16(a); ((uint16_t *)p->vbuf)[i] = to_f16(b); }
        else { ((float *)p->kbuf)[i] = a; ((float *)p->vbuf)[i] = b; }
    }
    sa_tensor q = {p->qbuf, SA_DTYPE_F32, 0, sq, hq, dim, 0, 0};
    if (strided) { q.stride_token = dim; q.stride_head = sq * dim; }
    sa_tensor k = {p->kbuf, strided ? SA_DTYPE_F16 : SA_DTYPE_F32, 0, sk, hkv, dim, kv_stride, dim};
    sa_tensor v = k;
    v.data = p->vbuf;
    sa_tensor out = {p->obuf, SA_DTYPE_F32, 0, sq, hq, dim, out_stride, dim};
    p->q = q; p->k = k; p->v = v; p->out = out;
}

static void free_problem(problem *p) {
    free(p->qbuf); free(p->kbuf); free(p->vbuf); free(p->obuf); free(p->lse);
}

static size_t out_bytes(const problem *p) { return (size_t)(p->sq * p->out.stride_token) * 4; }

/* ---------------------------------------------------------------- team runs */
typedef struct {
    sa_context *ctx;
    const sa_params *params;
    const problem *p;
    const sa_tensor *q;       /* the leader may get another q (validation failures) */
    sa_stats *stats;
    int32_t ith, nth;
    sa_status status;
} member;

static void *member_main(void *arg) {
    member *m = arg;
    const problem *p = m->p;
    sa_status s = sa_attention_team(m->ctx, m->params, m->q, &p->k, &p->v, &p->out, p->lse,
                                  m->stats, m->ith, m->nth);
    __atomic_store_n(&m->status, s, __ATOMIC_RELEASE);
    return NULL;
}

/* Runs the members on their own threads and waits for all of them. */
static void run_members(member *ms, int n) {
    pthread_t th[8];
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, member_main, &ms[i]);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}

static int same_stats(const sa_stats *a, const sa_stats *b) {
    return a->mode == b->mode && a->n_heads == b->n_heads && a->n_dense_heads == b->n_dense_heads
        && a->kept_entries == b->kept_entries && a->causal_entries == b->causal_entries
        && memcmp(&a->density, &b->density, sizeof a->density) == 0
        && memcmp(&a->cra_estimate, &b->cra_estimate, sizeof a->cra_estimate) == 0
        && a->fallback_reason == b->fallback_reason;
}

static void check_case(sa_context *team_ctx, const char *name, int32_t mode, int64_t sq, int64_t sk,
                       int64_t hq, int64_t hkv, int strided) {
    problem p;
    make_problem(&p, sq, sk, hq, hkv, 64, strided, 7 + (uint64_t)(sq * 31 + sk + mode));
    sa_params params;
    sa_params_default(&params);
    params.mode = mode;
    params.flags = SA_FLAG_FORCE_SPARSE;   /* small shapes: keep the sparse path */
    if (mode == SA_MODE_SAMPLE_SLASH) params.block_size = 32;
    /* Random data: at alpha 0.95 the seed mask keeps nearly every key; 0.8 keeps a sparse one. */
    if (mode == SA_MODE_SAMPLE) params.alpha = 0.8f;

    /* Reference: sa_attention on one thread (out's padding between tokens stays 0xff). */
    size_t ob = out_bytes(&p), lb = (size_t)(hq * sq) * 4;
    memset(p.obuf, 0xff, ob);
    sa_context *one = sa_context_new(1);
    sa_stats ref_stats = {.struct_size = sizeof(sa_stats)};
    CHECK_STATUS(sa_attention(one, &params, &p.q, &p.k, &p.v, &p.out, p.lse, &ref_stats), SA_OK);
    sa_context_free(one);
    void *ref_out = malloc(ob), *ref_lse = malloc(lb);
    memcpy(ref_out, p.obuf, ob);
    memcpy(ref_lse, p.lse, lb);
    CHECK(ref_stats.mode != SA_MODE_DENSE ? ref_stats.density < 1.0 : 1, "%s: sparse path expected", name);

    for (int32_t nth = 1; nth <= MAX_NTH; nth++) {
        memset(p.obuf, 0xff, ob);
        memset(p.lse, 0xff, lb);
        member ms[MAX_NTH];
        sa_stats st[MAX_NTH];
        for (int32_t i = 0; i < nth; i++) {
            st[i] = (sa_stats){.struct_size = sizeof(sa_stats)};
            ms[i] = (member){team_ctx, &params, &p, &p.q, &st[i], i, nth, -1};
        }
        run_members(ms, nth);
        for (int32_t i = 0; i < nth; i++)
            CHECK(ms[i].status == SA_OK, "%s nth %d ith %d: status %d", name, nth, i, ms[i].status);
        CHECK(memcmp(p.obuf, ref_out, ob) == 0, "%s nth %d: out differs from sa_attention", name, nth);
        CHECK(memcmp(p.lse, ref_lse, lb) == 0, "%s nth %d: lse differs from sa_attention", name, nth);
        CHECK(same_stats(&st[0], &ref_stats), "%s nth %d: stats differ", name, nth);
        CHECK(st[0].n_threads == nth, "%s: stats n_threads %d, expected %d", name, st[0].n_threads, nth);
    }
    free(ref_out); free(ref_lse);
    free_problem(&p);
}

/* ---------------------------------------------------------------- errors */
static void check_errors(sa_context *ctx) {
    problem p;
    make_problem(&p, 64, 128, 2, 1, 64, 0, 99);
    size_t ob = out_bytes(&p);
    unsigned char *sentinel = malloc(ob);
    memset(p.obuf, 0x5a, ob);
    memcpy(sentinel, p.obuf, ob);

    /* nth out of range: refused at once (a lone thread returns). */
    CHECK_STATUS(sa_attention_team(ctx, NULL, &p.q, &p.k, &p.v, &p.out, NULL, NULL, 0, 0), SA_ERR_INVALID_PARAM);
    CHECK_STATUS(sa_attention_team(ctx, NULL, &p.q, &p.k, &p.v, &p.out, NULL, NULL, 1, 2000), SA_ERR_INVALID_PARAM);
    CHECK_STATUS(sa_attention_team(NULL, NULL, &p.q, &p.k, &p.v, &p.out, NULL, NULL, 0, 1), SA_ERR_NULL_ARGUMENT);

    /* Team mismatches: every thread gets SA_ERR_INVALID_PARAM, out untouched. */
    struct { const char *what; int n; int32_t ith[3], nth[3]; } bad[] = {
        {"nth 2 vs 3", 2, {0, 1}, {2, 3}},
        {"nth 3 vs 2", 3, {0, 1, 2}, {3, 3, 2}},
        {"ith 5 of 2", 2, {0, 5}, {2, 2}},
        {"ith -1 of 2", 2, {0, -1}, {2, 2}},
        {"ith 1 twice", 3, {0, 1, 1}, {3, 3, 3}},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        member ms[3];
        for (int i = 0; i < bad[b].n; i++) ms[i] = (member){ctx, NULL, &p, &p.q, NULL, bad[b].ith[i], bad[b].nth[i], -1};
        run_members(ms, bad[b].n);
        for (int i = 0; i < bad[b].n; i++)
            CHECK(ms[i].status == SA_ERR_INVALID_PARAM, "%s: thread %d status %d", bad[b].what, i, ms[i].status);
        CHECK(memcmp(p.obuf, sentinel, ob) == 0, "%s: out was written", bad[b].what);
    }

    /* The leader fails validation: its workers are released with the same status. */
    sa_tensor bad_q = p.q;
    bad_q.head_dim = 60;
    member ms[3];
    for (int i = 0; i < 3; i++) ms[i] = (member){ctx, NULL, &p, i == 0 ? &bad_q : &p.q, NULL, i, 3, -1};
    run_members(ms, 3);
    for (int i = 0; i < 3; i++)
        CHECK(ms[i].status == SA_ERR_UNSUPPORTED_HEAD_DIM, "bad head_dim: thread %d status %d", i, ms[i].status);
    ms[0].q = NULL;
    run_members(ms, 3);
    for (int i = 0; i < 3; i++)
        CHECK(ms[i].status == SA_ERR_NULL_ARGUMENT, "q NULL: thread %d status %d", i, ms[i].status);
    CHECK(memcmp(p.obuf, sentinel, ob) == 0, "failed validation: out was written");

    /* A second team call while one is open (its leader waits for a late worker): refused. A
       probe that ran just before the leader opened can make the leader the refused one; then
       no worker is started for it and the round is repeated. */
    int refused = 0, open_ok = 0;
    for (int round = 0; round < 5 && !refused; round++) {
        member lead = {ctx, NULL, &p, &p.q, NULL, 0, 2, -1}, late = {ctx, NULL, &p, &p.q, NULL, 1, 2, -1};
        pthread_t lt, wt;
        pthread_create(&lt, NULL, member_main, &lead);
        nanosleep(&(struct timespec){0, 20000000}, NULL);
        sa_status second = sa_attention_team(ctx, NULL, &p.q, &p.k, &p.v, &p.out, NULL, NULL, 0, 1);
        if (__atomic_load_n(&lead.status, __ATOMIC_ACQUIRE) == SA_ERR_CONTEXT_BUSY) {
            pthread_join(lt, NULL);
            continue;
        }
        refused = second == SA_ERR_CONTEXT_BUSY;
        pthread_create(&wt, NULL, member_main, &late);
        pthread_join(lt, NULL);
        pthread_join(wt, NULL);
        open_ok = lead.status == SA_OK && late.status == SA_OK;
    }
    CHECK(refused, "a second team call while one is open was not refused");
    CHECK(open_ok, "the open call did not succeed");

    free(sentinel);
    free_problem(&p);
}

int main(void) {
    sa_context *ctx = sa_context_new(1);
    CHECK(ctx != NULL, "sa_context_new");
    for (int round = 0; round < 2; round++) {
        check_case(ctx, "dense", SA_MODE_DENSE, 300, 300, 4, 2, 0);
        check_case(ctx, "sample", SA_MODE_SAMPLE, 384, 384, 4, 2, 0);
        check_case(ctx, "slash", SA_MODE_SAMPLE_SLASH, 384, 384, 4, 1, 0);
        check_case(ctx, "sample chunked strided", SA_MODE_SAMPLE, 128, 512, 4, 2, 1);
        check_case(ctx, "dense chunked strided", SA_MODE_DENSE, 100, 357, 6, 2, 1);
        check_case(ctx, "slash chunked strided", SA_MODE_SAMPLE_SLASH, 160, 480, 4, 4, 1);
    }
    check_errors(ctx);
    sa_context_free(ctx);
    printf("%s: %d checks, %d failed\n", n_failed ? "FAIL" : "ok", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
