import CSampleAttn

/// A validated view of caller memory: [tokens, heads, dim], strides in elements, dim stride 1.
struct TensorView {
    let base: UnsafeMutableRawPointer
    let dtype: Int32
    let tokens: Int
    let heads: Int
    let dim: Int
    let strideToken: Int
    let strideHead: Int
    let elementSize: Int

    /// Byte address range [lo, hi) that the view's elements span.
    var byteSpan: (lo: UInt, hi: UInt) {
        let last = (tokens - 1) * strideToken + (heads - 1) * strideHead + dim   // in elements, checked in init
        let lo = UInt(bitPattern: base)
        return (lo, lo + UInt(last * elementSize))
    }

    @inline(__always)
    func row(token: Int, head: Int) -> UnsafeMutableRawPointer {
        base + (token * strideToken + head * strideHead) * elementSize
    }

    /// Validates one sa_tensor. `name` goes into the messages ("q", "k", ...).
    init(_ pointer: UnsafePointer<sa_tensor>?, name: String) throws {
        guard let t = pointer?.pointee else { throw SAError(SA_ERR_NULL_ARGUMENT, "\(name) is NULL") }
        guard let data = t.data else { throw SAError(SA_ERR_NULL_ARGUMENT, "\(name).data is NULL") }
        switch t.dtype {
        case SA_DTYPE_F32: elementSize = 4
        case SA_DTYPE_F16, SA_DTYPE_BF16: elementSize = 2
        default: throw SAError(SA_ERR_INVALID_DTYPE, "\(name).dtype \(t.dtype) is not SA_DTYPE_F32 (0), SA_DTYPE_F16 (1) or SA_DTYPE_BF16 (2)")
        }
        guard t.reserved == 0 else { throw SAError(SA_ERR_INVALID_STRIDE, "\(name).reserved must be 0") }
        guard t.n_tokens > 0, t.n_heads > 0, t.head_dim > 0 else {
            throw SAError(SA_ERR_INVALID_SHAPE, "\(name) shape [\(t.n_tokens), \(t.n_heads), \(t.head_dim)] has a size <= 0")
        }
        guard t.head_dim % Int64(ShapeLimits.headDimMultiple) == 0, t.head_dim <= Int64(ShapeLimits.maxHeadDim) else {
            throw SAError(SA_ERR_UNSUPPORTED_HEAD_DIM, "\(name).head_dim \(t.head_dim) is not supported (multiples of \(ShapeLimits.headDimMultiple) up to \(ShapeLimits.maxHeadDim))")
        }
        guard t.stride_token >= 0, t.stride_head >= 0 else {
            throw SAError(SA_ERR_INVALID_STRIDE, "\(name) strides (\(t.stride_token), \(t.stride_head)) must be >= 0")
        }
        // Sizes beyond 2^40 elements per dimension cannot be real and keep the arithmetic below safe.
        let limit: Int64 = 1 << 40
        guard t.n_tokens < limit, t.n_heads < limit, t.stride_token < limit, t.stride_head < limit else {
            throw SAError(SA_ERR_OVERFLOW, "\(name) sizes or strides exceed 2^40 elements")
        }
        let tokens = Int(t.n_tokens), heads = Int(t.n_heads), dim = Int(t.head_dim)
        var st = Int(t.stride_token), sh = Int(t.stride_head)
        if st == 0 && sh == 0 {
            st = try checkedProduct(heads, dim, what: name)
            sh = dim
        }
        // Extent in elements of the whole view, and in bytes from the base pointer.
        let (a, o1) = (tokens - 1).multipliedReportingOverflow(by: st)
        let (b, o2) = (heads - 1).multipliedReportingOverflow(by: sh)
        let (ab, o3) = a.addingReportingOverflow(b)
        let (extent, o4) = ab.addingReportingOverflow(dim)
        let (bytes, o5) = extent.multipliedReportingOverflow(by: elementSize)
        let (_, o6) = UInt(bitPattern: data).addingReportingOverflow(UInt(max(bytes, 0)))
        // No real view spans more than 2^47 bytes (the x86-64 user address space).
        if o1 || o2 || o3 || o4 || o5 || o6 || bytes > 1 << 47 {
            throw SAError(SA_ERR_OVERFLOW, "\(name) strides (\(st), \(sh)) with shape [\(tokens), \(heads), \(dim)] overflow the address space")
        }
        // Non-overlap: order the two outer dimensions by stride; each stride must step past the
        // whole block of the dimensions inside it. Dimensions of size 1 need no stride.
        var dims = [(stride: st, count: tokens), (stride: sh, count: heads)].filter { $0.count > 1 }
        dims.sort { $0.stride < $1.stride }
        var inner = dim
        for d in dims {
            if d.stride < inner {
                throw SAError(SA_ERR_OVERLAPPING_VIEW, "\(name) strides (token \(st), head \(sh)) make elements overlap (shape [\(tokens), \(heads), \(dim)])")
            }
            inner = d.stride * (d.count - 1) + inner
        }
        base = data
        dtype = t.dtype
        self.tokens = tokens
        self.heads = heads
        self.dim = dim
        strideToken = st
        strideHead = sh
    }
}

/// True when the byte ranges [a.lo, a.hi) and [b.lo, b.hi) intersect.
func spansOverlap(_ a: (lo: UInt, hi: UInt), _ b: (lo: UInt, hi: UInt)) -> Bool {
    a.lo < b.hi && b.lo < a.hi
}
