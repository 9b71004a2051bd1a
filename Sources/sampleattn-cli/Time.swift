import ArgumentParser
import CSampleAttn
import SampleAttn
import Foundation

/// `sampleattn time`: times one mode on one real layer (for kernel work; `bench/bench.py` is
/// the comparison against PyTorch and OpenBLAS).
struct Time: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time one mode on one real layer; prints median ms and dense-equivalent GFLOP/s.")

    @Option(help: "Folder with L{layer}_{q,k,v}.npy.") var data = "data/qwen05b_code_4k"
    @Option(help: "Layer.") var layer = 12
    @Option(help: "dense, sample or sample_slash (also slash).") var mode = "dense"
    @Option(help: "Target CRA (sample mode).") var alpha: Float = 0.95
    @Option(help: "Threads (0 = all).") var threads: Int32 = 1
    @Option(help: "Repetitions.") var repeats = 5

    func validate() throws { _ = try ModeName.parse(mode) }

    func run() throws {
        let runner = try Runner(threads: threads)
        defer { runner.free() }
        let l = try RealLayer(folder: data, layer: layer)
        let out = RunBuffers(heads: l.heads, tokens: l.tokens, dim: l.dim)
        let p = try Runner.params(mode: ModeName.parse(mode), alpha: alpha)
        var times: [Double] = [], stats = sa_stats()
        for _ in 0..<repeats {
            let r = try runner.run(l, p, into: out)
            times.append(r.seconds); stats = r.stats
        }
        let flops = 4.0 * Double(l.heads) * Double(l.tokens) * Double(l.tokens) / 2 * Double(l.dim)
        let t = median(times)
        print("\(mode) \(l.name) S=\(l.tokens) threads=\(sa_context_n_threads_impl(runner.context)): median \(fmt(t * 1e3, 1)) ms, \(fmt(flops / t / 1e9, 1)) GFLOP/s dense-equivalent, density \(fmt(stats.density)), stage1 \(fmt(stats.time_sample_s * 1e3, 1)) ms, stage2 \(fmt(stats.time_filter_s * 1e3, 1)) ms, kernel \(fmt(stats.time_attention_s * 1e3, 1)) ms")
    }
}
