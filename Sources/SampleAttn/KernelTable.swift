import CSampleAttn

/// The kernels of this process, chosen once (sac_isa: cpuid, XCR0, SAMPLEATTN_ISA).
/// SA_ISA_AVX2 runs the Swift kernels of BlockAttention.swift; SA_ISA_AVX512 replaces their
/// row-tile step by a C kernel of the same contract (sac_rowtile). Per call, the precision picks
/// the entry.
struct KernelTable {
    static let isa: Int32 = sac_isa()
    static let cpuMask: UInt32 = sac_cpu_isa_mask()

    /// The C row-tile kernel, nil for the Swift kernels.
    let rowTile: sac_rowtile_fn?
    /// P rounded to bf16 before the value product (SA_PRECISION_BF16).
    let roundP: Bool
    /// The kernel reads bf16 operand copies (sac_pack_query_bf16, sac_pack_block_bf16).
    let bf16Operands: Bool

    /// Fails when no ISA is usable: the CPU lacks AVX2 or SAMPLEATTN_ISA names one it lacks.
    static func require() throws {
        if isa == 0 { throw SAError(SA_ERR_UNSUPPORTED_CPU, String(cString: sac_isa_error())) }
    }

    init(bf16Products: Bool) {
        roundP = bf16Products
        if KernelTable.isa >= SA_ISA_AVX512 {
            bf16Operands = bf16Products && KernelTable.cpuMask & UInt32(SA_CPU_AVX512_BF16) != 0
            if bf16Operands { rowTile = sac_rowtile_avx512_bf16 } else { rowTile = sac_rowtile_avx512 }
        } else {
            bf16Operands = false
            rowTile = nil
        }
    }
}
