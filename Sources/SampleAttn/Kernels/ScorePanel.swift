/// Scores of packed query rows against the first keys of a packed panel, with no softmax: the
/// plan's exact per-row CRA reads them straight (attention folds its softmax into BlockAttention).

/// s[r*lds + j] = Q row r . key j for r in 0..<rows (a multiple of 6, q packed by packQueries)
/// and j in 0..<roundUp(keys, 16).
@inline(__always)
func scorePanel(_ q: UnsafePointer<Float>, rows: Int, _ panel: PackedKV, keys: Int,
                _ s: UnsafeMutablePointer<Float>, _ lds: Int) {
    let dim = panel.dim
    let tiles = KernelTraits.roundUp(keys, KernelTraits.keyTile)
    var rt = 0
    while rt < rows {
        var t = 0
        while t < tiles {
            scoreTile(q + rt * dim, panel.tile(at: t), dim, s + rt * lds + t, lds)
            t += KernelTraits.keyTile
        }
        rt += KernelTraits.rows
    }
}
