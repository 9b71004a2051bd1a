/* Shared AVX-512 helpers of the float32 kernels (rowtile_avx512.c, sample_avx512.c): the
   operations of VectorMath.swift, so the kernels give the Swift path's results bit for bit.
   Included after <immintrin.h> inside `#if defined(__x86_64__)`. */
#ifndef SAC_AVX512_MATH_H
#define SAC_AVX512_MATH_H

#pragma STDC FP_CONTRACT OFF

#define SAC_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define SAC_INLINE static inline __attribute__((always_inline))

/* exp2v of VectorMath.swift on 16 lanes, bit for bit: the clamp at 126 (NaN kept), the
   1.5*2^23 rounding, the degree-6 polynomial, 0 below -126. The power of two is applied with
   vscalefps (p * 2^n exactly, one rounding), which equals exp2v's multiply by the exponent bits
   built from n, in 12 instructions instead of 19. */
SAC_INLINE SAC_AVX512 __m512 exp2_16(__m512 x) {
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_NLT_UQ);   /* NaN too */
    __m512 xc = _mm512_min_ps(_mm512_set1_ps(126.0f), x);   /* vminps returns x when x is NaN */
    __m512 n = _mm512_sub_ps(_mm512_add_ps(xc, magic), magic);
    __m512 f = _mm512_sub_ps(xc, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.2402265069591007f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931471805599453f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(keep, p, n);
}

SAC_INLINE SAC_AVX512 float swift_max(float x, float y) { return y >= x ? y : x; }

/* vmax of VectorMath.swift on 8 lanes (a < b ? b : a). */
SAC_INLINE SAC_AVX512 __m256 vmax8(__m256 a, __m256 b) {
    return _mm256_blendv_ps(a, b, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}

/* hmax of VectorMath.swift: halves lane-wise, then Swift's max over pairs. */
SAC_INLINE SAC_AVX512 float hmax8(__m256 v) {
    float h[8];
    _mm256_storeu_ps(h, v);
    for (int i = 0; i < 4; i++) h[i] = h[i] < h[i + 4] ? h[i + 4] : h[i];
    return swift_max(swift_max(h[0], h[1]), swift_max(h[2], h[3]));
}

/* hsum of VectorMath.swift: halves added, then (0 + 2) + (1 + 3). */
SAC_INLINE SAC_AVX512 float hsum8(__m256 v) {
    float h[8];
    _mm256_storeu_ps(h, v);
    for (int i = 0; i < 4; i++) h[i] = h[i] + h[i + 4];
    return (h[0] + h[2]) + (h[1] + h[3]);
}

#endif
