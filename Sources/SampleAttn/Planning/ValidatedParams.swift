/// Validated parameters of one call, as the planners read them (decoded from sa_params by
/// API/Params.swift).
struct Params: Equatable {
    var mode: Int32
    var alpha: Float
    var windowRatio: Float
    var sampleRatio: Float
    var sinkTokens: Int
    var minSeqLen: Int
    var maxDensity: Float
    var scale: Float          // 0 = 1/sqrt(d), resolved by the problem
    var shareKVGroup: Bool
    var forceSparse: Bool
    var minStripes: Int
    var maxStripes: Int       // 0 = no limit
    var sampleGroup: Int
    var maxDiagonals: Int     // seed mode; 0 = no diagonal stripes
    var alphaColumn: Float
    var alphaSlash: Float
    var chunkN: Int
    var blockSize: Int
    var alphaCorrection: Float   // seed mode; 0 = alpha on the sampled rows (the paper)
    var bf16Products: Bool       // SA_PRECISION_BF16: the attention pass's products in bfloat16
    var minWindow: Int           // seed mode: narrowest candidate window in keys; 0 = the fixed window
    var rankPriorRows: Int       // seed mode: stripes ranked by mass per row (+ this); 0 = by mass (the paper)
}
