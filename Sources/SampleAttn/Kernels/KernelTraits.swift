/// Tile sizes and supported shapes, in one place.
///
/// The score micro-kernel computes `rows x keyTile` scores with `rows * keyTile/8` AVX2
/// accumulators (6 x 16 -> 12 ymm registers), the value kernel `rows x 16` outputs.
/// Blocks are sized so one query block's scores, Q and O stay in a 512 KiB L2.
enum KernelTraits {
    static let rows = 6              // query rows per micro-tile
    static let keyTile = 16          // keys per micro-tile (two SIMD8 lanes)
    static let queryBlock = 96       // query rows per attention task (multiple of rows)
    static let keyBlock = 256        // keys per online-softmax step (multiple of keyTile)
    static let dimMultiple = 8       // head_dim granularity (one SIMD8)
    static let maxDim = 256
    static let planPartitions = 4    // fixed split of stage-1 sums, so results do not depend on threads
    static let heldOutFolds = 4      // stage 2's held-out check: sampled rows split by offset in their group

    /// Rounds n up to a multiple of m.
    @inline(__always) static func roundUp(_ n: Int, _ m: Int) -> Int { (n + m - 1) / m * m }
}
