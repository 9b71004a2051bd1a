/// SIMD helpers of the softmax: exp2 and reductions over float rows.
typealias F8 = SIMD8<Float>

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inline(__always)
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// 2^x for 8 lanes. Range reduction to f in [-0.5, 0.5] and a degree-6 polynomial
/// (Taylor of e^(f ln 2); truncation error < 2e-7 relative, below float32 rounding of the
/// products it feeds). Inputs below -126 (including -inf) give exactly 0, so masked or
/// negligible scores never produce denormals.
@inline(__always)
func exp2v(_ x: F8) -> F8 {
    let xc = x.clamped(lowerBound: F8(repeating: -126), upperBound: F8(repeating: 126))
    let n = xc.rounded(.toNearestOrEven)
    let f = xc - n
    var p = F8(repeating: 1.5403530393381606e-4)
    p = F8(repeating: 1.3333558146428443e-3).addingProduct(p, f)
    p = F8(repeating: 9.618129107628477e-3).addingProduct(p, f)
    p = F8(repeating: 5.550410866482158e-2).addingProduct(p, f)
    p = F8(repeating: 0.2402265069591007).addingProduct(p, f)
    p = F8(repeating: 0.6931471805599453).addingProduct(p, f)
    p = F8(repeating: 1).addingProduct(p, f)
    let e = (SIMD8<Int32>(n, rounding: .towardZero) &+ 127) &<< 23
    let scale = unsafeBitCast(e, to: F8.self)
    return (p * scale).replacing(with: 0, where: x .< -126)
}

/// Scalar 2^x with the same polynomial, for row edges, so a value never depends on whether
/// it fell in a vector or a tail.
@inline(__always)
func exp2s(_ x: Float) -> Float {
    exp2v(F8(repeating: x))[0]
}

/// max of row[a..<b] (b > a).
@inline(__always)
func rowMax(_ row: UnsafePointer<Float>, _ a: Int, _ b: Int) -> Float {
    var j = a
    var m = -Float.infinity
    var mv = F8(repeating: -.infinity)
    while j + 8 <= b { mv = pointwiseMax(mv, load8(row + j)); j += 8 }
    m = mv.max()
    while j < b { m = max(m, row[j]); j += 1 }
    return m
}

/// row[j] = 2^(row[j] - shift) for j in a..<b, returns the sum (lane-wise, then reduced).
@inline(__always)
func exp2InPlace(_ row: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int, shift: Float) -> Float {
    var j = a
    let s = F8(repeating: shift)
    var acc = F8()
    while j + 8 <= b {
        let e = exp2v(load8(row + j) - s)
        store8(e, row + j)
        acc += e
        j += 8
    }
    var total = acc.sum()
    while j < b { let e = exp2s(row[j] - shift); row[j] = e; total += e; j += 1 }
    return total
}

/// row[a..<b] = 0
@inline(__always)
func zeroRange(_ row: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int) {
    if b > a { row.advanced(by: a).update(repeating: 0, count: b - a) }
}
