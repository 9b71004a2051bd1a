// Prompt-processing attention through libsampleattn: see llama-sampleattn.cpp.
#pragma once

#include <cstdint>

struct ggml_context;
struct ggml_tensor;

// One layer's attention as build_attn_mha sees it, before its permutes:
// q [d, H_q, n_tokens], k and v [d, H_kv, n_kv] cache views, mask [n_kv, n_tokens].
struct llama_sampleattn_layer {
    ggml_tensor * q, * k, * v, * mask;
    const void  * backend;   // the CPU backend: one libsampleattn context per thread pool
    float         kq_scale;
    int           layer;
    int64_t       n_tokens;
    uint32_t      n_seqs;
    bool causal, alibi, softcap, sinks, swa, kq_bias, mla, top_k, v_trans;
};

// The attention output [d, H_q, n_tokens] f32 computed by libsampleattn, or nullptr when
// LLAMA_SA_MODE is off or the layer is not eligible (then the stock graph is built).
ggml_tensor * llama_sampleattn_build(ggml_context * ctx, const llama_sampleattn_layer & layer);
