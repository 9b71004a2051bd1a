/* OpenMP parallel-for driver. Only this file knows about OpenMP: the Swift kernels take a
   task index and a worker slot. We never change the host's OpenMP settings (ICVs); the
   team size is passed per region with num_threads. */
#include "csampleattn.h"

#ifdef _OPENMP
/* Declared here instead of including omp.h: Swift's clang ships no omp.h. */
extern int omp_get_thread_num(void);
extern int omp_get_max_threads(void);
#endif

void sac_omp_parallel_for(int32_t n_threads, int64_t n_tasks, sac_task_fn fn, void *env) {
    if (n_tasks <= 0) return;
#ifdef _OPENMP
    if (n_threads > 1 && n_tasks > 1) {
        int team = n_threads < n_tasks ? n_threads : (int)n_tasks;
        /* Dynamic scheduling by a shared atomic counter rather than schedule(dynamic): newer
           clang emits runtime entries (__kmpc_dispatch_deinit) that Debian's libomp 14 lacks. */
        int64_t next = 0;
        #pragma omp parallel num_threads(team)
        {
            int32_t worker = (int32_t)omp_get_thread_num();
            for (;;) {
                int64_t t = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
                if (t >= n_tasks) break;
                fn(env, t, worker);
            }
        }
        return;
    }
#endif
    (void)n_threads;
    for (int64_t t = 0; t < n_tasks; t++) fn(env, t, 0);
}

int32_t sac_max_threads(void) {
#ifdef _OPENMP
    return (int32_t)omp_get_max_threads();
#else
    return 1;
#endif
}

int32_t sac_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
