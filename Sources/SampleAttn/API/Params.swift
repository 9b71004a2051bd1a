import CSampleAttn

/// The defaults of sa_params, in one place. How each was chosen, with the measurements and the
/// commands behind them: docs/DEFAULTS.md (slash mode: docs/SLASH.md).
enum Defaults {
    static let mode = SA_MODE_SAMPLE
    static let alpha: Float = 0.95
    static let windowRatio: Float = 0.08
    static let sampleRatio: Float = 0.05
    static let sinkTokens: Int32 = 4
    static let minSeqLen: Int32 = 1024
    static let maxDensity: Float = 0.75
    static let sampleGroup: Int32 = 16        // 16 rows, padded to 18 by the score kernel (docs/KERNEL_NOTES.md)
    static let maxDiagonals: Int32 = 64       // bounds the attention pass's per-row diagonal work
    static let alphaColumn: Float = 0.98
    static let alphaSlash: Float = 0.95
    static let chunkN: Int32 = 2
    static let blockSize: Int32 = 64
    static let alphaCorrection: Float = 2     // gain on the held-out shortfall
    static let precision = SA_PRECISION_F32
    static let minWindow: Int32 = 64          // narrowest per-head window candidate, in keys
    static let rankPriorRows: Int32 = 16      // one sampled group
}

/// The size of sa_params in version 0.0 of the API (fields up to and including `flags`).
let paramsSizeV0 = 40
/// The size of sa_params in version 0.1 (up to `block_size`): what the sa_params_default symbol
/// fills, forever (later headers call sa_params_init with their own size).
let paramsSizeV01 = 72

func defaultParams() -> sa_params {
    var p = sa_params()
    p.struct_size = UInt32(MemoryLayout<sa_params>.size)
    p.mode = Defaults.mode
    p.alpha = Defaults.alpha
    p.window_ratio = Defaults.windowRatio
    p.sample_ratio = Defaults.sampleRatio
    p.sink_tokens = Defaults.sinkTokens
    p.min_seq_len = Defaults.minSeqLen
    p.max_density = Defaults.maxDensity
    p.scale = 0
    p.flags = 0
    p.min_stripes = 0
    p.max_stripes = 0
    p.sample_group = Defaults.sampleGroup
    p.max_diagonals = Defaults.maxDiagonals
    p.alpha_column = Defaults.alphaColumn
    p.alpha_slash = Defaults.alphaSlash
    p.chunk_n = Defaults.chunkN
    p.block_size = Defaults.blockSize
    p.alpha_correction = Defaults.alphaCorrection
    p.precision = Defaults.precision
    p.min_window = Defaults.minWindow
    p.rank_prior_rows = Defaults.rankPriorRows
    return p
}

