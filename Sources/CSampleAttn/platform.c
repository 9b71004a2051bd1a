/* Small platform services: CPU features, a monotonic clock, a context's busy flag, ordered turns,
   a shared minimum. */
#include "csampleattn.h"
#include <sched.h>
#include <time.h>

int32_t sac_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

double sac_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int32_t sac_try_acquire(int32_t *flag) {
    int32_t expected = 0;
    return __atomic_compare_exchange_n(flag, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED) ? 1 : 0;
}

void sac_release(int32_t *flag) { __atomic_store_n(flag, 0, __ATOMIC_RELEASE); }

void sac_wait_turn(const int32_t *turn, int32_t k) {
    for (int spins = 0; __atomic_load_n(turn, __ATOMIC_ACQUIRE) != k; spins++) {
        if (spins < 1000) {
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        } else {
            sched_yield();   /* the turn's holder may be waiting for a CPU */
        }
    }
}

void sac_pass_turn(int32_t *turn, int32_t k) { __atomic_store_n(turn, k, __ATOMIC_RELEASE); }

void sac_count_done(int32_t *count) { __atomic_fetch_add(count, 1, __ATOMIC_RELEASE); }

void sac_lower_to(int64_t *minimum, int64_t value) {
    int64_t seen = __atomic_load_n(minimum, __ATOMIC_RELAXED);
    while (value < seen &&
           !__atomic_compare_exchange_n(minimum, &seen, value, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

int64_t sac_read_shared(const int64_t *value) { return __atomic_load_n(value, __ATOMIC_RELAXED); }
