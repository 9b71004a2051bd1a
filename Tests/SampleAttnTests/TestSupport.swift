import XCTest
import Foundation
import CSampleAttn
import SampleAttn

/// Deterministic pseudo-random numbers (SplitMix64), so every test input is reproducible.
struct SeededRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

enum Layout: CaseIterable { case tokenMajor, headMajor, paddedCache }

/// A tensor owned by a test: [tokens, heads, dim] in a chosen dtype and memory layout.
final class HostTensor {
    let tokens: Int, heads: Int, dim: Int, dtype: Int32, layout: Layout
    let strideToken: Int, strideHead: Int, elementSize: Int
    let storage: UnsafeMutableRawPointer
    let capacity: Int   // elements

    init(tokens: Int, heads: Int, dim: Int, dtype: Int32 = SA_DTYPE_F32, layout: Layout = .tokenMajor) {
        self.tokens = tokens; self.heads = heads; self.dim = dim; self.dtype = dtype; self.layout = layout
        elementSize = dtype == SA_DTYPE_F32 ? 4 : 2
        switch layout {
        case .tokenMajor: strideToken = heads * dim; strideHead = dim; capacity = tokens * heads * dim
        case .headMajor: strideToken = dim; strideHead = tokens * dim; capacity = tokens * heads * dim
        case .paddedCache:   // a KV cache of 1.5x the tokens with padded rows (ggml-like views)
            let ctx = tokens + tokens / 2 + 3
            strideToken = dim + 8; strideHead = ctx * (dim + 8); capacity = heads * ctx * (dim + 8)
        }
        storage = .allocate(byteCount: capacity * elementSize, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0xAB, count: capacity * elementSize)
    }

    deinit { storage.deallocate() }

    var view: sa_tensor {
        sa_tensor(data: storage, dtype: dtype, reserved: 0, n_tokens: Int64(tokens), n_heads: Int64(heads),
                  head_dim: Int64(dim), stride_token: Int64(strideToken), stride_head: Int64(strideHead))
    }

    func offset(_ t: Int, _ h: Int, _ c: Int) -> Int { t * strideToken + h * strideHead + c }

    func set(_ t: Int, _ h: Int, _ c: Int, _ x: Float) {
        var x = x
        sac_store_f32(&x, storage + offset(t, h, c) * elementSize, dtype, 1)
    }

    func get(_ t: Int, _ h: Int, _ c: Int) -> Double {
        var x: Float = 0
        sac_load_f32(storage + offset(t, h, c) * elementSize, dtype, &x, 1, 1)
        return Double(x)
    }

    func fillRandom(_ rng: inout SeededRandom, amplitude: Float = 1) {
        for t in 0..<tokens { for h in 0..<heads { for c in 0..<dim { set(t, h, c, amplitude * rng.uniform()) } } }
    }

    /// Bytes of the whole storage, to check that a failed call left it untouched.
    var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: storage, count: capacity * elementSize)) }
}

/// q, k, v, out of one attention problem.
struct Case {
    let q: HostTensor, k: HostTensor, v: HostTensor, out: HostTensor

    init(sq: Int, sk: Int, hq: Int, hkv: Int, dim: Int, dtype: Int32 = SA_DTYPE_F32, layout: Layout = .tokenMajor,
         seed: UInt64 = 1, amplitude: Float = 1) {
        var rng = SeededRandom(seed)
        q = HostTensor(tokens: sq, heads: hq, dim: dim, dtype: dtype, layout: layout)
        k = HostTensor(tokens: sk, heads: hkv, dim: dim, dtype: dtype, layout: layout)
        v = HostTensor(tokens: sk, heads: hkv, dim: dim, dtype: dtype, layout: layout)
        out = HostTensor(tokens: sq, heads: hq, dim: dim, dtype: dtype, layout: layout)
        q.fillRandom(&rng, amplitude: amplitude); k.fillRandom(&rng, amplitude: amplitude); v.fillRandom(&rng)
    }

    /// Runs sa_attention; returns the status and lse.
    @discardableResult
    func run(_ params: sa_params, threads: Int32 = 2, lse: Bool = true, stats: UnsafeMutablePointer<sa_stats>? = nil,
             file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        let ctx = sa_context_new_impl(threads)
        defer { sa_context_free_impl(ctx) }
        var p = params, qv = q.view, kv = k.view, vv = v.view, ov = out.view
        var l = [Float](repeating: .nan, count: q.tokens * q.heads)
        let status = l.withUnsafeMutableBufferPointer { lb in
            sa_attention_impl(ctx, &p, &qv, &kv, &vv, &ov, lse ? lb.baseAddress : nil, stats)
        }
        XCTAssertEqual(status, SA_OK, String(cString: sa_context_last_error_impl(ctx)), file: file, line: line)
        return l
    }

    /// The float64 oracle over the same inputs: output [H_q, S_q, d] head-major and lse [H_q, S_q].
    /// `keep(h, p, j)` says whether head h's row at position p keeps key j (nil: all causal keys).
    func reference(scale: Double? = nil, keep: ((Int, Int, Int) -> Bool)? = nil) -> (out: [Double], lse: [Double]) {
        let sq = q.tokens, sk = k.tokens, dim = q.dim, G = q.heads / k.heads
        let scale = scale ?? 1 / Double(dim).squareRoot()
        var out = [Double](repeating: 0, count: q.heads * sq * dim)
        var lse = [Double](repeating: 0, count: q.heads * sq)
        var logits = [Double](repeating: -.infinity, count: sk)
        for h in 0..<q.heads {
            let g = h / G
            for i in 0..<sq {
                let p = sk - sq + i
                var m = -Double.infinity
                for j in 0...p {
                    guard keep?(h, p, j) ?? true else { logits[j] = -.infinity; continue }
                    var s = 0.0
                    for c in 0..<dim { s += q.get(i, h, c) * k.get(j, g, c) }
                    logits[j] = s * scale
                    m = max(m, logits[j])
                }
                var total = 0.0
                for j in 0...p where logits[j] > -.infinity {
                    let e = Foundation.exp(logits[j] - m)
                    total += e
                    for c in 0..<dim { out[(h * sq + i) * dim + c] += e * v.get(j, g, c) }
                }
                for c in 0..<dim { out[(h * sq + i) * dim + c] /= total }
                lse[h * sq + i] = m + Foundation.log(total)
            }
        }
        return (out, lse)
    }

    /// Relative L2 error of out against a head-major float64 reference.
    func relativeError(_ ref: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for h in 0..<q.heads { for t in 0..<q.tokens { for c in 0..<q.dim {
            let r = ref[(h * q.tokens + t) * q.dim + c]
            let d = out.get(t, h, c) - r
            num += d * d; den += r * r
        } } }
        return (num / max(den, 1e-300)).squareRoot()
    }
}

func params(_ mode: Int32 = SA_MODE_DENSE, _ edit: (inout sa_params) -> Void = { _ in }) -> sa_params {
    var p = sa_params()
    _ = sa_params_init_impl(&p, MemoryLayout<sa_params>.size)
    p.mode = mode
    edit(&p)
    return p
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
}
