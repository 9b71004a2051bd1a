import XCTest
import Foundation
import CSampleAttn
import SampleAttn

/// Real attention inputs captured from Qwen2.5-Coder-0.5B on real code: the 4K capture the
/// repository ships (data/, always run) and the larger captures of ../shared/data beside the
/// checkout, which run when that folder exists and are skipped, with the reason, when it does not
/// (SAMPLEATTN_REQUIRE_SHARED_DATA=1, as CI sets it, turns that skip into a failure).
final class RealDataTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = repo.appendingPathComponent("../shared/data").standardizedFileURL.path
    static let shipped = repo.appendingPathComponent("data/qwen05b_code_4k").path

    /// The folder of a ../shared/data capture, or a skip (a failure when the data is required).
    func sharedCapture(_ name: String) throws -> String {
        let folder = Self.shared + "/" + name
        if FileManager.default.fileExists(atPath: folder) { return folder }
        let reason = "real data \(name) not found at \(folder) (expected beside the checkout in ../shared/data)"
        if ProcessInfo.processInfo.environment["SAMPLEATTN_REQUIRE_SHARED_DATA"] == "1" {
            XCTFail(reason + "; SAMPLEATTN_REQUIRE_SHARED_DATA=1 requires it")
            throw CaptureMissing()
        }
        throw XCTSkip(reason)
    }
    struct CaptureMissing: Error {}

    struct Layer {
        let q: HeadMajorNpy, k: HeadMajorNpy, v: HeadMajorNpy
        init(_ folder: String, _ layer: Int) throws {
            let name = String(format: "%@/L%02d_", folder, layer)
            q = try HeadMajorNpy(name + "q.npy"); k = try HeadMajorNpy(name + "k.npy"); v = try HeadMajorNpy(name + "v.npy")
        }
        var heads: Int { q.heads }
        var tokens: Int { q.tokens }
        var dim: Int { q.dim }
    }

    /// Runs attention into a float32 token-major output; returns (out, lse).
    func run(_ l: Layer, _ p: sa_params, stats: UnsafeMutablePointer<sa_stats>? = nil, threads: Int32 = 0) -> ([Float], [Float]) {
        var out = [Float](repeating: 0, count: l.tokens * l.heads * l.dim)
        var lse = [Float](repeating: 0, count: l.tokens * l.heads)
        let ctx = sa_context_new_impl(threads)
        defer { sa_context_free_impl(ctx) }
        var pp = p, q = l.q.view(), k = l.k.view(), v = l.v.view()
        let status = out.withUnsafeMutableBytes { ob in
            lse.withUnsafeMutableBufferPointer { lb in
                var o = sa_tensor(data: ob.baseAddress, dtype: SA_DTYPE_F32, reserved: 0, n_tokens: Int64(l.tokens),
                                  n_heads: Int64(l.heads), head_dim: Int64(l.dim), stride_token: 0, stride_head: 0)
                return sa_attention_impl(ctx, &pp, &q, &k, &v, &o, lb.baseAddress, stats)
            }
        }
        XCTAssertEqual(status, SA_OK, String(cString: sa_context_last_error_impl(ctx)))
        return (out, lse)
    }

    func testDenseMatchesShippedOutput2K() throws {
        let folder = try sharedCapture("qwen05b_code_2k")
        for layer in [1, 12] {
            let l = try Layer(folder, layer)
            let o = try HeadMajorNpy(String(format: "%@/L%02d_o.npy", folder, layer))
            let (out, _) = run(l, params(SA_MODE_DENSE))
            var num = 0.0, den = 0.0
            for h in 0..<l.heads { for t in 0..<l.tokens { for c in 0..<l.dim {
                let r = Double(o.value(h, t, c)), d = Double(out[(t * l.heads + h) * l.dim + c]) - r
                num += d * d; den += r * r
            } } }
            // The shipped output was computed from the capture's float32 Q/K/V and stored in float16;
            // a float64 numpy reference on the float16 inputs differs from it by 0.6e-3..2.0e-3 per
            // head (layer 1), so agreement is bounded by the fixture, not by the kernel.
            XCTAssertLessThan((num / den).squareRoot(), 3e-3, "layer \(layer)")
        }
    }

    /// Dense attention on the shipped 4K capture against a float64 oracle over the same float16
    /// inputs, on rows spread over the sequence (the last rows, which see every key, included).
    func testDenseMatchesFloat64OracleOnShipped4K() throws {
        for layer in [1, 12] {
            let l = try Layer(Self.shipped, layer)
            let (out, lse) = run(l, params(SA_MODE_DENSE))
            let rows = Array(stride(from: 5, to: l.tokens, by: 97)) + [l.tokens - 1]
            let group = l.heads / l.k.heads, scale = 1 / Double(l.dim).squareRoot()
            var worst = 0.0, worstLse = 0.0
            for h in 0..<l.heads {
                var num = 0.0, den = 0.0
                for t in rows {
                    var scores = [Double](repeating: 0, count: t + 1)
                    for j in 0...t {
                        var dot = 0.0
                        for c in 0..<l.dim { dot += Double(l.q.value(h, t, c)) * Double(l.k.value(h / group, j, c)) }
                        scores[j] = dot * scale
                    }
                    let m = scores.max()!
                    let weights = scores.map { exp($0 - m) }
                    let sum = weights.reduce(0, +)
                    worstLse = max(worstLse, abs(Double(lse[h * l.tokens + t]) - (m + log(sum))))
                    for c in 0..<l.dim {
                        var o = 0.0
                        for j in 0...t { o += weights[j] * Double(l.v.value(h / group, j, c)) }
                        o /= sum
                        let d = Double(out[(t * l.heads + h) * l.dim + c]) - o
                        num += d * d; den += o * o
                    }
                }
                worst = max(worst, (num / den).squareRoot())
            }
            XCTAssertLessThan(worst, 2e-5, "layer \(layer): worst head's relative L2 error on \(rows.count) rows")
            XCTAssertLessThan(worstLse, 1e-4, "layer \(layer): log-sum-exp")
        }
    }

    /// The seed planner's tasks (stage 1 per head and partition, its reduction per key range,
    /// stage 2 per held-out fold and per head) give the same plan, stats, output and lse bit for
    /// bit at 1, 2, 3 and 5 threads on a real layer of the shipped 4K capture.
    func testSeedPlanDoesNotDependOnThreads() throws {
        let l = try Layer(Self.shipped, 23)
        let p = params(SA_MODE_SAMPLE)
        func plan(threads: Int32) -> [[Double]] {
            let ctx = sa_context_new_impl(threads)
            defer { sa_context_free_impl(ctx) }
            var pp = p, q = l.q.view(), k = l.k.view()
            var plan: OpaquePointer?
            XCTAssertEqual(sa_plan_create_impl(ctx, &pp, &q, &k, &plan), SA_OK, String(cString: sa_context_last_error_impl(ctx)))
            defer { sa_plan_free_impl(plan) }
            return (0..<Int64(l.heads)).map { h in
                var info = sa_plan_head()
                info.struct_size = UInt32(MemoryLayout<sa_plan_head>.size)
                XCTAssertEqual(sa_plan_head_info_impl(plan, h, &info), SA_OK)
                var idx = [Int64](repeating: -1, count: Int(info.n_indices))
                var offs = [Int64](repeating: -1, count: Int(info.n_slash_blocks))
                XCTAssertEqual(idx.withUnsafeMutableBufferPointer { sa_plan_head_indices_impl(plan, h, $0.baseAddress, info.n_indices) }, SA_OK)
                XCTAssertEqual(offs.withUnsafeMutableBufferPointer { sa_plan_head_slashes_impl(plan, h, $0.baseAddress, info.n_slash_blocks) }, SA_OK)
                return [Double(info.dense), Double(info.window), Double(info.kept_entries), info.cra_mean, info.cra_min]
                    + idx.map(Double.init) + [-1] + offs.map(Double.init)
            }
        }
        func attention(threads: Int32) -> [Float] {
            var stats = sa_stats()
            stats.struct_size = UInt32(MemoryLayout<sa_stats>.size)
            let (out, lse) = run(l, p, stats: &stats, threads: threads)
            return out + lse + [Float(stats.kept_entries), Float(stats.n_dense_heads), Float(stats.density), Float(stats.cra_estimate)]
        }
        let onePlan = plan(threads: 1), oneRun = attention(threads: 1)
        XCTAssertTrue(onePlan.contains { $0[0] == 0 && $0.last! != -1 }, "a sparse head with diagonal stripes is covered")
        func bits(_ plan: [[Double]]) -> [[UInt64]] { plan.map { $0.map(\.bitPattern) } }
        for t: Int32 in [2, 3, 5] {
            XCTAssertEqual(bits(plan(threads: t)), bits(onePlan), "plan at \(t) threads")
            XCTAssertTrue(attention(threads: t).elementsEqual(oneRun) { $0.bitPattern == $1.bitPattern }, "output at \(t) threads")
        }
    }

    /// At alpha 0.95 on the shipped 4K capture, the plans' true CRA (kept share of the dense
    /// attention mass, exp(lse_sparse - lse_dense) per row) averages at least 0.95 over heads, and
    /// the mean density over the three layers is at most 0.37 (measured 0.345; 0.403 with a fixed
    /// window and stripes ranked by mass, docs/DEFAULTS.md).
    func testTrueCRAOnShipped4K() throws {
        try checkTrueCRA(folder: Self.shipped, name: "real 4K", maxDensity: 0.37)
    }

    /// The same check on the 8K capture of ../shared/data: mean density at most 0.30 (measured
    /// 0.276; 0.338 before).
    func testTrueCRAOnReal8K() throws {
        try checkTrueCRA(folder: try sharedCapture("qwen05b_code_8k"), name: "real 8K", maxDensity: 0.30)
    }

    /// Density and error are printed for the record.
    func checkTrueCRA(folder: String, name: String, maxDensity: Double) throws {
        var headCRA: [Double] = [], densities: [Double] = []
        for layer in [1, 12, 23] {
            let l = try Layer(folder, layer)
            let (dense, denseLse) = run(l, params(SA_MODE_DENSE))
            var stats = sa_stats()
            stats.struct_size = UInt32(MemoryLayout<sa_stats>.size)
            let (sparse, sparseLse) = run(l, params(SA_MODE_SAMPLE), stats: &stats)
            var errors: [Double] = []
            for h in 0..<l.heads {
                var cra = 0.0
                for t in 0..<l.tokens { cra += min(1, exp(Double(sparseLse[h * l.tokens + t] - denseLse[h * l.tokens + t]))) }
                headCRA.append(cra / Double(l.tokens))
                var num = 0.0, den = 0.0
                for t in 0..<l.tokens { for c in 0..<l.dim {
                    let i = (t * l.heads + h) * l.dim + c
                    num += Double(sparse[i] - dense[i]) * Double(sparse[i] - dense[i]); den += Double(dense[i] * dense[i])
                } }
                errors.append((num / den).squareRoot())
            }
            errors.sort()
            print(String(format: "%@ layer %d: density %.3f, median head error %.4f, dense heads %d",
                         name, layer, stats.density, errors[errors.count / 2], stats.n_dense_heads))
            XCTAssertLessThan(stats.density, 0.6, "SampleAttention keeps a minority of the causal area")
            densities.append(stats.density)
        }
        let mean = headCRA.reduce(0, +) / Double(headCRA.count)
        let density = densities.reduce(0, +) / Double(densities.count)
        print(String(format: "%@: true CRA mean over heads %.4f, worst head %.4f, mean density %.4f", name, mean,
                     headCRA.min()!, density))
        XCTAssertGreaterThanOrEqual(mean, 0.95)
        XCTAssertLessThanOrEqual(density, maxDensity)
    }
}
