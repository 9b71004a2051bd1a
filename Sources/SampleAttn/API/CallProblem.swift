import CSampleAttn

extension Problem {
    /// The problem of one API call, with the logit scale its parameters ask for.
    init(q: UnsafePointer<sa_tensor>?, k: UnsafePointer<sa_tensor>?, v: UnsafePointer<sa_tensor>?,
         out: UnsafePointer<sa_tensor>?, lse: UnsafeMutablePointer<Float>?, params: Params, needsValues: Bool) throws {
        try self.init(q: q, k: k, v: v, out: out, lse: lse, scale: params.scale, needsValues: needsValues)
    }
}
