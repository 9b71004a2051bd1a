/* Internal C helpers of libsampleattn (not installed): the OpenMP parallel-for driver,
   dtype row conversion with F16C/AVX2, CPU features, a monotonic clock and atomics.
   Swift imports this header through the module map beside it. */
#ifndef CSAMPLEATTN_H
#define CSAMPLEATTN_H

#include <stdint.h>
#include "sampleattn.h"   /* the public types, shared with the Swift core */

/* A task body: runs task `task` on worker `worker` (0 <= worker < the team size).
   Kernels never know which worker runs them; `worker` only picks a scratch buffer. */
typedef void (*sac_task_fn)(void *env, int64_t task, int32_t worker);

/* Run fn(env, t, worker) for t in [0, n_tasks) on up to n_threads OpenMP threads,
   dynamically scheduled. Returns without spawning threads when n_threads <= 1. On the leader
   of a host team (sac_team_open) the tasks go to the team's threads instead (team.c). */
void sac_parallel_for(int32_t n_threads, int64_t n_tasks, sac_task_fn fn, void *env);
/* The OpenMP driver behind sac_parallel_for (parallel.c). */
void sac_omp_parallel_for(int32_t n_threads, int64_t n_tasks, sac_task_fn fn, void *env);

/* A host thread team of one context (sa_attention_team; team.c). */
typedef struct sac_team sac_team;
sac_team *sac_team_new(void);          /* NULL when out of memory */
void sac_team_free(sac_team *t);
/* Leader (ith 0): open a call for nth threads and wait until the nth - 1 others joined; until
   sac_team_close this thread's sac_parallel_for runs on the team. SA_ERR_INVALID_PARAM for nth
   outside [1, 1024], SA_ERR_CONTEXT_BUSY when a call is already open. */
int32_t sac_team_open(sac_team *t, int32_t nth);
/* 1 when a thread joined the open call with another nth, an ith out of range or a taken ith. */
int32_t sac_team_mismatch(const sac_team *t);
/* Leader: end the call with `status`, wait until every joined thread saw it; returns status. */
int32_t sac_team_close(sac_team *t, int32_t status);
/* Worker (ith != 0): join the next open call, run its tasks as worker ith until the leader
   closes it; returns the call's status (SA_ERR_INVALID_PARAM for a mismatched thread). */
int32_t sac_team_serve(sac_team *t, int32_t ith, int32_t nth);

/* omp_get_max_threads(), or 1 without OpenMP. */
int32_t sac_max_threads(void);
/* 1 if the library was built with OpenMP. */
int32_t sac_has_openmp(void);
/* 1 if the CPU has AVX2, FMA and F16C (what the kernels were compiled for). */
int32_t sac_cpu_has_avx2_fma(void);

/* Convert n elements of dtype (0 f32, 1 f16, 2 bf16) at src to float32, times mul. */
void sac_load_f32(const void *src, int32_t dtype, float *dst, int64_t n, float mul);
/* Convert n float32 to dtype at dst (round to nearest even). */
void sac_store_f32(const float *src, void *dst, int32_t dtype, int64_t n);

/* Monotonic clock in seconds. */
double sac_now_seconds(void);

/* Atomic compare-and-swap of *flag from 0 to 1: returns 1 when taken. */
int32_t sac_try_acquire(int32_t *flag);
void sac_release(int32_t *flag);

/* Static message of a status code (the table behind sa_status_string). */
const char *sac_status_message(int32_t status);
/* "MAJOR.MINOR.PATCH" of the header this library was built from. */
const char *sac_version_string(void);

#endif
