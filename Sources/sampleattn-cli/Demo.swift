import ArgumentParser
import CSampleAttn
import SampleAttn
import Foundation

/// `sampleattn demo`: SampleAttention against exact attention on real captured Q/K/V.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run SampleAttention and dense attention on real Q/K/V and compare.")

    @Option(help: "Folder with L{layer}_{q,k,v}.npy (head-major float16).") var data = "data/qwen05b_code_4k"
    @Option(help: "Comma-separated layers.") var layers = "1,12"
    @Option(help: "Target CRA.") var alpha: Float = 0.95
    @Option(help: "Threads (0 = all).") var threads: Int32 = 0
    @Option(help: "Timed repetitions (median reported).") var repeats = 3
    @Option(help: "Sparse mode: sample or sample_slash (also slash).") var mode = "sample"
    // Unset options keep the library's defaults (sa_params_default).
    @Option(help: "Slash mode: alpha_column.") var alphaColumn: Float?
    @Option(help: "Slash mode: alpha_slash.") var alphaSlash: Float?
    @Option(help: "Slash mode: block size.") var blockSize: Int32?
    @Option(help: "Slash mode: sampled segments.") var chunkN: Int32?
    @Option(help: "Dense fallback above this density.") var maxDensity: Float?
    @Option(help: "Sample mode: sampled share of the query rows.") var sampleRatio: Float?
    @Option(help: "Sample mode: at most this many diagonal stripes (0 = the paper's mask).") var maxDiagonals: Int32?
    @Option(help: "Sample mode: gain on the held-out shortfall of alpha (0 = the paper's rule).") var alphaCorrection: Float?

    func validate() throws { _ = try ModeName.parse(mode, allowDense: false) }

    func sparseParams() throws -> sa_params {
        try Runner.params(mode: ModeName.parse(mode, allowDense: false), alpha: alpha) { p in
            if let alphaColumn { p.alpha_column = alphaColumn }
            if let alphaSlash { p.alpha_slash = alphaSlash }
            if let blockSize { p.block_size = blockSize }
            if let chunkN { p.chunk_n = chunkN }
            if let maxDensity { p.max_density = maxDensity }
            if let sampleRatio { p.sample_ratio = sampleRatio }
            if let maxDiagonals { p.max_diagonals = maxDiagonals }
            if let alphaCorrection { p.alpha_correction = alphaCorrection }
        }
    }

    func run() throws {
        let runner = try Runner(threads: threads)
        defer { runner.free() }
        let sparse = try sparseParams()
        print("libsampleattn \(String(cString: sa_version_string_impl())) demo on \(data), mode \(mode), alpha \(sparse.mode == SA_MODE_SAMPLE_SLASH ? "\(sparse.alpha_column)/\(sparse.alpha_slash)" : "\(alpha)"), \(sa_context_n_threads_impl(runner.context)) threads")
        print("layer  tokens  dense_ms  sample_ms  speedup  density  true_CRA_mean  true_CRA_min_head  rel_err_median  dense_heads")
        for layerIndex in layers.split(separator: ",").compactMap({ Int($0) }) {
            let layer = try RealLayer(folder: data, layer: layerIndex)
            let dense = RunBuffers(heads: layer.heads, tokens: layer.tokens, dim: layer.dim)
            let sample = RunBuffers(heads: layer.heads, tokens: layer.tokens, dim: layer.dim)
            var dt: [Double] = [], st: [Double] = []
            var stats = sa_stats()
            for _ in 0..<repeats {
                dt.append(try runner.run(layer, Runner.params(mode: SA_MODE_DENSE), into: dense).seconds)
                let r = try runner.run(layer, sparse, into: sample)
                st.append(r.seconds); stats = r.stats
            }
            let cra = sample.trueCRA(against: dense)
            let errors = sample.headErrors(against: dense)
            let craMean = cra.map(\.mean).reduce(0, +) / Double(cra.count)
            let craMinHead = cra.map(\.mean).min()!
            print(String(format: "%-6@ %6d  %8.1f  %9.1f  %6.2fx  %7.3f  %13.4f  %17.4f  %14.4f  %d/%d",
                         layer.name, layer.tokens, median(dt) * 1e3, median(st) * 1e3, median(dt) / median(st),
                         stats.density, craMean, craMinHead, median(errors), stats.n_dense_heads, stats.n_heads))
        }
    }
}
