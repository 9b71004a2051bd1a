/* Row conversion between the caller's dtypes and float32. F16C does f16 in hardware;
   bf16 is the top half of a float32. Compiled for x86-64-v3 like the Swift kernels. */
#include "csampleattn.h"
#include <string.h>
#include <math.h>
#if defined(__x86_64__) && defined(__F16C__) && defined(__AVX2__)
#include <immintrin.h>
#define SAC_X86 1
#endif

static float f16_to_f32_scalar(uint16_t h) {
#ifdef SAC_X86
    return _cvtsh_ss(h);
#else
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) { bits = sign; }
        else { float f = ldexpf((float)man, -24); memcpy(&bits, &f, 4); bits |= sign; }
    } else if (exp == 31) { bits = sign | 0x7f800000u | (man << 13); }
    else { bits = sign | ((exp + 112) << 23) | (man << 13); }
    float f; memcpy(&f, &bits, 4); return f;
#endif
}

static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16; float f; memcpy(&f, &bits, 4); return f;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t bits; memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u);                                         /* nearest even */
    return (uint16_t)(bits >> 16);
}

/* Caller tensors need no alignment (the API takes void *): their elements are read and written
   through memcpy, which is one unaligned move on x86 and no undefined behaviour anywhere. */
static inline float load_f32(const unsigned char *p) { float f; memcpy(&f, p, 4); return f; }
static inline uint16_t load_u16(const unsigned char *p) { uint16_t h; memcpy(&h, p, 2); return h; }
static inline void store_u16(unsigned char *p, uint16_t h) { memcpy(p, &h, 2); }

void sac_load_f32(const void *src, int32_t dtype, float *dst, int64_t n, float mul) {
    int64_t i = 0;
    const unsigned char *s = (const unsigned char *)src;
    if (dtype == 0) {
        for (; i < n; i++) dst[i] = load_f32(s + 4 * i) * mul;
    } else if (dtype == 1) {
#ifdef SAC_X86
        __m256 m = _mm256_set1_ps(mul);
        for (; i + 8 <= n; i += 8) {
            __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(s + 2 * i)));
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(x, m));
        }
#endif
        for (; i < n; i++) dst[i] = f16_to_f32_scalar(load_u16(s + 2 * i)) * mul;
    } else {
        for (; i < n; i++) dst[i] = bf16_to_f32(load_u16(s + 2 * i)) * mul;
    }
}

void sac_store_f32(const float *src, void *dst, int32_t dtype, int64_t n) {
    int64_t i = 0;
    if (dtype == 0) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (dtype == 1) {
        unsigned char *d = (unsigned char *)dst;
#ifdef SAC_X86
        for (; i + 8 <= n; i += 8) {
            __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
            _mm_storeu_si128((__m128i *)(void *)(d + 2 * i), h);
        }
        for (; i < n; i++) store_u16(d + 2 * i, (uint16_t)_cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT));
#else
        for (; i < n; i++) { _Float16 h = (_Float16)src[i]; memcpy(d + 2 * i, &h, 2); }
#endif
    } else {
        unsigned char *d = (unsigned char *)dst;
        for (; i < n; i++) store_u16(d + 2 * i, f32_to_bf16(src[i]));
    }
}