/// Decoding and validation of a caller's sa_params.
extension Params {
    /// Reads a caller's sa_params honouring its struct_size: fields past it keep their defaults,
    /// bytes past our own struct must be zero (a newer caller asking for something we lack).
    static func decode(_ pointer: UnsafePointer<sa_params>?) throws -> Params {
        var p = defaultParams()
        if let pointer {
            let size = Int(pointer.pointee.struct_size)
            let ours = MemoryLayout<sa_params>.size
            if size < paramsSizeV0 {
                throw SAError(SA_ERR_STRUCT_SIZE, "sa_params.struct_size is \(size); at least \(paramsSizeV0) expected (use sa_params_default)")
            }
            let raw = UnsafeRawPointer(pointer)
            if size > ours {
                if size > 4096 { throw SAError(SA_ERR_STRUCT_SIZE, "sa_params.struct_size \(size) is implausibly large") }
                for i in ours..<size where raw.load(fromByteOffset: i, as: UInt8.self) != 0 {
                    throw SAError(SA_ERR_STRUCT_SIZE, "sa_params.struct_size \(size) is larger than this library's \(ours) and sets fields it does not know")
                }
            }
            withUnsafeMutableBytes(of: &p) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(size, ours)))
            }
            p.struct_size = UInt32(ours)
        }
        return try Params(validating: p)
    }

    init(validating p: sa_params) throws {
        func bad(_ m: String) -> SAError { SAError(SA_ERR_INVALID_PARAM, m) }
        guard p.mode == SA_MODE_DENSE || p.mode == SA_MODE_SAMPLE || p.mode == SA_MODE_SAMPLE_SLASH else {
            throw SAError(SA_ERR_INVALID_MODE, "mode \(p.mode) is not one of SA_MODE_DENSE (0), SA_MODE_SAMPLE (1), SA_MODE_SAMPLE_SLASH (2)")
        }
        if p.flags & ~UInt32(SA_FLAG_ALL) != 0 {
            throw SAError(SA_ERR_UNKNOWN_FLAG, "flags 0x\(String(p.flags, radix: 16)) has bits this version does not know (known: 0x\(String(UInt32(SA_FLAG_ALL), radix: 16)))")
        }
        guard p.scale.isFinite, p.scale >= 0 else {
            throw SAError(SA_ERR_INVALID_SCALE, "scale \(p.scale) must be finite and >= 0 (0 = 1/sqrt(head_dim))")
        }
        guard p.alpha > 0, p.alpha <= 1 else { throw bad("alpha \(p.alpha) must be in (0, 1]") }
        guard p.window_ratio >= 0, p.window_ratio <= 1 else { throw bad("window_ratio \(p.window_ratio) must be in [0, 1]") }
        guard p.sample_ratio > 0, p.sample_ratio <= 1 else { throw bad("sample_ratio \(p.sample_ratio) must be in (0, 1]") }
        guard p.sink_tokens >= 0 else { throw bad("sink_tokens \(p.sink_tokens) must be >= 0") }
        guard p.min_seq_len >= 0 else { throw bad("min_seq_len \(p.min_seq_len) must be >= 0") }
        guard p.max_density > 0, p.max_density <= 1 else { throw bad("max_density \(p.max_density) must be in (0, 1]") }
        guard p.min_stripes >= 0 else { throw bad("min_stripes \(p.min_stripes) must be >= 0") }
        guard p.max_stripes >= 0 else { throw bad("max_stripes \(p.max_stripes) must be >= 0 (0 = no limit)") }
        guard p.max_stripes == 0 || p.max_stripes >= p.min_stripes else {
            throw bad("max_stripes \(p.max_stripes) must be >= min_stripes \(p.min_stripes)")
        }
        guard p.sample_group >= 1, p.sample_group <= 256 else { throw bad("sample_group \(p.sample_group) must be in [1, 256]") }
        guard p.max_diagonals >= 0 else { throw bad("max_diagonals \(p.max_diagonals) must be >= 0 (0 = none)") }
        guard p.alpha_column > 0, p.alpha_column <= 1 else { throw bad("alpha_column \(p.alpha_column) must be in (0, 1]") }
        guard p.alpha_slash > 0, p.alpha_slash <= 1 else { throw bad("alpha_slash \(p.alpha_slash) must be in (0, 1]") }
        guard p.chunk_n >= 1, p.chunk_n <= 64 else { throw bad("chunk_n \(p.chunk_n) must be in [1, 64]") }
        guard p.block_size >= 16, p.block_size <= Int32(KernelTraits.queryBlock), p.block_size % 16 == 0 else {
            throw bad("block_size \(p.block_size) must be a multiple of 16 in [16, \(KernelTraits.queryBlock)]")
        }
        guard p.alpha_correction >= 0, p.alpha_correction <= 16 else {
            throw bad("alpha_correction \(p.alpha_correction) must be in [0, 16] (0 = the paper's rule)")
        }
        guard p.precision == SA_PRECISION_F32 || p.precision == SA_PRECISION_BF16 else {
            throw bad("precision \(p.precision) is not one of SA_PRECISION_F32 (0), SA_PRECISION_BF16 (1)")
        }
        guard p.min_window >= 0 else { throw bad("min_window \(p.min_window) must be >= 0 (0 = the fixed window)") }
        guard p.rank_prior_rows >= 0 else { throw bad("rank_prior_rows \(p.rank_prior_rows) must be >= 0 (0 = rank by mass)") }
        mode = p.mode
        alpha = p.alpha
        windowRatio = p.window_ratio
        sampleRatio = p.sample_ratio
        sinkTokens = Int(p.sink_tokens)
        minSeqLen = Int(p.min_seq_len)
        maxDensity = p.max_density
        scale = p.scale
        shareKVGroup = p.flags & UInt32(SA_FLAG_SHARE_KV_GROUP) != 0
        forceSparse = p.flags & UInt32(SA_FLAG_FORCE_SPARSE) != 0
        minStripes = Int(p.min_stripes)
        maxStripes = Int(p.max_stripes)
        sampleGroup = Int(p.sample_group)
        maxDiagonals = Int(p.max_diagonals)
        alphaColumn = p.alpha_column
        alphaSlash = p.alpha_slash
        chunkN = Int(p.chunk_n)
        blockSize = Int(p.block_size)
        alphaCorrection = p.alpha_correction
        bf16Products = p.precision == SA_PRECISION_BF16
        minWindow = Int(p.min_window)
        rankPriorRows = Int(p.rank_prior_rows)
    }
}
