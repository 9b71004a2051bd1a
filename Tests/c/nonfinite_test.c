/*
 * Non-finite data test of libsampleattn: NaN, +Inf, -Inf and huge finite values in
 * q, k or v, in dense and SampleAttention mode. Every call must return SA_OK (data is not
 * validated), never crash or hang (ctest's timeout), and the damage must stay where
 * docs/GUARANTEES.md says it does. Prints, per case, which output rows became non-finite:
 *
 *   own     q: the row holding the bad element; k/v: rows of the bad K/V head's query heads
 *           that attend the bad key (position >= its token; in sample mode: that the mask keeps)
 *   masked  rows of those heads that do not attend the bad key
 *   other   rows of the other K/V head's query heads (never read the bad element)
 *
 * Shape: S_q = S_k = 256, H_q = 4, H_kv = 2 (query heads 0,1 read K/V head 0), d = 64, float32.
 */
#include "sampleattn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S = 256, HQ = 4, HKV = 2, D = 64, G = HQ / HKV, BAD_TOKEN = 100, BAD_HEAD_Q = 1, BAD_C = 3 };

#include "test_support.h"

static float q[S * HQ * D], k[S * HKV * D], v[S * HKV * D], out[S * HQ * D], lse[HQ * S];

/* A token-major float32 [S, heads, D] view. */
static sa_tensor view(float *data, int64_t heads) { return view_of(data, SA_DTYPE_F32, S, heads, D, 0); }

static int row_finite(int i, int h) {
    for (int c = 0; c < D; c++)
        if (!isfinite(out[(i * HQ + h) * D + c])) return 0;
    return 1;
}

typedef struct {
    int own, own_total, masked, masked_total, other, other_total, lse_bad, dense_heads;
    int masked_far;   /* masked non-finite rows with no row within 5 positions that attends the key */
    int64_t stripes[HQ];
} damage;

/* Does query head h (of the bad K/V head) at row i keep key BAD_TOKEN under plan? */
static int keeps_bad_key(const sa_plan *plan, int h, int i) {
    if (i < BAD_TOKEN) return 0;
    if (!plan) return 1;
    sa_plan_head info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    sa_plan_head_info(plan, h, &info);
    if (info.dense || i - BAD_TOKEN < info.window) return 1;
    int64_t idx[S];
    sa_plan_head_indices(plan, h, idx, S);
    for (int64_t n = 0; n < info.n_indices; n++)
        if (idx[n] == BAD_TOKEN) return 1;
    int64_t offs[S];
    sa_plan_head_slashes(plan, h, offs, S);
    for (int64_t n = 0; n < info.n_slash_blocks; n++)
        if (offs[n] == i / info.block_size - BAD_TOKEN / info.block_size) return 1;
    return 0;
}

static damage run(sa_context *ctx, const sa_params *p, char where) {
    sa_tensor tq = view(q, HQ), tk = view(k, HKV), tv = view(v, HKV), to = view(out, HQ);
    damage dm;
    memset(&dm, 0, sizeof dm);
    sa_plan *plan = NULL;
    sa_status s = sa_plan_create(ctx, p, &tq, &tk, &plan);
    CHECK(s == SA_OK, "plan_create status %d: %s", (int)s, sa_context_last_error(ctx));
    s = sa_plan_apply(ctx, plan, &tq, &tk, &tv, &to, lse, NULL);
    CHECK(s == SA_OK, "plan_apply status %d: %s", (int)s, sa_context_last_error(ctx));
    /* sa_attention gives the same bits (NaN payloads included). */
    static float out2[S * HQ * D];
    sa_tensor to2 = view(out2, HQ);
    sa_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    s = sa_attention(ctx, p, &tq, &tk, &tv, &to2, NULL, &st);
    CHECK(s == SA_OK && memcmp(out, out2, sizeof out) == 0, "sa_attention status %d or result differs from plan_apply", (int)s);
    dm.dense_heads = (int)st.n_dense_heads;
    for (int h = 0; h < HQ; h++) {
        sa_plan_head info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        sa_plan_head_info(plan, h, &info);
        dm.stripes[h] = info.dense ? -1 : info.n_indices;
    }
    for (int h = 0; h < HQ; h++)
        for (int i = 0; i < S; i++) {
            int bad = !row_finite(i, h);
            if (!isfinite(lse[h * S + i])) dm.lse_bad++;
            int own;
            if (h / G != 0) { dm.other += bad; dm.other_total++; continue; }
            if (where == 'q') own = (h == BAD_HEAD_Q && i == BAD_TOKEN);
            else own = keeps_bad_key(plan, h, i);
            if (own) { dm.own += bad; dm.own_total++; }
            else {
                dm.masked += bad;
                dm.masked_total++;
                if (bad) {   /* a row of the same 6-row micro-tile attends the key? */
                    int near = 0;
                    for (int r = i - 5; r <= i + 5; r++)
                        if (r >= 0 && r < S && keeps_bad_key(plan, h, r)) near = 1;
                    if (!near) dm.masked_far++;
                }
            }
        }
    sa_plan_free(plan);
    return dm;
}

