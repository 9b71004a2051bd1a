/// Tile and block sizes of the kernels, in one place.
///
/// The score micro-kernel computes `rows x keyTile` scores with `rows * keyTile/8` AVX2
/// accumulators (6 x 16 -> 12 ymm registers), the value kernel `rows x 16` outputs.
/// Blocks are sized so one query block's scores, Q and O stay in a 512 KiB L2.
enum KernelTraits {
    static let rows = 6              // query rows per micro-tile
    static let keyTile = 16          // keys per micro-tile (two SIMD8 lanes)
    static let queryBlock = 96       // query rows per attention task (multiple of rows)
    static let keyBlock = 256        // keys per online-softmax step (multiple of keyTile)

    /// Rounds n up to a multiple of m.
    @inline(__always) static func roundUp(_ n: Int, _ m: Int) -> Int { (n + m - 1) / m * m }
}
