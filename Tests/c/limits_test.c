/*
 * Limits test of libsampleattn.
 *
 *  1. Sizes whose index or workspace arithmetic would overflow are refused with SA_ERR_OVERFLOW
 *     before any memory is read (sizes/strides >= 2^40, views over 2^47 bytes, H_q*S_q*S_k
 *     beyond int64), by sa_attention and sa_plan_create.
 *  2. The context memory limit: SA_ERR_OUT_OF_MEMORY with a message naming the bytes, output,
 *     lse and stats untouched; the workspace a call needs is found by raising the limit to what
 *     the messages ask for, and the call succeeds with exactly that limit and fails one byte below.
 *  3. Real allocation failure: a valid problem whose workspace cannot be allocated (S_k = 2^36
 *     keys of real, lazily mapped memory) returns SA_ERR_OUT_OF_MEMORY.
 *  4. Under a real address-space limit (setrlimit(RLIMIT_AS), what `ulimit -v` sets), in a child
 *     process: inputs fit, the workspace does not -> SA_ERR_OUT_OF_MEMORY, output untouched;
 *     small calls still work; after lifting the limit the same call succeeds.
 *     (Skipped under AddressSanitizer, whose shadow memory needs terabytes of address space.)
 *  5. Tensor data needs no alignment: views one byte off their element alignment give the same bits
 *     as aligned copies (UBSan in `make test-sanitize` flags any misaligned access).
 *
 *   sa_limits_test                      run the tests
 *   sa_limits_test --rlimit-child       (internal) part 4
 *   sa_limits_test --workspace S_K H_Q H_KV D THREADS
 *                                       print the workspace bytes of dense and sample calls
 */
#define _GNU_SOURCE
#include "sampleattn.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#if defined(__SANITIZE_ADDRESS__)
#define SA_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SA_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SA_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SA_UNDER_TSAN 1
#endif
#endif

#include "test_support.h"

