/* Run-time choice of the kernel ISA: what the CPU has (cpuid), what the OS saves on a context
   switch (XCR0), and on Linux the permission to use AMX tile data. Chosen once per process.
   Every function here is compiled for baseline x86-64 (the target attribute below overrides the
   target's -march=x86-64-v3), so the check itself runs on any x86-64 CPU. */
#include "csampleattn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#if defined(__linux__)
#include <unistd.h>
#include <sys/syscall.h>
#endif

#if defined(__x86_64__)
#define SAC_BASELINE __attribute__((target("arch=x86-64")))
#else
#define SAC_BASELINE
#endif

#if defined(__x86_64__)
SAC_BASELINE static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

SAC_BASELINE static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Linux keeps AMX tile data off until a process asks (arch_prctl ARCH_REQ_XCOMP_PERM for
   XFEATURE_XTILEDATA); a refused request means no AMX. */
SAC_BASELINE static int amx_permitted(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    const long req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    return syscall(SYS_arch_prctl, req_xcomp_perm, xfeature_xtiledata) == 0;
#else
    return 0;
#endif
}

SAC_BASELINE static uint32_t detect(void) {
    uint32_t r[4], mask = 0;
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    if (max_leaf < 7) return 0;
    cpuid(1, 0, r);
    int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, f16c = (r[2] >> 29) & 1;
    if (!osxsave || !avx) return 0;
    uint64_t x = xcr0();
    int ymm_state = (x & 0x6) == 0x6;                 /* SSE and AVX state */
    int zmm_state = ymm_state && (x & 0xe0) == 0xe0;  /* opmask, ZMM_Hi256, Hi16_ZMM */
    int tile_state = (x & 0x60000) == 0x60000;        /* XTILECFG (17) and XTILEDATA (18) */
    cpuid(7, 0, r);
    uint32_t b7 = r[1], d7 = r[3], max_sub7 = r[0];
    int avx2 = (b7 >> 5) & 1;
    int avx512 = ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1); /* F, DQ, BW, VL */
    int amx_tile = (d7 >> 24) & 1, amx_bf16 = (d7 >> 22) & 1;
    int avx512_bf16 = 0;
    if (max_sub7 >= 1) { cpuid(7, 1, r); avx512_bf16 = (r[0] >> 5) & 1; }
    if (ymm_state && avx2 && fma && f16c) mask |= SA_CPU_AVX2;
    if ((mask & SA_CPU_AVX2) && zmm_state && avx512) {
        mask |= SA_CPU_AVX512;
        if (avx512_bf16) mask |= SA_CPU_AVX512_BF16;
        if (amx_tile && amx_bf16 && tile_state && amx_permitted()) mask |= SA_CPU_AMX_BF16;
    }
    return mask;
}
#else
static uint32_t detect(void) { return 0; }
#endif

static struct {
    uint32_t cpu_mask;   /* SA_CPU_* bits the CPU and OS support */
    int32_t isa;         /* SA_ISA_* chosen, 0 = none usable */
    char error[256];     /* why isa is 0 */
} chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

/* The best level within what the CPU offers. */
SAC_BASELINE static int32_t best_level(uint32_t mask) {
    if (mask & SA_CPU_AMX_BF16) return SA_ISA_AMX;
    if (mask & SA_CPU_AVX512) return SA_ISA_AVX512;
    if (mask & SA_CPU_AVX2) return SA_ISA_AVX2;
    return 0;
}

SAC_BASELINE static void choose(void) {
    uint32_t mask = detect();
    /* Test hook (documented as test-only): hides CPU features, so the refusals can be tested
       on any machine. */
    const char *hide = getenv("SAMPLEATTN_TEST_CPU_MASK");
    if (hide && *hide) mask &= (uint32_t)strtoul(hide, NULL, 0);
    chosen.cpu_mask = mask;
    if (!(mask & SA_CPU_AVX2)) {
        snprintf(chosen.error, sizeof chosen.error,
                 "this CPU lacks AVX2, FMA or F16C (or the OS does not enable AVX state); "
                 "libsampleattn needs at least x86-64-v3");
        return;
    }
    int32_t level = best_level(mask);
    const char *force = getenv("SAMPLEATTN_ISA");
    if (force && *force) {
        int32_t want = strcmp(force, "avx2") == 0 ? SA_ISA_AVX2
                     : strcmp(force, "avx512") == 0 ? SA_ISA_AVX512
                     : strcmp(force, "amx") == 0 ? SA_ISA_AMX : -1;
        uint32_t need = want == SA_ISA_AVX2 ? SA_CPU_AVX2 : want == SA_ISA_AVX512 ? SA_CPU_AVX512
                      : SA_CPU_AMX_BF16;
        if (want < 0) {
            snprintf(chosen.error, sizeof chosen.error,
                     "SAMPLEATTN_ISA=%.32s is not one of avx2, avx512, amx", force);
            return;
        }
        if (!(mask & need)) {
            snprintf(chosen.error, sizeof chosen.error,
                     "SAMPLEATTN_ISA=%s asks for an ISA this CPU (or OS) lacks; it supports up to %s",
                     force, level == SA_ISA_AMX ? "amx" : level == SA_ISA_AVX512 ? "avx512" : "avx2");
            return;
        }
        if (want < level) level = want;
    }
    chosen.isa = level;
}

SAC_BASELINE int32_t sac_isa(void) {
    pthread_once(&chosen_once, choose);
    return chosen.isa;
}

SAC_BASELINE uint32_t sac_cpu_isa_mask(void) {
    pthread_once(&chosen_once, choose);
    return chosen.cpu_mask;
}

SAC_BASELINE const char *sac_isa_error(void) {
    pthread_once(&chosen_once, choose);
    return chosen.error;
}
