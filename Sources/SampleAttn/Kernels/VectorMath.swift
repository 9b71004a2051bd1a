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

/// Lane-wise max/min written with compare+blend: the standard library's generic
/// pointwiseMax/.max() are not inlined and cost a function call per vector.
@inline(__always) func vmax(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: a .< b) }
@inline(__always) func vmin(_ a: F8, _ b: F8) -> F8 { a.replacing(with: b, where: b .< a) }
@inline(__always) func hmax(_ v: F8) -> Float {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.lowHalf .< v.highHalf)
    return max(max(a[0], a[1]), max(a[2], a[3]))
}
@inline(__always) func hsum(_ v: F8) -> Float {
    let a = v.lowHalf + v.highHalf
    return (a[0] + a[2]) + (a[1] + a[3])
}

/// 2^x for 8 lanes. Range reduction to f in [-0.5, 0.5] and a degree-6 polynomial
/// (Taylor of e^(f ln 2); truncation error < 2e-7 relative, below float32 rounding of the
/// products it feeds). Inputs below -126 (including -inf) give exactly 0, so masked or
/// negligible scores never produce denormals. Rounding uses the 1.5*2^23 trick: adding it
/// leaves round(x) in the low mantissa bits, which become the exponent without a conversion.
@inline(__always)
func exp2v(_ x: F8) -> F8 {
    let xc = vmin(vmax(x, F8(repeating: -126)), F8(repeating: 126))
    let magic = F8(repeating: 12582912)   // 1.5 * 2^23
    let t = xc + magic
    let n = t - magic
    let f = xc - n
    var p = F8(repeating: 1.5403530393381606e-4)
    p = F8(repeating: 1.3333558146428443e-3).addingProduct(p, f)
    p = F8(repeating: 9.618129107628477e-3).addingProduct(p, f)
    p = F8(repeating: 5.550410866482158e-2).addingProduct(p, f)
    p = F8(repeating: 0.2402265069591007).addingProduct(p, f)
    p = F8(repeating: 0.6931471805599453).addingProduct(p, f)
    p = F8(repeating: 1).addingProduct(p, f)
    let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    let scale = unsafeBitCast(bits, to: F8.self)
    return (p * scale).replacing(with: 0, where: x .< F8(repeating: -126))
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
    var mv = F8(repeating: -.infinity)
    while j + 8 <= b { mv = vmax(mv, load8(row + j)); j += 8 }
    var m = hmax(mv)
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
    var total = hsum(acc)
    while j < b { let e = exp2s(row[j] - shift); row[j] = e; total += e; j += 1 }
    return total
}

/// row[a..<b] = value
@inline(__always)
func fillRange(_ row: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int, _ value: Float) {
    var j = a
    while j < b { row[j] = value; j += 1 }
}

/// row[a..<b] = 0
@inline(__always)
func zeroRange(_ row: UnsafeMutablePointer<Float>, _ a: Int, _ b: Int) {
    if b > a { row.advanced(by: a).update(repeating: 0, count: b - a) }
}

/// The sum of row[a..<b], 8 lanes then across them (a fixed order: the same bits on any thread).
@inline(__always)
func rangeSum(_ row: UnsafePointer<Float>, _ a: Int, _ b: Int) -> Float {
    var acc = F8()
    var j = a
    while j + 8 <= b { acc += load8(row + j); j += 8 }
    var tail: Float = 0
    while j < b { tail += row[j]; j += 1 }
    return hsum(acc) + tail
}

/// addScaled that also returns the sum of src[0..<n] (rangeSum's order): one pass over src.
@inline(__always)
func addScaledSum(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int, _ scale: Float) -> Float {
    let sv = F8(repeating: scale)
    var acc = F8()
    var j = 0
    while j + 8 <= n {
        let x = load8(src + j)
        acc += x
        store8(load8(dst + j).addingProduct(x, sv), dst + j)
        j += 8
    }
    var tail: Float = 0
    while j < n { tail += src[j]; dst[j] += src[j] * scale; j += 1 }
    return hsum(acc) + tail
}

/// dst[0..<n] += src[0..<n]
@inline(__always)
func addInto(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n { store8(load8(dst + j) + load8(src + j), dst + j); j += 8 }
    while j < n { dst[j] += src[j]; j += 1 }
}

/// dst[0..<n] += src[0..<n] * scale
@inline(__always)
func addScaled(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int, _ scale: Float) {
    let sv = F8(repeating: scale)
    var j = 0
    while j + 8 <= n { store8(load8(dst + j).addingProduct(load8(src + j), sv), dst + j); j += 8 }
    while j < n { dst[j] += src[j] * scale; j += 1 }
}
