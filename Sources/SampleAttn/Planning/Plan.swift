/// The sparse mask of one call, per query head: a local window, sorted selected key indices
/// (stripes and sinks) and sorted diagonal offsets. A row at position p keeps keys
/// p - window < j <= p, the indices j <= p - window, and keys p - d for the diagonals d (all
/// >= window); a dense head keeps every causal key.
struct HeadPlan: Equatable {
    var dense: Bool
    var window: Int
    var indices: [Int]
    var keptEntries: Int
    var causalEntries: Int
    var craMean: Double
    var craMin: Double
    /// Slash mode: block granularity (0 otherwise) and the selected diagonal block offsets;
    /// the selected columns are `indices` (keys), used where no kept diagonal block covers them.
    var blockSize: Int = 0
    var slashBlocks: [Int] = []
    /// Seed mode: diagonal offsets (each >= window), ascending.
    var diagonals: [Int] = []

    var isSlash: Bool { blockSize > 0 && !dense }
    /// What sa_plan_head_offsets reports: slash heads' block offsets, seed heads' diagonals
    /// (offsets of block size 1), nothing for dense heads.
    var diagonalOffsets: [Int] { dense ? [] : isSlash ? slashBlocks : diagonals }
    /// Sparse heads read their selected keys from a gathered panel.
    var usesStripePanel: Bool { !dense }

    var density: Double { causalEntries == 0 ? 1 : Double(keptEntries) / Double(causalEntries) }

    static func dense(sq: Int, sk: Int) -> HeadPlan {
        let causal = causalEntries(sq: sq, sk: sk)
        return HeadPlan(dense: true, window: sk, indices: [], keptEntries: causal, causalEntries: causal,
                        craMean: 1, craMin: 1)
    }

    /// Number of (row, key) pairs of causal attention: rows at positions sk-sq ..< sk.
    static func causalEntries(sq: Int, sk: Int) -> Int {
        // sum over p in [sk-sq, sk) of (p + 1)
        sq * (sk - sq) + sq * (sq + 1) / 2
    }

    /// Number of selected indices below key x.
    @inline(__always)
    func indicesBelow(_ x: Int) -> Int {
        var lo = 0, hi = indices.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if indices[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Slash heads: the key ranges of the diagonal blocks query block qb keeps, ascending, with
    /// consecutive blocks merged.
    func diagonalRanges(queryBlock qb: Int, sk: Int) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        for d in slashBlocks.reversed() where d <= qb {
            let first = (qb - d) * blockSize, end = min(sk, first + blockSize)
            if let last = runs.last, last.upperBound == first {
                runs[runs.count - 1] = last.lowerBound..<end
            } else {
                runs.append(first..<end)
            }
        }
        return runs
    }

    /// Slash heads: the panel positions of the selected columns outside `ranges`.
    func columnSlices(outside ranges: [Range<Int>]) -> [Range<Int>] {
        var slices: [Range<Int>] = []
        var start = 0
        for r in ranges {
            let a = indicesBelow(r.lowerBound)
            if a > start { slices.append(start..<a) }
            start = max(start, indicesBelow(r.upperBound))
        }
        if indices.count > start { slices.append(start..<indices.count) }
        return slices
    }

    /// Slash heads: (row, key) pairs kept over rows at positions sk-sq ..< sk.
    func slashKeptEntries(sq: Int, sk: Int) -> Int {
        var kept = 0
        var p = sk - sq
        while p < sk {
            let qb = p / blockSize, end = min(sk, (qb + 1) * blockSize)
            let ranges = diagonalRanges(queryBlock: qb, sk: sk)
            for row in p..<end {
                kept += indicesBelow(row + 1)
                for r in ranges where r.lowerBound <= row {
                    let top = min(r.upperBound, row + 1)
                    kept += (top - r.lowerBound) - (indicesBelow(top) - indicesBelow(r.lowerBound))
                }
            }
            p = end
        }
        return kept
    }

    /// Number of selected indices a row at position p keeps (those <= p - window).
    @inline(__always)
    func stripeCount(atPosition p: Int) -> Int {
        let limit = p - window
        var lo = 0, hi = indices.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if indices[mid] <= limit { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Seed heads: (row, key) pairs kept by window + indices + diagonals over rows at positions
    /// sk-sq ..< sk (a diagonal key that is also a selected index counts once).
    func seedKeptEntries(sq: Int, sk: Int) -> Int {
        let first = sk - sq
        // The window: min(window, p + 1) keys per row, summed in closed form over t = p + 1.
        let small = min(sk, window)                          // rows with t <= window keep t
        var kept = small > first ? (first + 1 + small) * (small - first) / 2 : 0
        kept += window * (sk - max(first, small))            // the others keep window
        for j in indices { kept += max(0, sk - max(first, j + window)) }   // rows p >= j + window
        for d in diagonals where d < sk {
            kept += sk - max(first, d)                       // rows p >= d have key p - d
            kept -= indicesBelow(sk - d) - indicesBelow(first - d)   // those keys that are indices (ascending)
        }
        return kept
    }

    /// Seed heads: calls body(j) for the keys the diagonals add to the row at position p (in
    /// range, not selected indices), in diagonal order.
    @inline(__always)
    func forEachDiagonalKey(atPosition p: Int, _ body: (Int) -> Void) {
        for d in diagonals where d <= p {
            let j = p - d
            let k = indicesBelow(j)
            if k < indices.count && indices[k] == j { continue }
            body(j)
        }
    }
}

/// A plan for one (H_q, S_q, S_k) problem; immutable once built.
final class Plan {
    let hq: Int
    let sq: Int
    let sk: Int
    let params: Params
    let heads: [HeadPlan]
    /// Seconds spent in stage 1 (sampling) and stage 2 (filtering) while building it.
    let timeSample: Double
    let timeFilter: Double
    let fallbackReason: Int32

    init(hq: Int, sq: Int, sk: Int, params: Params, heads: [HeadPlan], timeSample: Double, timeFilter: Double,
         fallbackReason: Int32) {
        self.hq = hq
        self.sq = sq
        self.sk = sk
        self.params = params
        self.heads = heads
        self.timeSample = timeSample
        self.timeFilter = timeFilter
        self.fallbackReason = fallbackReason
    }

    var allDense: Bool { heads.allSatisfy(\.dense) }
}