/* Lazily mapped zero memory: the pages a reader touches cost one shared zero page each. */
static void *map_lazy(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---------------------------------------------------------------- 1. overflow */
static void expect_overflow(const char *what, sa_tensor q, sa_tensor k, sa_tensor v) {
    sa_context *ctx = sa_context_new(1);
    float out_buf[64], lse_buf[16];
    memset(out_buf, 0x5A, sizeof out_buf);
    memset(lse_buf, 0x5A, sizeof lse_buf);
    sa_tensor o = q;
    o.data = out_buf;
    o.dtype = SA_DTYPE_F32;
    for (int mode = 0; mode < 2; mode++) {
        sa_params p;
        sa_params_default(&p);
        p.mode = mode;
        sa_status s = sa_attention(ctx, &p, &q, &k, &v, &o, NULL, NULL);
        CHECK(s == SA_ERR_OVERFLOW, "%s, mode %d: status %d (%s): %s", what, mode, (int)s, sa_status_string(s),
              sa_context_last_error(ctx));
        CHECK(sa_context_last_error(ctx)[0] != '\0', "%s: no message", what);
        sa_plan *plan = (sa_plan *)(uintptr_t)0x1234;
        s = sa_plan_create(ctx, &p, &q, &k, &plan);
        CHECK(s == SA_ERR_OVERFLOW && plan == (sa_plan *)(uintptr_t)0x1234, "%s, plan_create: status %d", what, (int)s);
    }
    unsigned char expect[sizeof out_buf];
    memset(expect, 0x5A, sizeof expect);
    CHECK(memcmp(out_buf, expect, sizeof out_buf) == 0, "%s: output written", what);
    printf("  %-58s -> SA_ERR_OVERFLOW: %s\n", what, sa_context_last_error(ctx));
    sa_context_free(ctx);
}

static void test_overflow(void) {
    puts("overflow:");
    /* These views cannot be backed by memory (that is the point); the library must refuse them
       from the numbers alone. The buffers are small and never read. */
    static uint16_t small[4096];
    const int64_t T40 = (int64_t)1 << 40;
    sa_tensor q = view_of(small, SA_DTYPE_BF16, 16, 2, 8, 0), k = view_of(small, SA_DTYPE_BF16, 16, 1, 8, 0);
    sa_tensor t;

    t = q; t.n_tokens = T40;
    expect_overflow("q.n_tokens = 2^40", t, view_of(small, 2, T40, 1, 8, 0), view_of(small, 2, T40, 1, 8, 0));
    t = k; t.n_heads = T40;
    expect_overflow("k.n_heads = 2^40", q, t, t);
    t = k; t.stride_token = T40; t.stride_head = 8;
    expect_overflow("k.stride_token = 2^40", q, t, k);
    t = k; t.stride_head = INT64_MAX; t.stride_token = 8;
    expect_overflow("k.stride_head = INT64_MAX", q, t, k);
    t = q; t.n_tokens = (int64_t)1 << 20; t.stride_token = (int64_t)1 << 28; t.stride_head = 8;
    expect_overflow("q view of 2^20 tokens x 2^28 stride (> 2^47 bytes)", t, view_of(small, 2, (int64_t)1 << 20, 1, 8, 0),
                    view_of(small, 2, (int64_t)1 << 20, 1, 8, 0));
    /* Each view < 2^47 bytes, but H_q * S_q * S_k = 8 * 2^39 * 2^39 overflows int64. */
    int64_t big = (int64_t)1 << 39;
    expect_overflow("H_q * S_q * S_k = 2^81 (views of 2^46 bytes each)", view_of(small, 2, big, 8, 8, 0),
                    view_of(small, 2, big, 8, 8, 0), view_of(small, 2, big, 8, 8, 0));
}

/* ---------------------------------------------------------------- 2. memory limit */
/* Parses "...: N bytes would exceed the context's memory limit of L bytes (U in use)". */
static int parse_limit_message(const char *m, uint64_t *size, uint64_t *in_use) {
    const char *w = strstr(m, " bytes would exceed");
    const char *u = strstr(m, " in use)");
    if (!w || !u) return 0;
    const char *a = w;
    while (a > m && a[-1] >= '0' && a[-1] <= '9') a--;
    const char *b = u;
    while (b > m && b[-1] >= '0' && b[-1] <= '9') b--;
    *size = strtoull(a, NULL, 10);
    *in_use = strtoull(b, NULL, 10);
    return 1;
}

typedef struct {
    uint64_t total;          /* bytes of the smallest limit that lets the call allocate all */
    int steps;               /* allocations seen */
    int stopped_at_prefix;   /* stopped at the first allocation named `stop_prefix` */
    uint64_t before_stop;    /* bytes in use when that allocation was requested */
} probe_result;

/* Finds the workspace of a call by raising the memory limit to what each refusal asks for.
   stop_prefix (may be NULL): stop at the first allocation whose name starts with it. */
static probe_result probe_workspace(sa_context *ctx, const sa_params *p, const sa_tensor *q, const sa_tensor *k,
                                    const sa_tensor *v, const sa_tensor *o, const char *stop_prefix) {
    probe_result r = {0, 0, 0, 0};
    uint64_t limit = 1;
    for (int step = 0; step < 64; step++) {
        sa_context_set_memory_limit(ctx, limit);
        sa_status s = sa_attention(ctx, p, q, k, v, o, NULL, NULL);
        if (s == SA_OK) { r.total = limit; break; }
        const char *m = sa_context_last_error(ctx);
        uint64_t size, in_use;
        if (s != SA_ERR_OUT_OF_MEMORY || !parse_limit_message(m, &size, &in_use)) {
            CHECK(0, "probe: status %d, message \"%s\"", (int)s, m);
            break;
        }
        r.steps++;
        if (stop_prefix && strncmp(m, stop_prefix, strlen(stop_prefix)) == 0) {
            r.stopped_at_prefix = 1;
            r.before_stop = in_use;
            break;
        }
        limit = in_use + size;
    }
    sa_context_set_memory_limit(ctx, 0);
    return r;
}

static void test_memory_limit(void) {
    puts("memory limit:");
    const int64_t sq = 300, sk = 300, hq = 4, hkv = 2, d = 64;
    float *q = malloc(sizeof(float) * sq * hq * d), *k = malloc(sizeof(float) * sk * hkv * d);
    float *v = malloc(sizeof(float) * sk * hkv * d), *o = malloc(sizeof(float) * sq * hq * d);
    float lse[4 * 300];
    for (int64_t i = 0; i < sq * hq * d; i++) q[i] = uniform();
    for (int64_t i = 0; i < sk * hkv * d; i++) { k[i] = uniform(); v[i] = uniform(); }
    sa_tensor tq = view_of(q, 0, sq, hq, d, 0), tk = view_of(k, 0, sk, hkv, d, 0), tv = view_of(v, 0, sk, hkv, d, 0);
    sa_tensor to = view_of(o, 0, sq, hq, d, 0);
    sa_context *ctx = sa_context_new(2);
    for (int mode = 0; mode < 2; mode++) {
        sa_params p;
        sa_params_default(&p);
        p.mode = mode;
        p.min_seq_len = 0;
        /* A limit far too small: refused, nothing written. */
        memset(o, 0x5A, sizeof(float) * sq * hq * d);
        memset(lse, 0x5A, sizeof lse);
        sa_stats st;
        memset(&st, 0x5A, sizeof st);
        st.struct_size = sizeof st;
        sa_stats st_before = st;
        CHECK(sa_context_set_memory_limit(ctx, 1000) == SA_OK, "set_memory_limit");
        sa_status s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, lse, &st);
        const char *m = sa_context_last_error(ctx);
        uint64_t size = 0, in_use = 0;
        CHECK(s == SA_ERR_OUT_OF_MEMORY, "mode %d: status %d", mode, (int)s);
        CHECK(parse_limit_message(m, &size, &in_use) && size > 1000, "mode %d: message \"%s\"", mode, m);
        int untouched = 1;
        for (int64_t i = 0; i < sq * hq * d; i++) {
            uint32_t bits;
            memcpy(&bits, &o[i], 4);
            if (bits != 0x5A5A5A5Au) untouched = 0;
        }
        unsigned char lse_expect[sizeof lse];
        memset(lse_expect, 0x5A, sizeof lse_expect);
        CHECK(untouched && memcmp(lse, lse_expect, sizeof lse) == 0 && memcmp(&st, &st_before, sizeof st) == 0,
              "mode %d: a refused call wrote its output, lse or stats", mode);
        printf("  mode %d, limit 1000: %s\n", mode, m);

        /* The exact workspace: the call succeeds with it and fails one byte below. */
        probe_result r = probe_workspace(ctx, &p, &tq, &tk, &tv, &to, NULL);
        CHECK(r.total > 0, "mode %d: probe failed", mode);
        sa_context_set_memory_limit(ctx, r.total - 1);
        s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, NULL);
        CHECK(s == SA_ERR_OUT_OF_MEMORY, "mode %d: limit %" PRIu64 " - 1: status %d", mode, r.total, (int)s);
        sa_context_set_memory_limit(ctx, r.total);
        s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, NULL);
        CHECK(s == SA_OK, "mode %d: limit %" PRIu64 ": status %d %s", mode, r.total, (int)s, sa_context_last_error(ctx));
        printf("  mode %d: S=300 H_q=4 H_kv=2 d=64, 2 threads: workspace %" PRIu64 " bytes in %d allocations "
               "(succeeds at that limit, fails 1 byte below)\n", mode, r.total, r.steps);
        sa_context_set_memory_limit(ctx, 0);
    }
    sa_context_free(ctx);
    free(q); free(k); free(v); free(o);
}

