import CSampleAttn
import SampleAttn

/// One captured attention layer: q [H_q, S, d], k and v [H_kv, S, d] (head-major .npy files),
/// used in place as sa_tensor views (no copies).
struct RealLayer {
    let q: NpyArray, k: NpyArray, v: NpyArray
    let name: String

    init(folder: String, layer: Int) throws {
        let prefix = folder + "/L" + (layer < 10 ? "0" : "") + String(layer)
        q = try NpyArray(path: prefix + "_q.npy")
        k = try NpyArray(path: prefix + "_k.npy")
        v = try NpyArray(path: prefix + "_v.npy")
        name = "L\(layer)"
    }

    var heads: Int { q.shape[0] }
    var tokens: Int { q.shape[1] }
    var dim: Int { q.shape[2] }

    /// A head-major view of an [H, S, d] array, optionally only its last `lastTokens` tokens.
    static func view(_ a: NpyArray, lastTokens: Int? = nil) -> sa_tensor {
        let h = a.shape[0], s = a.shape[1], d = a.shape[2]
        let n = lastTokens ?? s
        let elem = a.dtype == SA_DTYPE_F32 ? 4 : 2
        return sa_tensor(data: a.data + (s - n) * d * elem, dtype: a.dtype, reserved: 0, n_tokens: Int64(n),
                         n_heads: Int64(h), head_dim: Int64(d), stride_token: Int64(d), stride_head: Int64(s * d))
    }
}

/// Output and lse buffers of one run, with the comparisons the reports print.
final class RunBuffers {
    let out: UnsafeMutablePointer<Float>
    let lse: UnsafeMutablePointer<Float>
    let heads: Int, tokens: Int, dim: Int

    init(heads: Int, tokens: Int, dim: Int) {
        self.heads = heads; self.tokens = tokens; self.dim = dim
        out = .allocate(capacity: heads * tokens * dim)
        lse = .allocate(capacity: heads * tokens)
    }

    deinit { out.deallocate(); lse.deallocate() }

    /// Token-major float32 output view.
    var view: sa_tensor {
        sa_tensor(data: out, dtype: SA_DTYPE_F32, reserved: 0, n_tokens: Int64(tokens), n_heads: Int64(heads),
                  head_dim: Int64(dim), stride_token: 0, stride_head: 0)
    }

    /// Per head: relative L2 error of this output against `dense`.
    func headErrors(against dense: RunBuffers) -> [Double] {
        (0..<heads).map { h in
            var num = 0.0, den = 0.0
            for t in 0..<tokens {
                let base = (t * heads + h) * dim
                for c in 0..<dim {
                    let d = Double(out[base + c] - dense.out[base + c]), r = Double(dense.out[base + c])
                    num += d * d; den += r * r
                }
            }
            return (num / max(den, 1e-300)).squareRoot()
        }
    }

    /// Per head: true CRA of the mask this run attended, mean and min over rows. The kept share of
    /// a row's dense attention mass is exp(lse_kept - lse_dense).
    func trueCRA(against dense: RunBuffers) -> [(mean: Double, min: Double)] {
        (0..<heads).map { h in
            var sum = 0.0, lowest = Double.infinity
            for t in 0..<tokens {
                let c = min(1, Double(lse[h * tokens + t] - dense.lse[h * tokens + t]).exponential)
                sum += c; lowest = Swift.min(lowest, c)
            }
            return (sum / Double(tokens), lowest)
        }
    }
}

extension Double {
    var exponential: Double { Foundation.exp(self) }
}

import Foundation
