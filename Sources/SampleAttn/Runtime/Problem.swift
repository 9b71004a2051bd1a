import CSampleAttn

/// One validated attention call: the views, their shape relations and the resolved scale.
struct Problem {
    let q: TensorView
    let k: TensorView
    let v: TensorView?          // nil when only planning
    let out: TensorView?        // nil when only planning
    let lse: UnsafeMutablePointer<Float>?
    let sq: Int                 // query rows
    let sk: Int                 // keys
    let hq: Int                 // query heads
    let hkv: Int                // key/value heads
    let dim: Int
    let scale: Float            // logit scale (resolved from params.scale)

    var groupSize: Int { hq / hkv }
    /// Absolute position of query row i.
    @inline(__always) func position(ofRow i: Int) -> Int { sk - sq + i }

    /// Validates q, k (and v, out, lse when given) in a fixed order so each bad input class
    /// reports its own status. Nothing is written. `scale` is sa_params.scale (0 = 1/sqrt(d)).
    init(q qp: UnsafePointer<sa_tensor>?, k kp: UnsafePointer<sa_tensor>?,
         v vp: UnsafePointer<sa_tensor>?, out op: UnsafePointer<sa_tensor>?,
         lse: UnsafeMutablePointer<Float>?, scale requested: Float, needsValues: Bool) throws {
        let q = try TensorView(qp, name: "q")
        let k = try TensorView(kp, name: "k")
        let v = needsValues ? try TensorView(vp, name: "v") : nil
        let out = needsValues ? try TensorView(op, name: "out") : nil
        guard k.dim == q.dim, v.map({ $0.dim == q.dim }) ?? true, out.map({ $0.dim == q.dim }) ?? true else {
            throw SAError(SA_ERR_UNSUPPORTED_HEAD_DIM, "head_dim differs: q \(q.dim), k \(k.dim), v \(v?.dim ?? k.dim), out \(out?.dim ?? q.dim)")
        }
        if let v, v.heads != k.heads {
            throw SAError(SA_ERR_GQA_MISMATCH, "k has \(k.heads) heads but v has \(v.heads)")
        }
        guard q.heads % k.heads == 0 else {
            throw SAError(SA_ERR_GQA_MISMATCH, "query heads \(q.heads) are not a multiple of key/value heads \(k.heads)")
        }
        if let v, v.tokens != k.tokens {
            throw SAError(SA_ERR_SEQ_MISMATCH, "k has \(k.tokens) tokens but v has \(v.tokens)")
        }
        guard q.tokens <= k.tokens else {
            throw SAError(SA_ERR_SEQ_MISMATCH, "q has \(q.tokens) tokens, more than k's \(k.tokens) (queries are the last S_q positions)")
        }
        if let out, out.tokens != q.tokens || out.heads != q.heads {
            throw SAError(SA_ERR_SEQ_MISMATCH, "out shape [\(out.tokens), \(out.heads), \(out.dim)] differs from q [\(q.tokens), \(q.heads), \(q.dim)]")
        }
        // Index arithmetic of the kernels stays within int64 for these sizes.
        _ = try checkedProduct(q.heads, q.tokens, k.tokens, what: "H_q * S_q * S_k")
        if let out {
            let o = out.byteSpan
            for (name, view) in [("q", q), ("k", k), ("v", v!)] where spansOverlap(o, view.byteSpan) {
                throw SAError(SA_ERR_ALIASING, "out overlaps \(name): the output must not share memory with an input")
            }
        }
        if let lse {
            let bytes = try checkedProduct(q.heads, q.tokens, 4, what: "lse")
            let lo = UInt(bitPattern: lse)
            let (hi, o) = lo.addingReportingOverflow(UInt(bytes))
            if o { throw SAError(SA_ERR_OVERFLOW, "lse buffer overflows the address space") }
            var others = [("q", q.byteSpan), ("k", k.byteSpan)]
            if let v { others.append(("v", v.byteSpan)) }
            if let out { others.append(("out", out.byteSpan)) }
            for (name, span) in others where spansOverlap((lo, hi), span) {
                throw SAError(SA_ERR_ALIASING, "lse overlaps \(name)")
            }
        }
        self.q = q
        self.k = k
        self.v = v
        self.out = out
        self.lse = lse
        sq = q.tokens
        sk = k.tokens
        hq = q.heads
        hkv = k.heads
        dim = q.dim
        scale = requested == 0 ? 1 / Float(q.dim).squareRoot() : requested
    }
}
