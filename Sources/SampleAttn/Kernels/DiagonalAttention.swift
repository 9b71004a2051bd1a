/// Diagonal stripes in the attention pass: each row of a seed head adds the keys p - d of its
/// head's diagonals to its running softmax. A diagonal gives every row a different key, so there
/// is no tile to share: these are per-row dot products against keys stored as rows.

/// dot(a[0..<dim], b[0..<dim]), dim a multiple of 8.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dim: Int) -> Float {
    var acc = F8()
    var c = 0
    while c < dim { acc = acc.addingProduct(load8(a + c), load8(b + c)); c += 8 }
    return hsum(acc)
}

/// Adds the keys p - d of the diagonal offsets `diagonals` (ascending) to the running softmax of
/// row r (at position p) of a query block. keys, values: [sk x dim] rows of the K/V head;
/// selected: 1 for the head's indices ([sk], their keys are attended already). Scores go through
/// w.s in chunks of keyBlock.
func attendDiagonals(_ diagonals: [Int], row r: Int, position p: Int, keys: UnsafePointer<Float>,
                     values: UnsafePointer<Float>, selected: UnsafePointer<UInt8>, dim: Int, _ w: BlockScratch) {
    let q = w.row
    unpackQuery(w.q, row: r, dim: dim, into: q)
    let s = w.s, picked = w.keys
    var n = 0
    func flush() {
        if n == 0 { return }
        for e in 0..<n { s[e] = dot(q, keys + picked[e] * dim, dim) }
        let m = max(w.m[r], rowMax(s, 0, n))
        let correction = exp2s(w.m[r] - m)
        let sum = exp2InPlace(s, 0, n, shift: m)
        let o = w.o + r * dim
        if correction != 1 {
            let cv = F8(repeating: correction)
            var c = 0
            while c < dim { store8(load8(o + c) * cv, o + c); c += 8 }
        }
        for e in 0..<n { addScaled(o, values + picked[e] * dim, dim, s[e]) }
        w.l[r] = w.l[r] * correction + sum
        w.m[r] = m
        n = 0
    }
    for d in diagonals {
        if d > p { break }
        let j = p - d
        if selected[j] != 0 { continue }
        picked[n] = j
        n += 1
        if n == KernelTraits.keyBlock { flush() }
    }
    flush()
}
