/* Scalar twins of VectorMath.swift's reductions, one lane at a time and in the Swift order, for
   the reference kernels (rowtile_ref.c, sample_ref.c). */
#ifndef SAC_REF_MATH_H
#define SAC_REF_MATH_H

#include <math.h>
#include <stdint.h>

#pragma STDC FP_CONTRACT OFF   /* a*b + c stays two roundings, as in Swift */

/* Swift's max(x, y) (y >= x ? y : x) and the SIMD vmax (compare + blend). */
static inline float swift_max(float x, float y) { return y >= x ? y : x; }
static inline float vmax1(float a, float b) { return a < b ? b : a; }

/* hmax's fold of 8 lanes: halves, then pairs. */
static inline float hmax_ref(const float *mv) {
    float h[4];
    for (int i = 0; i < 4; i++) h[i] = mv[i] < mv[i + 4] ? mv[i + 4] : mv[i];
    return swift_max(swift_max(h[0], h[1]), swift_max(h[2], h[3]));
}

/* The Swift rowMax over row[a..<b]: 8 running lane maxima, hmax, then the tail in order. */
static inline float row_max_ref(const float *row, int64_t a, int64_t b) {
    float mv[8];
    for (int i = 0; i < 8; i++) mv[i] = -INFINITY;
    int64_t j = a;
    for (; j + 8 <= b; j += 8)
        for (int i = 0; i < 8; i++) mv[i] = vmax1(mv[i], row[j + i]);
    float m = hmax_ref(mv);
    for (; j < b; j++) m = swift_max(m, row[j]);
    return m;
}

#endif
