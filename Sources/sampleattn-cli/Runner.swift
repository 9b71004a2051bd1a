import CSampleAttn
import SampleAttn
import Foundation

/// Calls the library through its C API, the way a host does, and times the call.
struct Runner {
    let context: OpaquePointer

    init(threads: Int32) throws {
        guard let c = sa_context_new_impl(threads) else { throw CLIError("sa_context_new(\(threads)) failed") }
        context = c
    }

    func free() { sa_context_free_impl(context) }

    static func params(mode: Int32, alpha: Float = 0.95, edit: (inout sa_params) -> Void = { _ in }) -> sa_params {
        var p = sa_params()
        _ = sa_params_init_impl(&p, MemoryLayout<sa_params>.size)
        p.mode = mode
        p.alpha = alpha
        edit(&p)
        return p
    }

    /// Runs attention of `layer` (its last `queries` tokens as queries) into `buffers`.
    @discardableResult
    func run(_ layer: RealLayer, _ params: sa_params, into buffers: RunBuffers, queries: Int? = nil) throws -> (seconds: Double, stats: sa_stats) {
        var p = params
        var q = RealLayer.view(layer.q, lastTokens: queries), k = RealLayer.view(layer.k), v = RealLayer.view(layer.v)
        var o = buffers.view
        var stats = sa_stats()
        stats.struct_size = UInt32(MemoryLayout<sa_stats>.size)
        let t0 = Date()
        let status = sa_attention_impl(context, &p, &q, &k, &v, &o, buffers.lse, &stats)
        let seconds = Date().timeIntervalSince(t0)
        guard status == SA_OK else {
            throw CLIError("sa_attention: \(String(cString: sa_status_string_impl(status))): \(String(cString: sa_context_last_error_impl(context)))")
        }
        return (seconds, stats)
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func fmt(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }
