// Prompt-processing attention through libsampleattn (built with -DLLAMA_SAMPLEATTN=ON).
//
// build_attn_mha asks llama_sampleattn_build for a node; for an eligible ubatch it gets a
// ggml_custom_4d op whose callback runs sa_attention_team on ggml's own threads (ith, nth),
// reading Q in ggml's layout and K/V in place from the f16 cache views. Everything else, decode
// included, keeps llama.cpp's graph; each such case is counted by reason.
//
// Environment: LLAMA_SA_MODE=off|dense|sample|slash (default off: the stock graph),
// LLAMA_SA_ALPHA, LLAMA_SA_MIN_SEQ_LEN, LLAMA_SA_WINDOW (window_ratio), LLAMA_SA_SAMPLE_RATIO,
// LLAMA_SA_VERBOSE=1 (one line per call). A summary goes to stderr at exit when the mode is on.

#include "llama-sampleattn.h"

#include "ggml.h"
#include "sampleattn.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct sa_config {
    bool     on      = false;
    sa_params params = {};
    bool     verbose = false;
    std::string mode_name = "off";
};

float env_float(const char * name, float fallback) {
    const char * s = getenv(name);
    return s && *s ? strtof(s, nullptr) : fallback;
}

sa_config read_config() {
    sa_config c;
    sa_params_default(&c.params);
    const char * mode = getenv("LLAMA_SA_MODE");
    c.mode_name = mode && *mode ? mode : "off";
    if (c.mode_name == "dense") {
        c.params.mode = SA_MODE_DENSE;
    } else if (c.mode_name == "sample") {
        c.params.mode = SA_MODE_SAMPLE;
    } else if (c.mode_name == "slash") {
        c.params.mode = SA_MODE_SAMPLE_SLASH;
    } else {
        if (c.mode_name != "off") {
            fprintf(stderr, "llama-sampleattn: LLAMA_SA_MODE=%s unknown (off|dense|sample|slash): off\n", mode);
        }
        c.mode_name = "off";
        return c;
    }
    c.on = true;
    c.params.alpha        = env_float("LLAMA_SA_ALPHA", c.params.alpha);
    c.params.min_seq_len  = (int32_t) env_float("LLAMA_SA_MIN_SEQ_LEN", (float) c.params.min_seq_len);
    c.params.window_ratio = env_float("LLAMA_SA_WINDOW", c.params.window_ratio);
    c.params.sample_ratio = env_float("LLAMA_SA_SAMPLE_RATIO", c.params.sample_ratio);
    c.verbose = env_float("LLAMA_SA_VERBOSE", 0) != 0;
    return c;
}

const sa_config & config() {
    static const sa_config c = read_config();
    return c;
}

// Why a layer's attention stayed on llama.cpp's path (counted per layer graph built: llama.cpp
// reuses graphs, so these count builds, not ubatches), or why a call fell back at run time.
enum reason {
    R_DECODE, R_MULTI_SEQ, R_NON_CAUSAL, R_ALIBI, R_SOFTCAP, R_SINKS, R_SWA, R_KQ_BIAS, R_MLA,
    R_TOP_K, R_STREAMS, R_V_TRANSPOSED, R_TYPES, R_HEAD_DIM, R_MASK, R_COUNT
};
const char * const reason_names[R_COUNT] = {
    "decode (1 token)", "several sequences", "non-causal", "ALiBi", "logit softcap",
    "attention sinks", "sliding window", "KQ bias", "MLA", "top-k KV", "KV streams",
    "V cache transposed (flash attention off)", "Q not f32 or K/V not f16", "head dim",
    "mask not a causal prefix (run time: exact masked attention)",
};

struct counters {
    std::atomic<int64_t> fallback[R_COUNT] = {};
    std::atomic<int64_t> calls{0}, sparse_calls{0}, short_dense{0};
    std::atomic<int64_t> kept{0}, causal{0};
    std::atomic<int64_t> attention_us{0};
};

counters & stats() {
    static counters c;
    return c;
}

struct backend_state;

// What one layer's node needs at run time (its userdata).
struct op_config {
    backend_state * state;
    sa_params params;
    int layer;
};

// One sa_context per ggml CPU backend (its thread pool), reused by every layer and ubatch.
struct backend_state {
    sa_context * ctx = nullptr;
    std::vector<std::unique_ptr<op_config>> ops;
    ~backend_state() { sa_context_free(ctx); }
};

struct registry {
    std::mutex lock;
    std::map<const void *, std::unique_ptr<backend_state>> states;
    ~registry() {
        const sa_config & c = config();
        if (!c.on) return;
        counters & s = stats();
        fprintf(stderr, "llama-sampleattn: mode %s: %lld attention calls through libsampleattn "
                "(%lld sparse, %lld dense as S_k < min_seq_len), kept %.4f of causal entries, %.3f s\n",
                c.mode_name.c_str(), (long long) s.calls, (long long) s.sparse_calls,
                (long long) s.short_dense, s.causal ? (double) s.kept / (double) s.causal : 1.0,
                (double) s.attention_us * 1e-6);
        for (int r = 0; r < R_COUNT; r++) {
            if (s.fallback[r]) {
                fprintf(stderr, "llama-sampleattn: llama.cpp attention: %s: %lld\n", reason_names[r],
                        (long long) s.fallback[r]);
            }
        }
    }
};

