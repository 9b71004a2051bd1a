/* Shared by the C tests: CHECK macros with their counters, and reproducible random inputs. */
#ifndef SA_TEST_SUPPORT_H
#define SA_TEST_SUPPORT_H

#include <stdint.h>
#include <stdio.h>

#include "sampleattn.h"

static int n_checks, n_failed;

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

/* SplitMix64: reproducible inputs, uniform in [-1, 1). Assign rng_state to reseed. */
static uint64_t rng_state = 1;
static inline float uniform(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) / (float)(1 << 23) - 1.0f;
}

#endif
