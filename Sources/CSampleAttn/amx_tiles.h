/* Shared pieces of the AMX-BF16 kernels (rowtile_amx.c, sample_amx.c): the tile configuration,
   bf16 pairs, and S = Q K^T on tiles. Included after <immintrin.h> inside `#if defined(__x86_64__)`.
   The caller (cpu_isa.c) has asked Linux for tile data permission before the first call. */
#ifndef SAC_AMX_TILES_H
#define SAC_AMX_TILES_H
#include <string.h>

#define SAC_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

#if defined(SAC_AMX_EMULATE)
#include "amx_emulation.h"  /* tests only: the tile instructions in C (Tests/isa) */
#endif

/* 16 rows x 64 bytes for every tile: tmm0-3 float32 accumulators (16 x 16), tmm4 the A operand
   (16 rows x 32 bf16), tmm6-7 B operands (16 pairs x 16 columns x 2 bf16, "VNNI" layout). */
typedef struct { uint8_t palette, start_row, reserved[14]; uint16_t colsb[16]; uint8_t rows[16]; } sac_tile_config;

SAC_AMX static inline void sac_tiles_configure(void) {
    sac_tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) { c.colsb[i] = 64; c.rows[i] = 16; }
    _tile_loadconfig(&c);
}

/* x rounded to bf16 (nearest even, NaN quieted), its bits; values that are bf16 already keep theirs. */
static inline uint16_t sac_bf16_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40u);
    return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

/* Rows r0 ... r0 + 15 of packQueries' tiles (row r, dim c at q[(r/6)*6*dim + c*6 + r%6]) as 16
   bf16 rows, dim apart; rows from `rows` on are zero. */
static inline void sac_query_tile_bf16(const float *q, int32_t r0, int32_t rows, int32_t dim, uint16_t *qa) {
    for (int32_t r = 0; r < 16; r++)
        for (int32_t c = 0; c < dim; c++) {
            int32_t g = r0 + r;
            qa[(int64_t)r * dim + c] = g < rows ? sac_bf16_bits(q[(g / 6) * 6 * dim + c * 6 + g % 6]) : 0;
        }
}

/* Two float32 vectors -> 16 lanes of (bf16(lo), bf16(hi)) pairs, rounded to nearest even. */
SAC_AMX static inline __m512i sac_pair_bf16(__m512 lo, __m512 hi) {
    __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

/* S[16 x 16n] (n in 1..4) = the 16 bf16 rows at qa (dim apart) times key tiles kb, kb + 16 dim,
   ... (sac_pack_keys_bf16's layout), stored at s with rows lds floats apart. */
SAC_AMX static inline void sac_tile_scores(const uint16_t *qa, const uint16_t *kb, int dim, float *s, int lds, int n) {
    const size_t ldq = (size_t)dim * 2, ldsb = (size_t)lds * 4;
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (int c = 0; c < dim; c += 32) {
        _tile_loadd(4, qa + c, ldq);
        const uint16_t *k = kb + c * 16;   /* pair row c/2 of the tile */
        _tile_loadd(6, k, 64); _tile_dpbf16ps(0, 4, 6);
        if (n > 1) { _tile_loadd(6, k + 16 * dim, 64); _tile_dpbf16ps(1, 4, 6); }
        if (n > 2) { _tile_loadd(6, k + 32 * dim, 64); _tile_dpbf16ps(2, 4, 6); }
        if (n > 3) { _tile_loadd(6, k + 48 * dim, 64); _tile_dpbf16ps(3, 4, 6); }
    }
    _tile_stored(0, s, ldsb);
    if (n > 1) _tile_stored(1, s + 16, ldsb);
    if (n > 2) _tile_stored(2, s + 32, ldsb);
    if (n > 3) _tile_stored(3, s + 48, ldsb);
}
#endif
