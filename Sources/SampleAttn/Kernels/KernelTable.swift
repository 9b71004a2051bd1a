import CSampleAttn

/// The kernels of this process, chosen once (sac_isa: cpuid, XCR0, SAMPLEATTN_ISA).
/// SA_ISA_AVX2 runs the Swift kernels of BlockAttention.swift; SA_ISA_AVX512 replaces their
/// row-tile step by a C kernel of the same contract (sac_rowtile); SA_ISA_AMX also does bf16
/// precision's key blocks on AMX tiles (sac_block). Per call, precision and head_dim pick the entry.
struct KernelTable {
    static let isa: Int32 = sac_isa()
    static let cpuMask: UInt32 = sac_cpu_isa_mask()

    /// Stage 1's C kernels (group scores with their row maxima, exp2 of a row), nil for the
    /// Swift kernels of groupExponentials. Bitwise equal to them: float32 planning.
    static let sampleScores: sac_sample_scores_fn? = isa >= SA_ISA_AVX512 ? sac_sample_scores_avx512 : nil
    static let exp2Row: sac_exp2_row_fn? = isa >= SA_ISA_AVX512 ? sac_exp2_row_avx512 : nil
    /// Stage 1's group scores on AMX tiles, from the keys' bf16 copy: for bf16 precision, where
    /// stage1OnTiles says (planning then sees the attention bf16 computes).
    static let sampleScoresAMX: sac_sample_scores_fn? = isa >= SA_ISA_AMX ? sac_sample_scores_amx : nil
    static func stage1OnTiles(bf16Products: Bool, dim: Int) -> Bool {
        sampleScoresAMX != nil && bf16Products && dim % 32 == 0
    }

    /// The C row-tile kernel, nil for the Swift kernels; rowTilePair takes two adjacent row
    /// tiles that need the same key tiles (the same results as two rowTile calls).
    let rowTile: sac_rowtile_fn?
    let rowTilePair: sac_rowtile_fn?
    /// The C key-block kernel (all rows of a query block at once); it takes precedence.
    let block: sac_block_fn?
    /// P rounded to bf16 before the value product (SA_PRECISION_BF16).
    let roundP: Bool
    /// The block kernel reads bf16 operand copies (sac_pack_query_rows_bf16, sac_pack_block_bf16).
    var bf16Operands: Bool { block != nil }

    /// Fails when no ISA is usable: the CPU lacks AVX2 or SAMPLEATTN_ISA names one it lacks.
    static func require() throws {
        if isa == 0 { throw SAError(SA_ERR_UNSUPPORTED_CPU, String(cString: sac_isa_error())) }
    }

    init(bf16Products: Bool, dim: Int) {
        roundP = bf16Products
        if KernelTable.isa >= SA_ISA_AVX512 {
            rowTile = sac_rowtile_avx512
            rowTilePair = sac_rowtile2_avx512
        } else {
            rowTile = nil
            rowTilePair = nil
        }
        // AMX tiles take 32 dims and 16 rows at a time: 16-row tiles must divide the query block.
        if KernelTable.isa >= SA_ISA_AMX, bf16Products, dim % 32 == 0, KernelTraits.queryBlock % 16 == 0 {
            block = sac_attend_block_amx
        } else {
            block = nil
        }
    }
}