static void reset_data(void) {
    rng_state = 42;
    for (size_t i = 0; i < sizeof q / 4; i++) q[i] = 2 * uniform();
    for (size_t i = 0; i < sizeof k / 4; i++) k[i] = 2 * uniform();
    for (size_t i = 0; i < sizeof v / 4; i++) v[i] = uniform();
}

int main(void) {
    sa_context *ctx = sa_context_new(2);
    const struct { const char *name; float value; } values[] = {
        {"NaN", NAN}, {"+Inf", INFINITY}, {"-Inf", -INFINITY}, {"3e38", 3e38f},
    };
    sa_params dense, sample;
    sa_params_default(&dense);
    dense.mode = SA_MODE_DENSE;
    sa_params_default(&sample);
    sample.min_seq_len = 0;
    sample.flags = SA_FLAG_FORCE_SPARSE;
    sample.window_ratio = 0.1f;
    sample.sample_ratio = 0.1f;
    const struct { const char *name; const sa_params *p; } modes[] = {{"dense", &dense}, {"sample", &sample}};

    /* Clean data: everything finite, and the sparse plan really is sparse. */
    reset_data();
    damage clean = run(ctx, &sample, 'k');
    CHECK(clean.own + clean.masked + clean.other == 0 && clean.lse_bad == 0, "clean data gave non-finite rows");
    CHECK(clean.dense_heads == 0, "sample mode fell back to dense on clean data");

    printf("%-3s %-5s %-6s | %-13s %-13s %-13s | lse  | selected indices per head\n", "in", "value", "mode",
           "own", "masked", "other");
    for (int w = 0; w < 3; w++) {
        char where = "qkv"[w];
        for (size_t vi = 0; vi < sizeof values / sizeof values[0]; vi++)
            for (size_t m = 0; m < 2; m++) {
                reset_data();
                if (where == 'q') q[(BAD_TOKEN * HQ + BAD_HEAD_Q) * D + BAD_C] = values[vi].value;
                else if (where == 'k') k[(BAD_TOKEN * HKV + 0) * D + BAD_C] = values[vi].value;
                else v[(BAD_TOKEN * HKV + 0) * D + BAD_C] = values[vi].value;
                damage dm = run(ctx, modes[m].p, where);
                printf("%-3c %-5s %-6s | %4d of %-5d %4d of %-5d %4d of %-5d | %4d | %lld %lld %lld %lld\n", where,
                       values[vi].name, modes[m].name, dm.own, dm.own_total, dm.masked, dm.masked_total, dm.other,
                       dm.other_total, dm.lse_bad, (long long)dm.stripes[0], (long long)dm.stripes[1],
                       (long long)dm.stripes[2], (long long)dm.stripes[3]);
                /* What docs/GUARANTEES.md states: */
                CHECK(dm.other == 0, "%c=%s %s: rows of other K/V heads became non-finite", where, values[vi].name,
                      modes[m].name);
                if (where == 'q')
                    CHECK(dm.masked == 0, "%c=%s %s: rows other than the bad query row became non-finite", where,
                          values[vi].name, modes[m].name);
                else if (where == 'k')
                    CHECK(dm.masked == 0, "%c=%s %s: rows that do not attend the bad key became non-finite",
                          where, values[vi].name, modes[m].name);
                else   /* v: 0 * NaN in the value product of a 6-row micro-tile (docs/GUARANTEES.md) */
                    CHECK(dm.masked_far == 0, "%c=%s %s: %d rows far from any row attending the bad key became "
                          "non-finite", where, values[vi].name, modes[m].name, dm.masked_far);
                if (isfinite(values[vi].value))
                    CHECK(dm.own + dm.masked + dm.other == 0, "%c=%s %s: a huge finite value made rows non-finite",
                          where, values[vi].name, modes[m].name);
            }
    }
    sa_context_free(ctx);
    printf("%d checks, %d failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
