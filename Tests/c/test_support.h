/* Shared by the C tests: CHECK macros with their counters (safe from several threads), a
   reproducible random generator, views of caller memory and a clock. */
#ifndef SA_TEST_SUPPORT_H
#define SA_TEST_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sampleattn.h"

static _Atomic int n_checks, n_failed;

/* Counts a failure; prints where and a printf-style message. */
#define FAIL(...)                                                                   \
    do {                                                                            \
        n_failed++;                                                                 \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
    } while (0)

/* Counts a check; on failure prints where, the condition and a printf-style message. */
#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        n_checks++;                                                                 \
        if (!(cond)) {                                                              \
            n_failed++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
        }                                                                           \
    } while (0)

#define CHECK_STATUS(call, expected)                                                \
    do {                                                                            \
        sa_status got_ = (call);                                                    \
        CHECK(got_ == (expected), "%s returned %d (%s), expected %d (%s)", #call,   \
              (int)got_, sa_status_string(got_), (int)(expected),                   \
              sa_status_string(expected));                                          \
    } while (0)

/* One SplitMix64 step of *state: reproducible inputs from a seed. */
static inline uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1) from a SplitMix64 value. */
static inline float uniform_from(uint64_t bits) { return (float)(bits >> 40) / (float)(1 << 23) - 1.0f; }

/* Uniform in [-1, 1) from the shared generator; assign rng_state to reseed. */
static uint64_t rng_state = 1;
static inline float uniform(void) { return uniform_from(splitmix64(&rng_state)); }

/* A view of data as [tokens, heads, dim]: token-major (strides 0) or head-major. */
static inline sa_tensor view_of(void *data, sa_dtype dtype, int64_t tokens, int64_t heads, int64_t dim,
                                int head_major) {
    sa_tensor v;
    memset(&v, 0, sizeof v);
    v.data = data;
    v.dtype = dtype;
    v.n_tokens = tokens;
    v.n_heads = heads;
    v.head_dim = dim;
    if (head_major) { v.stride_token = dim; v.stride_head = tokens * dim; }
    return v;
}

/* Seconds of a monotonic clock where POSIX provides one (else of the C11 wall clock). */
static inline double now_seconds(void) {
    struct timespec ts;
#if defined(CLOCK_MONOTONIC)
    clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    timespec_get(&ts, TIME_UTC);
#endif
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
