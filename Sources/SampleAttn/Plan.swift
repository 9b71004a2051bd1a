/// The sparse mask of one call, per query head: a local window and sorted selected key indices
/// (stripes and sinks). A row at position p keeps keys p - window < j <= p and the indices
/// j <= p - window; a dense head keeps every causal key.
struct HeadPlan: Equatable {
    var dense: Bool
    var window: Int
    var indices: [Int]
    var keptEntries: Int
    var causalEntries: Int
    var craMean: Double
    var craMin: Double
    /// Slash mode: block granularity (0 otherwise), selected key blocks and diagonal offsets.
    var blockSize: Int = 0
    var columnBlocks: [Int] = []
    var slashBlocks: [Int] = []

    var isSlash: Bool { blockSize > 0 && !dense }
    /// Seed-mode sparse heads read their selected keys from a gathered panel.
    var usesStripePanel: Bool { !dense && blockSize == 0 }

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

    /// Slash heads: the key blocks query block qb keeps (ascending, <= qb), merged into runs of
    /// consecutive blocks [first, end).
    func keptBlockRuns(queryBlock qb: Int) -> [Range<Int>] {
        var blocks = columnBlocks.filter { $0 <= qb }
        for d in slashBlocks where d <= qb { blocks.append(qb - d) }
        blocks.sort()
        var runs: [Range<Int>] = []
        for b in blocks {
            if let last = runs.last, b <= last.upperBound {
                if b == last.upperBound { runs[runs.count - 1] = last.lowerBound..<b + 1 }
            } else {
                runs.append(b..<b + 1)
            }
        }
        return runs
    }

    /// Slash heads: (row, key) pairs kept over rows at positions sk-sq ..< sk.
    func slashKeptEntries(sq: Int, sk: Int) -> Int {
        var kept = 0
        var p = sk - sq
        while p < sk {
            let qb = p / blockSize, end = min(sk, (qb + 1) * blockSize)
            for run in keptBlockRuns(queryBlock: qb) {
                let first = run.lowerBound * blockSize, last = run.upperBound * blockSize   // keys [first, last)
                for row in p..<end { kept += max(0, min(last, row + 1) - first) }
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

    /// (row, key) pairs kept by window + indices over rows at positions sk-sq ..< sk.
    static func keptEntries(window: Int, indices: [Int], sq: Int, sk: Int) -> Int {
        var kept = 0
        var n = 0
        for p in (sk - sq)..<sk {
            while n < indices.count && indices[n] <= p - window { n += 1 }
            kept += min(window, p + 1) + n
        }
        return kept
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
