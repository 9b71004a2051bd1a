/// The candidate windows of a seed plan and what stage 1 records for them. windows[full] is
/// stage 1's window, ceil(window_ratio * S_k); before it come its doublings (below S_k), after it
/// its halvings (rounded up) down to min_window keys; descending. Band b holds the keys at offsets
/// [windows[b + 1], windows[b]) from a row, sinks excluded. Per band, stage 1 sums each sampled
/// row's mass on it, and the sampled mass per key column.
struct WindowBands {
    let windows: [Int]
    let full: Int
    let parts: Int              // partitions of the sampled groups (SampleSplit): one column sum each
    let ldS: Int
    /// [bands x sampled rows]: each sampled row's mass in the band.
    let rowMassStore: UnsafeMutablePointer<Float>?
    /// [parts x bands x ldS]: the sampled column mass per partition and band (partition 0 holds
    /// the totals once the planner has reduced them).
    let columnStore: UnsafeMutablePointer<Float>?
    let sampled: Int

    var count: Int { windows.count - 1 }

    /// The candidate windows around stage 1's `window` and its index among them: up to `wider`
    /// doublings below sk, and (min_window > 0) halvings down to min_window. A window that
    /// covers every key is the only one (window_ratio 1 keeps everything).
    static func windows(from window: Int, minWindow: Int, wider: Int, sk: Int) -> (windows: [Int], full: Int) {
        var out = [window]
        guard minWindow > 0, window < sk else { return (out, 0) }
        while out.count <= wider && 2 * out[0] < sk { out.insert(2 * out[0], at: 0) }
        let full = out.count - 1
        while out.last! > 1 && (out.last! + 1) / 2 >= minWindow { out.append((out.last! + 1) / 2) }
        return (out, full)
    }

    /// The index of candidate window `window`.
    func choice(ofWindow window: Int) -> Int { windows.firstIndex(of: window)! }

    func rowMass(_ band: Int) -> UnsafeMutablePointer<Float> { rowMassStore! + band * sampled }
    func columns(part: Int, band: Int) -> UnsafeMutablePointer<Float> { columnStore! + (part * count + band) * ldS }
    /// The totals of band b over all sampled rows.
    func columns(_ band: Int) -> UnsafeMutablePointer<Float> { columns(part: 0, band: band) }

    /// The bands between stage 1's window and candidate `choice`: inside the candidate but
    /// outside stage 1's window (choice < full), or the reverse.
    func between(_ choice: Int) -> Range<Int> { choice < full ? choice..<full : full..<choice }

    /// Adds a sampled row's band masses (row holds 2^(s - max) for keys 0...p, inv 1 / its sum),
    /// into the column sums of partition `part` and the row's own entries.
    func record(_ index: Int, part: Int, position p: Int, row: UnsafePointer<Float>, inv: Float, sinks: Int) {
        let textFloor = min(sinks, p + 1)
        for b in 0..<count {
            let lo = max(textFloor, p - windows[b] + 1), hi = max(lo, p - windows[b + 1] + 1)
            rowMass(b)[index] = addScaledSum(columns(part: part, band: b) + lo, row + lo, hi - lo, inv) * inv
        }
    }
}