registry & states() {
    static registry r;
    return r;
}

op_config * op_for(const void * backend, const sa_params & params, int layer) {
    registry & r = states();
    std::lock_guard<std::mutex> guard(r.lock);
    auto & st = r.states[backend];
    if (!st) {
        st = std::make_unique<backend_state>();
        st->ctx = sa_context_new(1);   // the team comes from ggml; no OpenMP threads of ours
        GGML_ASSERT(st->ctx && "sa_context_new failed");
    }
    for (auto & op : st->ops) {
        if (op->layer == layer && std::memcmp(&op->params, &params, sizeof params) == 0) return op.get();
    }
    st->ops.push_back(std::unique_ptr<op_config>(new op_config{st.get(), params, layer}));
    return st->ops.back().get();
}

// Mask entry (i, j) of an f16 or f32 [n_kv, n_tokens] mask: 0 where query i sees key j.
bool mask_visible(const ggml_tensor * mask, int64_t i, int64_t j) {
    const char * row = (const char *) mask->data + i * mask->nb[1];
    if (mask->type == GGML_TYPE_F16) {
        return ggml_fp16_to_fp32(((const ggml_fp16_t *) row)[j]) == 0.0f;
    }
    return ((const float *) row)[j] == 0.0f;
}

// Row i of the mask is 0 up to key `last` and -inf after it (raw bits: this runs on every
// thread for every layer, so it must cost little next to the attention).
bool row_is_causal_prefix(const ggml_tensor * mask, int64_t i, int64_t last) {
    const int64_t n_kv = mask->ne[0];
    const char * row = (const char *) mask->data + i * mask->nb[1];
    bool ok = true;
    if (mask->type == GGML_TYPE_F16) {
        const uint16_t * m = (const uint16_t *) row;
        for (int64_t j = 0; j <= last; j++) ok &= (m[j] & 0x7fff) == 0;
        for (int64_t j = last + 1; j < n_kv; j++) ok &= m[j] == 0xfc00;
    } else {
        const float * m = (const float *) row;
        for (int64_t j = 0; j <= last; j++) ok &= m[j] == 0.0f;
        for (int64_t j = last + 1; j < n_kv; j++) ok &= m[j] == -INFINITY;
    }
    return ok;
}

// The KV length S_k when query i sees exactly keys [0, S_k - n_tokens + i] (the cache holds
// one sequence in order), else -1.
int64_t causal_prefix_length(const ggml_tensor * mask, int64_t n_tokens) {
    const int64_t n_kv = mask->ne[0];
    int64_t s_k = 0;
    while (s_k < n_kv && mask_visible(mask, n_tokens - 1, s_k)) s_k++;
    if (s_k < n_tokens) return -1;
    for (int64_t i = 0; i < n_tokens; i++) {
        if (!row_is_causal_prefix(mask, i, s_k - n_tokens + i)) return -1;
    }
    return s_k;
}

// Exact attention under any mask, rows split over the threads: for the rare ubatch whose cache
// is not one sequence in order (e.g. after a context shift).
void masked_attention(ggml_tensor * dst, const ggml_tensor * q, const ggml_tensor * k,
                      const ggml_tensor * v, const ggml_tensor * mask, float scale, int ith, int nth) {
    const int64_t d = q->ne[0], hq = q->ne[1], n_tokens = q->ne[2], n_kv = k->ne[2];
    const int64_t group = hq / k->ne[1];
    std::vector<float> w(n_kv), acc(d);
    for (int64_t row = ith; row < hq * n_tokens; row += nth) {
        const int64_t h = row / n_tokens, i = row % n_tokens, hk = h / group;
        const float * qi = (const float *) ((const char *) q->data + i * q->nb[2] + h * q->nb[1]);
        float m = -INFINITY;
        for (int64_t j = 0; j < n_kv; j++) {
            w[j] = -INFINITY;
            if (!mask_visible(mask, i, j)) continue;
            const ggml_fp16_t * kj = (const ggml_fp16_t *) ((const char *) k->data + j * k->nb[2] + hk * k->nb[1]);
            float s = 0;
            for (int64_t c = 0; c < d; c++) s += qi[c] * ggml_fp16_to_fp32(kj[c]);
            w[j] = s * scale;
            m = std::max(m, w[j]);
        }
        float sum = 0;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = 0; j < n_kv; j++) {
            if (w[j] == -INFINITY) continue;
            const float p = std::exp(w[j] - m);
            sum += p;
            const ggml_fp16_t * vj = (const ggml_fp16_t *) ((const char *) v->data + j * v->nb[2] + hk * v->nb[1]);
            for (int64_t c = 0; c < d; c++) acc[c] += p * ggml_fp16_to_fp32(vj[c]);
        }
        float * out = (float *) ((char *) dst->data + i * dst->nb[2] + h * dst->nb[1]);
        for (int64_t c = 0; c < d; c++) out[c] = sum > 0 ? acc[c] / sum : 0.0f;
    }
}

