import CSampleAttn

/// The float64 oracle: causal attention (optionally over a plan's mask) computed the plain way,
/// one row at a time. Slow on purpose; tests and `sampleattn` checks compare against it.
enum Reference {
    /// Reads element (t, h, c) of a view as Double.
    static func element(_ view: TensorView, _ t: Int, _ h: Int, _ c: Int) -> Double {
        var x: Float = 0
        sac_load_f32(view.row(token: t, head: h) + c * view.elementSize, view.dtype, &x, 1, 1)
        return Double(x)
    }

    /// Output [H_q, S_q, d] (head-major, float64) and lse [H_q, S_q]. `keep(h, p, j)` says
    /// whether head h's row at position p keeps key j (nil: every causal key).
    static func attention(_ pb: Problem, scale: Double,
                          keep: ((Int, Int, Int) -> Bool)? = nil) -> (out: [Double], lse: [Double]) {
        let dim = pb.dim, G = pb.groupSize
        var out = [Double](repeating: 0, count: pb.hq * pb.sq * dim)
        var lse = [Double](repeating: 0, count: pb.hq * pb.sq)
        var logits = [Double](repeating: 0, count: pb.sk)
        var kept = [Bool](repeating: false, count: pb.sk)
        for h in 0..<pb.hq {
            let g = h / G
            for i in 0..<pb.sq {
                let p = pb.position(ofRow: i)
                var m = -Double.infinity
                for j in 0...p {
                    kept[j] = keep?(h, p, j) ?? true
                    guard kept[j] else { continue }
                    var s = 0.0
                    for c in 0..<dim { s += element(pb.q, i, h, c) * element(pb.k, j, g, c) }
                    logits[j] = s * scale
                    m = max(m, logits[j])
                }
                var total = 0.0
                for j in 0...p where kept[j] {
                    let e = (logits[j] - m).exp
                    total += e
                    for c in 0..<dim { out[(h * pb.sq + i) * dim + c] += e * element(pb.v!, j, g, c) }
                }
                for c in 0..<dim { out[(h * pb.sq + i) * dim + c] /= total }
                lse[h * pb.sq + i] = m + total.log
            }
        }
        return (out, lse)
    }

    /// The keep-predicate of a plan (the mask the plan describes).
    static func mask(of plan: Plan) -> (Int, Int, Int) -> Bool {
        let sets = plan.heads.map { Set($0.indices) }
        return { h, p, j in
            let head = plan.heads[h]
            if head.dense { return true }
            return j > p - head.window || (j <= p - head.window && sets[h].contains(j))
        }
    }
}

private extension Double {
    var exp: Double { Glibc.exp(self) }
    var log: Double { Glibc.log(self) }
}

#if canImport(Glibc)
import Glibc
#endif
