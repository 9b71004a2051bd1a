/* Host thread teams (sa_attention_team): one call runs on the nth threads of the host's own
   pool. Thread 0 leads and runs the call; each sac_parallel_for it reaches is published to the
   team instead of opening an OpenMP region, and every thread takes tasks from one counter with
   worker = its ith. Same tasks, same per-task arithmetic as OpenMP: the same bits. */
#include "csampleattn.h"

#include <sched.h>
#include <stdlib.h>

#define TEAM_MAX_THREADS 1024
#define SPINS_BEFORE_YIELD 4096

/* A region's tasks: read by workers while the leader may write the other slot. */
typedef struct {
    sac_task_fn fn;
    void *env;
    int64_t n_tasks;
} region_desc;

struct sac_team {
    int32_t leading;      /* 1 while a leader holds the team (open to close) */
    uint64_t opened;      /* calls opened so far: the id of the open (or last) call */
    uint64_t closed;      /* id of the last closed call; opened > closed while a call is open */
    int32_t nth;          /* team size of the open call */
    int32_t status;       /* the closed call's status, read by its workers */
    int32_t arrived;      /* workers checked in to the open call */
    int32_t departed;     /* workers that saw the close */
    int32_t mismatch;     /* a worker came with another nth, an ith out of range or a taken ith */
    /* The current region: its tag in the high 32 bits, the next unclaimed task in the low 32.
       A claim is a compare-and-swap on both, so a slow worker never takes a task of a later
       region; that region's description lives in desc[tag & 1]. */
    uint64_t region;
    region_desc desc[2];
    int64_t done;         /* tasks of the current region finished */
    uint64_t joined[TEAM_MAX_THREADS];   /* per ith: the id of the last call that slot joined */
};

/* The team this thread leads (its sac_parallel_for goes to the team), and whether it is in a
   team call at all (a region nested in a task then runs inline, as in OpenMP). */