sa_tensor view(const ggml_tensor * t, int64_t n_tokens) {
    const int64_t el = (int64_t) ggml_type_size(t->type);
    sa_tensor r = {};
    r.data = t->data;
    r.dtype = t->type == GGML_TYPE_F16 ? SA_DTYPE_F16 : SA_DTYPE_F32;
    r.n_tokens = n_tokens;
    r.n_heads = t->ne[1];
    r.head_dim = t->ne[0];
    r.stride_token = (int64_t) t->nb[2] / el;
    r.stride_head = (int64_t) t->nb[1] / el;
    return r;
}

// dst [d, H_q, n_tokens] f32; src: q [d, H_q, n_tokens] f32, k, v [d, H_kv, n_kv] f16, mask.
void attention_op(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const op_config * op = (const op_config *) userdata;
    const ggml_tensor * q = dst->src[0], * k = dst->src[1], * v = dst->src[2], * mask = dst->src[3];
    const int64_t n_tokens = q->ne[2];
    const int64_t s_k = causal_prefix_length(mask, n_tokens);
    counters & s = stats();
    if (s_k < 0) {
        masked_attention(dst, q, k, v, mask, op->params.scale, ith, nth);
        if (ith == 0) s.fallback[R_MASK]++;
        return;
    }
    const sa_tensor tq = view(q, n_tokens), tk = view(k, s_k), tv = view(v, s_k), to = view(dst, n_tokens);
    sa_stats st = {};
    st.struct_size = sizeof st;
    const sa_status status = sa_attention_team(op->state->ctx, &op->params, &tq, &tk, &tv, &to,
                                               nullptr, ith == 0 ? &st : nullptr, ith, nth);
    if (status != SA_OK) {
        GGML_ABORT("libsampleattn: %s (%s)", sa_status_string(status),
                   ith == 0 ? sa_context_last_error(op->state->ctx) : "");
    }
    if (ith != 0) return;
    s.calls++;
    if (st.fallback_reason == SA_FALLBACK_SHORT) s.short_dense++;
    else if (op->params.mode != SA_MODE_DENSE) s.sparse_calls++;
    s.kept += st.kept_entries;
    s.causal += st.causal_entries;
    s.attention_us += (int64_t) (st.time_total_s * 1e6);
    if (config().verbose) {
        fprintf(stderr, "llama-sampleattn: layer %d S_q %lld S_k %lld density %.4f %.1f ms\n", op->layer,
                (long long) n_tokens, (long long) s_k, st.density, st.time_total_s * 1e3);
    }
}

} // namespace

ggml_tensor * llama_sampleattn_build(ggml_context * ctx, const llama_sampleattn_layer & L) {
    const sa_config & c = config();
    if (!c.on) return nullptr;
    const ggml_tensor * q = L.q, * k = L.k, * v = L.v;
    reason r = R_COUNT;
    if (L.n_tokens <= 1)                     r = R_DECODE;
    else if (L.n_seqs != 1)                  r = R_MULTI_SEQ;
    else if (!L.causal)                      r = R_NON_CAUSAL;
    else if (L.alibi)                        r = R_ALIBI;
    else if (L.softcap)                      r = R_SOFTCAP;
    else if (L.sinks)                        r = R_SINKS;
    else if (L.swa)                          r = R_SWA;
    else if (L.kq_bias)                      r = R_KQ_BIAS;
    else if (L.mla)                          r = R_MLA;
    else if (L.top_k)                        r = R_TOP_K;
    else if (k->ne[3] != 1 || q->ne[3] != 1) r = R_STREAMS;
    else if (L.v_trans)                      r = R_V_TRANSPOSED;
    else if (q->type != GGML_TYPE_F32 || k->type != GGML_TYPE_F16 || v->type != GGML_TYPE_F16 ||
             (L.mask->type != GGML_TYPE_F16 && L.mask->type != GGML_TYPE_F32))
                                             r = R_TYPES;
    else if (q->ne[0] != k->ne[0] || k->ne[0] != v->ne[0] || q->ne[0] % 8 != 0 || q->ne[0] > 256 ||
             q->ne[1] % k->ne[1] != 0 || k->ne[1] != v->ne[1])
                                             r = R_HEAD_DIM;
    if (r != R_COUNT) {
        stats().fallback[r]++;
        return nullptr;
    }
    sa_params params = c.params;
    params.scale = L.kq_scale;
    op_config * op = op_for(L.backend, params, L.layer);
    ggml_tensor * args[4] = { L.q, L.k, L.v, L.mask };
    return ggml_custom_4d(ctx, GGML_TYPE_F32, q->ne[0], q->ne[1], q->ne[2], 1, args, 4,
                          attention_op, GGML_N_TASKS_MAX, op);
}