/* ---------------------------------------------------------------- 3. real allocation failure */
static void test_real_oom(void) {
    puts("allocation failure:");
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int overcommit = 0;
    if (f) { if (fscanf(f, "%d", &overcommit) != 1) overcommit = 0; fclose(f); }
    /* S_k = 2^36 keys, d = 8, bf16: k and v are 1 TiB each of lazily mapped memory (real,
       readable); the packed float32 workspace would be 2 TiB per buffer. */
    const int64_t sk = (int64_t)1 << 36, d = 8;
    size_t kv_bytes = (size_t)sk * d * 2;
    void *k = map_lazy(kv_bytes), *v = map_lazy(kv_bytes);
    if (!k || !v) {
        printf("  skipped: cannot map 2 x %zu bytes of address space\n", kv_bytes);
        if (k) munmap(k, kv_bytes);
        return;
    }
#ifndef SA_UNDER_ASAN
    /* Make failure certain whatever vm.overcommit_memory says: cap the address space 2 GiB above
       what is mapped now (ASan's allocator refuses > 1 TiB by itself). */
    struct rlimit old;
    getrlimit(RLIMIT_AS, &old);
    FILE *st = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t vm_kb = 0;
    while (st && fgets(line, sizeof line, st))
        if (sscanf(line, "VmSize: %" SCNu64, &vm_kb) == 1) break;
    if (st) fclose(st);
    struct rlimit lim = {(rlim_t)(vm_kb * 1024 + ((uint64_t)2 << 30)), old.rlim_max};
    int limited = vm_kb > 0 && setrlimit(RLIMIT_AS, &lim) == 0;
#else
    int limited = 1;
    (void)overcommit;
#endif
    if (!limited && overcommit == 1) {
        puts("  skipped: vm.overcommit_memory = 1 and no address-space limit");
    } else {
        uint16_t q[8], o[8], o_before[8];
        for (int i = 0; i < 8; i++) { q[i] = 0x3f80; o[i] = o_before[i] = 0x5A5A; }
        sa_tensor tq = view_of(q, SA_DTYPE_BF16, 1, 1, d, 0), tk = view_of(k, SA_DTYPE_BF16, sk, 1, d, 0);
        sa_tensor tv = view_of(v, SA_DTYPE_BF16, sk, 1, d, 0), to = view_of(o, SA_DTYPE_BF16, 1, 1, d, 0);
        sa_context *ctx = sa_context_new(2);
        for (int mode = 0; mode < 2; mode++) {
            sa_params p;
            sa_params_default(&p);
            p.mode = mode;
            sa_status s = sa_attention(ctx, &p, &tq, &tk, &tv, &to, NULL, NULL);
            CHECK(s == SA_ERR_OUT_OF_MEMORY, "S_k = 2^36, mode %d: status %d (%s) %s", mode, (int)s,
                  sa_status_string(s), sa_context_last_error(ctx));
            CHECK(memcmp(o, o_before, sizeof o) == 0, "output written");
            printf("  S_k = 2^36 (2 x 1 TiB of inputs), mode %d -> %s: %s\n", mode, sa_status_string(s),
                   sa_context_last_error(ctx));
        }
        sa_context_free(ctx);
    }
#ifndef SA_UNDER_ASAN
    if (limited) setrlimit(RLIMIT_AS, &old);
#endif
    munmap(k, kv_bytes);
    munmap(v, kv_bytes);
}