static _Thread_local sac_team *tl_leading;
static _Thread_local int32_t tl_in_team;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define LOAD_RELAXED(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE_RELAXED(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static void pause_or_yield(int *spins) {
    if (++*spins < SPINS_BEFORE_YIELD) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

sac_team *sac_team_new(void) { return calloc(1, sizeof(sac_team)); }

void sac_team_free(sac_team *t) { free(t); }

/* Claims and runs tasks of the region tagged `tag` until none is left. */
static void run_region_tasks(sac_team *t, uint32_t tag, int32_t worker) {
    uint64_t word = LOAD(t->region);
    for (;;) {
        if ((uint32_t)(word >> 32) != tag) return;
        const region_desc *d = &t->desc[tag & 1];
        int64_t n = LOAD_RELAXED(d->n_tasks);
        uint64_t task = word & 0xffffffffu;
        if ((int64_t)task >= n) return;
        sac_task_fn fn = LOAD_RELAXED(d->fn);
        void *env = LOAD_RELAXED(d->env);
        /* Success means the region is still `tag` and task is ours: the leader cannot finish
           this region, let alone rewrite its description, before we mark the task done. */
        if (!__atomic_compare_exchange_n(&t->region, &word, word + 1, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            continue;
        fn(env, (int64_t)task, worker);
        __atomic_fetch_add(&t->done, 1, __ATOMIC_RELEASE);
        word = LOAD(t->region);
    }
}

/* The leader's sac_parallel_for: publish, take tasks as worker 0, wait for all to finish. */
static void team_parallel_for(sac_team *t, int64_t n_tasks, sac_task_fn fn, void *env) {
    if (t->nth == 1 || n_tasks == 1 || n_tasks > (int64_t)0xffffffff) {
        for (int64_t i = 0; i < n_tasks; i++) fn(env, i, 0);
        return;
    }
    uint32_t tag = (uint32_t)(LOAD_RELAXED(t->region) >> 32) + 1;
    region_desc *d = &t->desc[tag & 1];
    STORE_RELAXED(d->fn, fn);
    STORE_RELAXED(d->env, env);
    STORE_RELAXED(d->n_tasks, n_tasks);
    STORE_RELAXED(t->done, 0);
    STORE(t->region, (uint64_t)tag << 32);
    tl_leading = NULL;   /* a region nested in a task runs inline */
    run_region_tasks(t, tag, 0);
    tl_leading = t;
    int spins = 0;
    while (LOAD(t->done) < n_tasks) pause_or_yield(&spins);
}

void sac_parallel_for(int32_t n_threads, int64_t n_tasks, sac_task_fn fn, void *env) {
    if (n_tasks <= 0) return;
    if (tl_leading) {
        team_parallel_for(tl_leading, n_tasks, fn, env);
    } else if (tl_in_team) {
        for (int64_t i = 0; i < n_tasks; i++) fn(env, i, 0);
    } else {
        sac_omp_parallel_for(n_threads, n_tasks, fn, env);
    }
}

static int32_t valid_team_size(int32_t nth) { return nth >= 1 && nth <= TEAM_MAX_THREADS; }

int32_t sac_team_open(sac_team *t, int32_t nth) {
    if (!valid_team_size(nth)) return SA_ERR_INVALID_PARAM;
    if (!sac_try_acquire(&t->leading)) return SA_ERR_CONTEXT_BUSY;
    STORE_RELAXED(t->nth, nth);
    STORE_RELAXED(t->arrived, 0);
    STORE_RELAXED(t->departed, 0);
    STORE_RELAXED(t->mismatch, 0);
    STORE(t->opened, LOAD_RELAXED(t->opened) + 1);
    int spins = 0;
    while (LOAD(t->arrived) < nth - 1) pause_or_yield(&spins);
    tl_leading = t;
    tl_in_team = 1;
    return SA_OK;
}

int32_t sac_team_mismatch(const sac_team *t) { return LOAD(t->mismatch); }

int32_t sac_team_close(sac_team *t, int32_t status) {
    tl_leading = NULL;
    tl_in_team = 0;
    uint64_t id = LOAD_RELAXED(t->opened);
    STORE(t->status, status);
    STORE(t->closed, id);
    int spins = 0;
    while (LOAD(t->departed) < LOAD(t->arrived)) pause_or_yield(&spins);
    sac_release(&t->leading);
    return status;
}

int32_t sac_team_serve(sac_team *t, int32_t ith, int32_t nth) {
    if (!valid_team_size(nth)) return SA_ERR_INVALID_PARAM;
    /* Join the open call (the previous one closed before this thread's host let it in). An ith
       out of range joins as a spare that only waits for the close; so does a second ith. */
    int32_t slot = ith > 0 && ith < nth ? ith : 0;
    uint64_t id;
    int spins = 0;
    while ((id = LOAD(t->opened)) == LOAD(t->closed)) pause_or_yield(&spins);
    uint32_t seen = (uint32_t)(LOAD(t->region) >> 32);
    int32_t ok = slot != 0 && nth == LOAD_RELAXED(t->nth)
        && __atomic_exchange_n(&t->joined[slot], id, __ATOMIC_ACQ_REL) != id;
    if (!ok) STORE(t->mismatch, 1);
    __atomic_fetch_add(&t->arrived, 1, __ATOMIC_ACQ_REL);

    tl_in_team = 1;
    spins = 0;
    for (;;) {
        if (LOAD(t->closed) == id) break;
        uint32_t tag = (uint32_t)(LOAD(t->region) >> 32);
        if (tag != seen) {
            if (ok) run_region_tasks(t, tag, ith);
            seen = tag;
            spins = 0;
        } else {
            pause_or_yield(&spins);
        }
    }
    tl_in_team = 0;
    int32_t status = ok ? LOAD(t->status) : SA_ERR_INVALID_PARAM;
    __atomic_fetch_add(&t->departed, 1, __ATOMIC_ACQ_REL);
    return status;
}
