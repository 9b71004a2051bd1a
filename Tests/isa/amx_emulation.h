/* Tests only: the AMX tile instructions that rowtile_amx.c uses, in plain C, so that its logic
   (tile ranges, masks, softmax, operand layouts) runs against the float64 oracle on CPUs without
   AMX, as in CI. Included by rowtile_amx.c when SAC_AMX_EMULATE is defined, after <immintrin.h>.
   Every tile is 16 rows x 64 bytes (the kernel's only configuration). */
#ifndef SAC_AMX_EMULATION_H
#define SAC_AMX_EMULATION_H
#include <math.h>
#include <stdint.h>
#include <string.h>

static __thread uint8_t emu_tiles[8][16][64];

static inline void emu_tile_loadd(int t, const void *base, size_t stride) {
    for (int r = 0; r < 16; r++) memcpy(emu_tiles[t][r], (const uint8_t *)base + r * stride, 64);
}
static inline void emu_tile_stored(int t, void *base, size_t stride) {
    for (int r = 0; r < 16; r++) memcpy((uint8_t *)base + r * stride, emu_tiles[t][r], 64);
}
static inline float emu_bf16(const uint8_t *p) {
    uint32_t b = (uint32_t)(p[0] | p[1] << 8) << 16;
    float x;
    memcpy(&x, &b, 4);
    return x;
}
/* C[m][n] += sum over pairs k of A[m][2k] B[k][2n] + A[m][2k+1] B[k][2n+1], float32 sums. */
static inline void emu_tile_dpbf16ps(int c, int a, int b) {
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 16; n++) {
            float acc;
            memcpy(&acc, &emu_tiles[c][m][4 * n], 4);
            for (int k = 0; k < 16; k++) {
                acc = fmaf(emu_bf16(&emu_tiles[a][m][4 * k]), emu_bf16(&emu_tiles[b][k][4 * n]), acc);
                acc = fmaf(emu_bf16(&emu_tiles[a][m][4 * k + 2]), emu_bf16(&emu_tiles[b][k][4 * n + 2]), acc);
            }
            memcpy(&emu_tiles[c][m][4 * n], &acc, 4);
        }
}

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#define _tile_loadd(t, base, stride) emu_tile_loadd((t), (base), (size_t)(stride))
#define _tile_stored(t, base, stride) emu_tile_stored((t), (base), (size_t)(stride))
#define _tile_zero(t) memset(emu_tiles[(t)], 0, sizeof emu_tiles[0])
#define _tile_dpbf16ps(c, a, b) emu_tile_dpbf16ps((c), (a), (b))
#define _tile_loadconfig(cfg) ((void)(cfg))
#define _tile_release() ((void)0)
#endif
