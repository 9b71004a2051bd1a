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
/* Ordered hand-over between tasks: wait until *turn == k (acquire; spins, then yields), and
   set *turn = k (release). A task may only wait for a turn that an earlier-claimed task passes
   (sac_parallel_for hands tasks out in increasing order), so the wait always ends. */
void sac_wait_turn(const int32_t *turn, int32_t k);
void sac_pass_turn(int32_t *turn, int32_t k);
/* A task's part of a count that later tasks wait on with sac_wait_turn(count, n): *count += 1
   (release); the n earlier-claimed tasks that count make it reach n. */
void sac_count_done(int32_t *count);
/* A shared minimum that tasks lower and read while others run (relaxed: a stale read only
   delays a task's stop). */
void sac_lower_to(int64_t *minimum, int64_t value);
int64_t sac_read_shared(const int64_t *value);

/* Static message of a status code (the table behind sa_status_string). */
const char *sac_status_message(int32_t status);
/* "MAJOR.MINOR.PATCH" of the header this library was built from. */
const char *sac_version_string(void);

/* ---------------------------------------------------------------- ISA dispatch (cpu_isa.c) */
/* The kernel ISA of this process (SA_ISA_*), chosen once: the best the CPU and OS support,
   capped by SAMPLEATTN_ISA. 0 when none is usable; sac_isa_error() says why. */
int32_t sac_isa(void);
/* SA_CPU_* bits the CPU and OS support (AMX only if Linux granted tile data permission). */
uint32_t sac_cpu_isa_mask(void);
const char *sac_isa_error(void);

/* ---------------------------------------------------------------- row-tile kernels */
#define SAC_MAX_KEY_BLOCK 256   /* lds of the score scratch never exceeds this */

/* One step of the online softmax for a tile of 6 query rows over key tiles [ta, tb) (relative
   to the block's first key j0, multiples of 16) of one key block [j0, j1): scores, keys outside
   each row's [lo[r], hi[r]) set to -inf, row max, exp2, running sum and rescaled output, then
   O += P V. A row with no key in the block gets P = 0 and keeps its m, l. The Swift kernels of
   BlockAttention.swift do the same; sac_rowtile_ref is their scalar twin. */
typedef struct sac_rowtile {
    const float *q;          /* query tile, q[c*6 + r], in log2 units */
    const float *kt;         /* key tiles from j0: key tile at j0 + k is kt + k*dim */
    const float *v;          /* value rows from j0: v[j*dim + c] */
    const int64_t *lo, *hi;  /* the 6 rows' key ranges, in panel coordinates */
    float *s;                /* [6 x lds] scores, then probabilities */
    float *m, *l;            /* the 6 rows' running max (log2 units) and sum */
    float *o;                /* [6 x dim] unnormalised output */
    int64_t j0, j1;
    int32_t dim, lds, ta, tb;
    int32_t round_p;         /* 1: P rounded to bf16 (after the sum) before the value product */
} sac_rowtile;

typedef void (*sac_rowtile_fn)(const sac_rowtile *t);
void sac_rowtile_ref(const sac_rowtile *t);          /* scalar, any CPU */
void sac_rowtile_avx512(const sac_rowtile *t);       /* SA_ISA_AVX512 and up */
/* Two adjacent row tiles in one call, with the same [ta, tb): rows 6-11 at q + 6*dim (their own
   packed tile), lo + 6, s + 6*lds, m + 6, l + 6, o + 6*dim. Results equal two single calls. */
void sac_rowtile2_ref(const sac_rowtile *t);         /* scalar, any CPU */
void sac_rowtile2_avx512(const sac_rowtile *t);      /* SA_ISA_AVX512 and up */

/* Stage 1's scores of one group of adjacent sampled rows (groupExponentials in
   Stage1Sampling.swift): row r (last key pos0 + r) against keys [0, roundUp(pos0 + rows, 16)),
   and its max over keys 0 ... pos0 + r, folded as the Swift path does (lanes of the 16-key tiles
   every row of a 6-row tile sees in full while scoring, the causal edge after), so the AVX-512
   kernel equals the Swift kernels bit for bit. Scores past a row's last key are scratch. */
