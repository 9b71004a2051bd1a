/// The two register-blocked products of attention, on packed float32 panels.
///
/// Scores: S[6 x 16] = Q[6 x d] * Kt[d x 16] with Kt a packed key tile (16 keys, dim-major),
/// 12 accumulators, per dim: 2 key loads, 6 broadcasts, 12 FMAs (BLIS-style outer product).
/// Values: O[6 x 16] += P[6 x n] * V[n x 16], same shape with V rows as the vector operand.
/// Neither kernel knows about threads, masks or softmax.

/// s[r*lds + 0..<16] = Q row r . key tile, for r in 0..<6, with q a packed query tile
/// (dim-major: q[c*6 + r]) so all six broadcasts come from one pointer.
@inline(__always)
func scoreTile(_ q: UnsafePointer<Float>, _ kt: UnsafePointer<Float>, _ dim: Int,
               _ s: UnsafeMutablePointer<Float>, _ lds: Int) {
    scoreTile(q, kt, dim, s, lds, rowMax: nil)
}

/// scoreTile that also folds the tile's scores into per-row running maxima (6 vectors), so a
/// full row's max needs no extra pass over its scores.
@inline(__always)
func scoreTile(_ q: UnsafePointer<Float>, _ kt: UnsafePointer<Float>, _ dim: Int,
               _ s: UnsafeMutablePointer<Float>, _ lds: Int, rowMax: UnsafeMutablePointer<F8>?) {
    var a00 = F8(), a01 = F8(), a10 = F8(), a11 = F8(), a20 = F8(), a21 = F8()
    var a30 = F8(), a31 = F8(), a40 = F8(), a41 = F8(), a50 = F8(), a51 = F8()
    var kp = kt, qp = q
    for _ in 0..<dim {
        let k0 = load8(kp), k1 = load8(kp + 8)
        var b = F8(repeating: qp[0]); a00 = a00.addingProduct(b, k0); a01 = a01.addingProduct(b, k1)
        b = F8(repeating: qp[1]); a10 = a10.addingProduct(b, k0); a11 = a11.addingProduct(b, k1)
        b = F8(repeating: qp[2]); a20 = a20.addingProduct(b, k0); a21 = a21.addingProduct(b, k1)
        b = F8(repeating: qp[3]); a30 = a30.addingProduct(b, k0); a31 = a31.addingProduct(b, k1)
        b = F8(repeating: qp[4]); a40 = a40.addingProduct(b, k0); a41 = a41.addingProduct(b, k1)
        b = F8(repeating: qp[5]); a50 = a50.addingProduct(b, k0); a51 = a51.addingProduct(b, k1)
        kp += 16
        qp += 6
    }
    store8(a00, s); store8(a01, s + 8)
    store8(a10, s + lds); store8(a11, s + lds + 8)
    store8(a20, s + 2 * lds); store8(a21, s + 2 * lds + 8)
    store8(a30, s + 3 * lds); store8(a31, s + 3 * lds + 8)
    store8(a40, s + 4 * lds); store8(a41, s + 4 * lds + 8)
    store8(a50, s + 5 * lds); store8(a51, s + 5 * lds + 8)
    if let m = rowMax {
        m[0] = vmax(m[0], vmax(a00, a01)); m[1] = vmax(m[1], vmax(a10, a11))
        m[2] = vmax(m[2], vmax(a20, a21)); m[3] = vmax(m[3], vmax(a30, a31))
        m[4] = vmax(m[4], vmax(a40, a41)); m[5] = vmax(m[5], vmax(a50, a51))
    }
}

