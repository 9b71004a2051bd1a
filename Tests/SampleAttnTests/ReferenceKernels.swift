#if canImport(Glibc)
import Glibc
#endif
@testable import SampleAttn

/// Scalar reference kernels with the micro-kernels' signatures (BLIS style): one output element
/// at a time, each a float32 fused multiply-add chain in the same order as the vector lanes, so
/// a kernel and its reference agree bit for bit.
enum ReferenceKernels {
    /// s[r*lds + t] = sum_c q[c*6 + r] * kt[c*16 + t], r in 0..<6, t in 0..<16.
    static func scoreTile(_ q: UnsafePointer<Float>, _ kt: UnsafePointer<Float>, _ dim: Int,
                          _ s: UnsafeMutablePointer<Float>, _ lds: Int) {
        for r in 0..<KernelTraits.rows {
            for t in 0..<KernelTraits.keyTile {
                var acc: Float = 0
                for c in 0..<dim { acc = acc.addingProduct(q[c * KernelTraits.rows + r], kt[c * KernelTraits.keyTile + t]) }
                s[r * lds + t] = acc
            }
        }
    }

    /// o[r*ldo + c] += sum_{j in ja..<jb} p[r*ldp + j] * v[j*ldv + c], r in 0..<6, c in 0..<width.
    static func valueTile(width: Int, _ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ ldv: Int,
                          _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>, _ ldo: Int) {
        for r in 0..<KernelTraits.rows {
            for c in 0..<width {
                var acc = o[r * ldo + c]
                for j in ja..<jb { acc = acc.addingProduct(p[r * ldp + j], v[j * ldv + c]) }
                o[r * ldo + c] = acc
            }
        }
    }

    static func valueTile16(_ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ ldv: Int,
                            _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>, _ ldo: Int) {
        valueTile(width: 16, p, ldp, v, ldv, ja, jb, o, ldo)
    }

    static func valueTile8(_ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ ldv: Int,
                           _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>, _ ldo: Int) {
        valueTile(width: 8, p, ldp, v, ldv, ja, jb, o, ldo)
    }

    /// O[6 x dim] += P[6 x (ja..<jb)] * V[(ja..<jb) x dim], V rows of dim floats.
    static func valueRows(_ p: UnsafePointer<Float>, _ ldp: Int, _ v: UnsafePointer<Float>, _ dim: Int,
                          _ ja: Int, _ jb: Int, _ o: UnsafeMutablePointer<Float>) {
        valueTile(width: dim, p, ldp, v, dim, ja, jb, o, dim)
    }

    /// sum of row[a..<b]: lane l sums row[a + l + 8k] in order, the lanes fold as hsum does
    /// ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), then the tail is added in order.
    static func rangeSum(_ row: UnsafePointer<Float>, _ a: Int, _ b: Int) -> Float {
        let full = (b - a) / 8 * 8
        var lanes = [Float](repeating: 0, count: 8)
        for j in 0..<full { lanes[j % 8] += row[a + j] }
        var tail: Float = 0
        for j in (a + full)..<max(a + full, b) { tail += row[j] }
        let h = (0..<4).map { lanes[$0] + lanes[$0 + 4] }
        return ((h[0] + h[2]) + (h[1] + h[3])) + tail
    }

    /// dst[j] += src[j] * scale (fused on the 8-lane part, as the vector code does), returning
    /// rangeSum(src, 0, n).
    static func addScaledSum(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int,
                             _ scale: Float) -> Float {
        let full = n / 8 * 8
        for j in 0..<full { dst[j] = dst[j].addingProduct(src[j], scale) }
        for j in full..<max(full, n) { dst[j] += src[j] * scale }
        return rangeSum(src, 0, n)
    }

    /// 2^x per lane from the C library's float32 exp2f; 0 below -126, as the kernel documents.
    static func exp2v(_ x: F8) -> F8 {
        var r = F8()
        for i in 0..<8 { r[i] = x[i] < -126 ? 0 : exp2f(x[i]) }
        return r
    }
}