typedef struct sac_sample_scores {
    const float *q;          /* the group's query tiles (packQueries): row r at q + r/6*6*dim + r%6, dims 6 apart */
    const float *kt;         /* packed key tiles from key 0 */
    float *s;                /* [rows x lds] scores, in log2 units */
    float *rowmax;           /* out: [rows] */
    int64_t pos0;
    int32_t rows, dim, lds;  /* rows in [1, 256]; lds >= roundUp(pos0 + rows, 16) */
    const uint16_t *kb;      /* sac_sample_scores_amx only: the keys as bf16 (sac_pack_keys_bf16) */
} sac_sample_scores;
typedef void (*sac_sample_scores_fn)(const sac_sample_scores *a);
void sac_sample_scores_ref(const sac_sample_scores *a);      /* scalar, any CPU */
void sac_sample_scores_avx512(const sac_sample_scores *a);   /* SA_ISA_AVX512 and up */
/* SA_ISA_AMX, dim a multiple of 32 (bf16 precision's planning): the same outputs from bf16 Q
   (rounded here) and kb, float32 sums on tiles; scores past each tile's last row's key are not
   written; the max is exact over the row's own scores. Not equal to the float32 kernels. */
void sac_sample_scores_amx(const sac_sample_scores *a);

/* row[j] = 2^(row[j] - shift) for j < n; returns their sum, folded as Swift's exp2InPlace does
   (8 lane sums, hsum, then the tail in order). */
typedef float (*sac_exp2_row_fn)(float *row, int64_t n, float shift);
float sac_exp2_row_ref(float *row, int64_t n, float shift);
float sac_exp2_row_avx512(float *row, int64_t n, float shift);

/* attendPanel's work on one key block [j0, j1) for a whole query block at once, with AMX-BF16
   tiles (SA_ISA_AMX, bf16 precision, dim a multiple of 32, rows <= 96): per 16-row tile, the
   union of its rows' ranges, S = Q K^T on tiles, the online softmax (exp2v's polynomial, P
   rounded to bf16 after the sum), O += P V on tiles. Rows past `rows` up to the tile are scratch (never read). */
typedef struct sac_block {
    const uint16_t *qa;      /* query rows, bf16 [ceil16(rows) x dim] (sac_pack_query_rows_bf16) */
    const uint16_t *kb;      /* keys from j0 in pairs of dims (sac_pack_block_bf16) */
    const uint16_t *vb;      /* values from j0 in pairs of keys (sac_pack_block_bf16) */
    const int64_t *lo, *hi;  /* per row key range, panel coordinates */
    float *s;                /* [ceil16(rows) x lds] scores, then probabilities */
    float *m, *l, *o;        /* running max, sum, output rows [ceil16(rows) x dim] */
    int64_t j0, j1;
    int32_t rows, dim, lds;
} sac_block;
typedef void (*sac_block_fn)(const sac_block *b);
void sac_attend_block_amx(const sac_block *b);
/* The operand layouts of sac_attend_block_amx (values rounded to bf16, nearest even): packQueries'
   tiles of `rows` rows as bf16 rows (zero up to a multiple of 16); keys [ka, kb) of a key block
   as kb[k*dim + c/2*32 + jj*2 + c%2] (tile k, dim c, key jj), values as
   vb[(j/2*dim + c)*2 + j%2] from ka rounded down to 32 up to kb rounded up to 32 (zero past kb). */
void sac_pack_query_rows_bf16(const float *q, int32_t rows, int32_t dim, uint16_t *qa);
void sac_pack_block_bf16(const float *kt, const float *v, int32_t dim, int32_t ka, int32_t kb,
                         uint16_t *kbuf, uint16_t *vbuf);
/* sac_pack_block_bf16's keys alone (rounded to bf16, nearest even). */
void sac_pack_keys_bf16(const float *kt, int32_t dim, int32_t ka, int32_t kb, uint16_t *kbuf);
/* x[i] = x rounded to bf16 (nearest even), in place. */
void sac_round_bf16(float *x, int64_t n);
/* The Swift exp2v and bf16 rounding, one value (for tests). */
float sac_exp2_ref(float x);
float sac_bf16_round_ref(float x);

#endif