/// o[r*ldo + 0..<16] += sum_{j in ja..<jb} p[r*ldp + j] * v[j*ldv + 0..<16], r in 0..<6.
@inline(__always)
func valueTile16(_ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ ldv: Int,
                 _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>, _ ldo: Int) {
    var a00 = load8(o), a01 = load8(o + 8)
    var a10 = load8(o + ldo), a11 = load8(o + ldo + 8)
    var a20 = load8(o + 2 * ldo), a21 = load8(o + 2 * ldo + 8)
    var a30 = load8(o + 3 * ldo), a31 = load8(o + 3 * ldo + 8)
    var a40 = load8(o + 4 * ldo), a41 = load8(o + 4 * ldo + 8)
    var a50 = load8(o + 5 * ldo), a51 = load8(o + 5 * ldo + 8)
    let p0 = p, p1 = p + ldp, p2 = p + 2 * ldp, p3 = p + 3 * ldp, p4 = p + 4 * ldp, p5 = p + 5 * ldp
    var vp = v + ja * ldv
    for j in ja..<jb {
        let v0 = load8(vp), v1 = load8(vp + 8)
        vp += ldv
        var b = F8(repeating: p0[j]); a00 = a00.addingProduct(b, v0); a01 = a01.addingProduct(b, v1)
        b = F8(repeating: p1[j]); a10 = a10.addingProduct(b, v0); a11 = a11.addingProduct(b, v1)
        b = F8(repeating: p2[j]); a20 = a20.addingProduct(b, v0); a21 = a21.addingProduct(b, v1)
        b = F8(repeating: p3[j]); a30 = a30.addingProduct(b, v0); a31 = a31.addingProduct(b, v1)
        b = F8(repeating: p4[j]); a40 = a40.addingProduct(b, v0); a41 = a41.addingProduct(b, v1)
        b = F8(repeating: p5[j]); a50 = a50.addingProduct(b, v0); a51 = a51.addingProduct(b, v1)
    }
    store8(a00, o); store8(a01, o + 8)
    store8(a10, o + ldo); store8(a11, o + ldo + 8)
    store8(a20, o + 2 * ldo); store8(a21, o + 2 * ldo + 8)
    store8(a30, o + 3 * ldo); store8(a31, o + 3 * ldo + 8)
    store8(a40, o + 4 * ldo); store8(a41, o + 4 * ldo + 8)
    store8(a50, o + 5 * ldo); store8(a51, o + 5 * ldo + 8)
}

/// The 8-wide variant for a head_dim that is an odd multiple of 8.
@inline(__always)
func valueTile8(_ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ ldv: Int,
                _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>, _ ldo: Int) {
    var a0 = load8(o), a1 = load8(o + ldo), a2 = load8(o + 2 * ldo)
    var a3 = load8(o + 3 * ldo), a4 = load8(o + 4 * ldo), a5 = load8(o + 5 * ldo)
    let p0 = p, p1 = p + ldp, p2 = p + 2 * ldp, p3 = p + 3 * ldp, p4 = p + 4 * ldp, p5 = p + 5 * ldp
    var vp = v + ja * ldv
    for j in ja..<jb {
        let v0 = load8(vp)
        vp += ldv
        a0 = a0.addingProduct(F8(repeating: p0[j]), v0)
        a1 = a1.addingProduct(F8(repeating: p1[j]), v0)
        a2 = a2.addingProduct(F8(repeating: p2[j]), v0)
        a3 = a3.addingProduct(F8(repeating: p3[j]), v0)
        a4 = a4.addingProduct(F8(repeating: p4[j]), v0)
        a5 = a5.addingProduct(F8(repeating: p5[j]), v0)
    }
    store8(a0, o); store8(a1, o + ldo); store8(a2, o + 2 * ldo)
    store8(a3, o + 3 * ldo); store8(a4, o + 4 * ldo); store8(a5, o + 5 * ldo)
}

/// O[6 x dim] += P[6 x (ja..<jb)] * V[(ja..<jb) x dim]
@inline(__always)
func valueRows(_ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ dim: Int,
               _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>) {
    var c = 0
    while c + 16 <= dim { valueTile16(p, ldp, v + c, dim, ja, jb, o + c, dim); c += 16 }
    if c < dim { valueTile8(p, ldp, v + c, dim, ja, jb, o + c, dim) }
}