/* ---------------------------------------------------------------- 4. ulimit -v (child) */
static uint64_t vm_size_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %" SCNu64, &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}

static int rlimit_child(void) {
    /* Inputs: S = 8192, H = 1, d = 256, float16: 4 MiB each. Workspace of a dense call: packed
       float32 keys and values, 8 MiB each. The limit leaves 3 MiB above what is mapped. */
    const int64_t s = 8192, d = 256;
    size_t n = (size_t)(s * d);
    uint16_t *q = malloc(2 * n), *k = malloc(2 * n), *v = malloc(2 * n), *o = malloc(2 * n), *before = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {   /* f16 in [-1, 1): sign, exponent 0..14, mantissa */
        q[i] = (uint16_t)(((i * 2654435761u) >> 7) & 0xBBFF);
        k[i] = (uint16_t)(((i * 40503u + 17) >> 3) & 0xBBFF);
        v[i] = (uint16_t)(((i * 97u + 5) * 31) & 0xBBFF);
    }
    memset(o, 0x5A, 2 * n);
    memcpy(before, o, 2 * n);
    sa_tensor tq = view_of(q, SA_DTYPE_F16, s, 1, d, 0), tk = view_of(k, SA_DTYPE_F16, s, 1, d, 0);
    sa_tensor tv = view_of(v, SA_DTYPE_F16, s, 1, d, 0), to = view_of(o, SA_DTYPE_F16, s, 1, d, 0);
    sa_tensor sq_ = view_of(q, SA_DTYPE_F16, 256, 1, d, 0), sk_ = view_of(k, SA_DTYPE_F16, 256, 1, d, 0);
    sa_tensor sv_ = view_of(v, SA_DTYPE_F16, 256, 1, d, 0), so_ = view_of(before, SA_DTYPE_F16, 256, 1, d, 0);
    sa_context *ctx = sa_context_new(2);
    sa_params dense, sample;
    sa_params_default(&dense);
    dense.mode = SA_MODE_DENSE;
    sa_params_default(&sample);
    sample.min_seq_len = 0;
    /* Warm up: the OpenMP team exists before the limit (libomp aborts if it cannot start its
       threads; the library cannot turn that into a status). */
    CHECK(sa_attention(ctx, &sample, &sq_, &sk_, &sv_, &so_, NULL, NULL) == SA_OK, "warm-up");
    memcpy(before, o, 2 * n);

    struct rlimit old;
    getrlimit(RLIMIT_AS, &old);
    uint64_t base = vm_size_bytes();
    struct rlimit lim = {(rlim_t)(base + (3u << 20)), old.rlim_max};
    CHECK(setrlimit(RLIMIT_AS, &lim) == 0, "setrlimit: %s", strerror(errno));
    printf("  RLIMIT_AS = %" PRIu64 " MiB (mapped now: %" PRIu64 " MiB)\n", (uint64_t)lim.rlim_cur >> 20, base >> 20);
    const sa_params *modes[] = {&dense, &sample};
    for (int m = 0; m < 2; m++) {
        sa_status st = sa_attention(ctx, modes[m], &tq, &tk, &tv, &to, NULL, NULL);
        CHECK(st == SA_ERR_OUT_OF_MEMORY, "under RLIMIT_AS, mode %d: status %d (%s)", m, (int)st, sa_status_string(st));
        CHECK(memcmp(o, before, 2 * n) == 0, "under RLIMIT_AS, mode %d: output written", m);
        printf("  S=8192 d=256 f16 mode %d under the limit -> %s: %s\n", m, sa_status_string(st),
               sa_context_last_error(ctx));
    }
    /* Small calls still work under the limit. */
    sa_status st = sa_attention(ctx, &dense, &sq_, &sk_, &sv_, &so_, NULL, NULL);
    CHECK(st == SA_OK, "small call under RLIMIT_AS: status %d %s", (int)st, sa_context_last_error(ctx));
    /* Lift the limit: the same call succeeds. */
    CHECK(setrlimit(RLIMIT_AS, &old) == 0, "setrlimit restore");
    st = sa_attention(ctx, &dense, &tq, &tk, &tv, &to, NULL, NULL);
    CHECK(st == SA_OK && memcmp(o, before, 2 * n) != 0, "after lifting the limit: status %d", (int)st);
    printf("  after lifting the limit -> %s\n", sa_status_string(st));
    sa_context_free(ctx);
    free(q); free(k); free(v); free(o); free(before);
    printf("child: %d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}

static void test_rlimit(const char *self) {
    puts("address-space limit (ulimit -v), child process:");
#if defined(SA_UNDER_ASAN) || defined(SA_UNDER_TSAN)
    (void)self;
    puts("  skipped under a sanitizer (its shadow memory needs terabytes of address space)");
#else
    fflush(stdout);
    pid_t pid;
    char *args[] = {(char *)self, "--rlimit-child", NULL};
    int rc = posix_spawn(&pid, self, NULL, NULL, args, environ);
    CHECK(rc == 0, "posix_spawn: %s", strerror(rc));
    if (rc != 0) return;
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
#endif
}

/* ---------------------------------------------------------------- 5. misaligned data */
static void test_misaligned(void) {
    puts("misaligned data:");
    const int64_t s = 40, h = 2, d = 24;
    const size_t n = (size_t)(s * h * d);
    const sa_dtype types[] = {SA_DTYPE_F32, SA_DTYPE_F16, SA_DTYPE_BF16};
    sa_context *ctx = sa_context_new(2);
    for (int t = 0; t < 3; t++) {
        sa_dtype dt = types[t];
        size_t es = dt == SA_DTYPE_F32 ? 4 : 2, bytes = n * es;
        unsigned char *al[4], *mis[4];
        for (int i = 0; i < 4; i++) {
            al[i] = malloc(bytes);
            mis[i] = malloc(bytes + 1);
        }
        for (int i = 0; i < 3; i++)
            for (size_t e = 0; e < n; e++) {
                float x = uniform();
                if (dt == SA_DTYPE_F32) memcpy(al[i] + 4 * e, &x, 4);
                else {   /* bf16 bits of x; the same bits read as f16 are finite for |x| < 1 */
                    uint32_t b;
                    memcpy(&b, &x, 4);
                    uint16_t v16 = (uint16_t)(b >> 16);
                    if (dt == SA_DTYPE_F16) v16 = (uint16_t)(v16 & 0xBBFF);
                    memcpy(al[i] + 2 * e, &v16, 2);
                }
            }
        for (int i = 0; i < 3; i++) memcpy(mis[i] + 1, al[i], bytes);
        memset(al[3], 0, bytes);
        memset(mis[3], 0, bytes + 1);
        for (int mode = 0; mode < 2; mode++) {
            sa_params p;
            sa_params_default(&p);
            p.mode = mode;
            p.min_seq_len = 0;
            sa_tensor a[4], m[4];
            for (int i = 0; i < 4; i++) {
                a[i] = view_of(al[i], dt, s, h, d, 0);
                m[i] = view_of(mis[i] + 1, dt, s, h, d, 0);
            }
            sa_status s1 = sa_attention(ctx, &p, &a[0], &a[1], &a[2], &a[3], NULL, NULL);
            sa_status s2 = sa_attention(ctx, &p, &m[0], &m[1], &m[2], &m[3], NULL, NULL);
            CHECK(s1 == SA_OK && s2 == SA_OK && memcmp(al[3], mis[3] + 1, bytes) == 0,
                  "dtype %d mode %d: misaligned views: status %d/%d or other bits", (int)dt, mode, (int)s1, (int)s2);
        }
        for (int i = 0; i < 4; i++) { free(al[i]); free(mis[i]); }
    }
    puts("  f32/f16/bf16 views at an odd address: same bits as aligned, dense and sample");
    sa_context_free(ctx);
}

/* ---------------------------------------------------------------- workspace report */
static int workspace_report(int64_t sk, int64_t hq, int64_t hkv, int64_t d, int32_t threads) {
    /* Inputs: bf16 zeros, lazily mapped (only what the probe reads is touched). Dense workspace
       does not depend on S_q: probe it with S_q = 1 (so the final, successful call is cheap). */
    size_t qb = (size_t)(sk * hq * d * 2), kb = (size_t)(sk * hkv * d * 2);
    void *q = map_lazy(qb), *k = map_lazy(kb), *v = map_lazy(kb), *o = map_lazy(qb);
    if (!q || !k || !v || !o) { fprintf(stderr, "cannot map the inputs\n"); return 1; }
    sa_context *ctx = sa_context_new(threads);
    sa_params dense, sample;
    sa_params_default(&dense);
    dense.mode = SA_MODE_DENSE;
    sa_params_default(&sample);
    sa_tensor q1 = view_of((char *)q + (size_t)((sk - 1) * hq * d * 2), SA_DTYPE_BF16, 1, hq, d, 0);
    sa_tensor tk = view_of(k, SA_DTYPE_BF16, sk, hkv, d, 0), tv = view_of(v, SA_DTYPE_BF16, sk, hkv, d, 0);
    sa_tensor o1 = view_of(o, SA_DTYPE_BF16, 1, hq, d, 0);
    probe_result rd = probe_workspace(ctx, &dense, &q1, &tk, &tv, &o1, NULL);
    printf("S_k=%" PRId64 " H_q=%" PRId64 " H_kv=%" PRId64 " d=%" PRId64 " threads=%d\n", sk, hq, hkv, d, threads);
    printf("  dense:  %" PRIu64 " bytes (%.1f MiB) in %d allocations\n", rd.total, rd.total / 1048576.0, rd.steps);
    /* Sample mode, S_q = S_k: the plan's workspace is allocated before any work; the attention
       allocations after the plan are the dense ones plus the stripe panels (data-dependent:
       reported by the plan; 0 when every head falls back to dense). */
    sa_tensor tq = view_of(q, SA_DTYPE_BF16, sk, hq, d, 0), to = view_of(o, SA_DTYPE_BF16, sk, hq, d, 0);
    probe_result rs = probe_workspace(ctx, &sample, &tq, &tk, &tv, &to, "packed keys/values");
    printf("  sample: plan %" PRIu64 " bytes (%.1f MiB) + the dense workspace + stripe panels\n",
           rs.before_stop, rs.before_stop / 1048576.0);
    printf("          = %" PRIu64 " bytes (%.1f MiB) + stripe panels (<= G * (S_k+16) * d * 8 = %.1f MiB)\n",
           rs.before_stop + rd.total, (rs.before_stop + rd.total) / 1048576.0,
           (double)(hq / hkv) * (double)(sk + 16) * (double)d * 8 / 1048576.0);
    sa_context_free(ctx);
    munmap(q, qb); munmap(k, kb); munmap(v, kb); munmap(o, qb);
    return rs.stopped_at_prefix && rd.total > 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    rng_state = 7;
    if (argc >= 2 && strcmp(argv[1], "--rlimit-child") == 0) return rlimit_child();
    if (argc >= 7 && strcmp(argv[1], "--workspace") == 0)
        return workspace_report(atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), atoi(argv[6]));
    test_overflow();
    test_memory_limit();
    test_real_oom();
    test_misaligned();
    test_rlimit(argv[0]);
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
