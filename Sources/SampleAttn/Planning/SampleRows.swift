/// Sampled rows: groups of adjacent rows, evenly strided over the chunk, the last group
/// always ending at the last row (scores of a group come from one matrix product).
struct SampleRows {
    let groups: [Range<Int>]     // row ranges, ascending, disjoint
    let firstRow: [Int]          // index of each group's first row among the sampled rows, then count
    var count: Int { firstRow.last! }

    init(groups: [Range<Int>]) {
        self.groups = groups
        var first = [0]
        for g in groups { first.append(first.last! + g.count) }
        firstRow = first
    }

    /// The sampled rows (indices in stage-1 order) at offset r in their group with r % folds == fold.
    func rowIndices(fold: Int, of folds: Int) -> [Int] {
        groups.indices.flatMap { g in stride(from: firstRow[g] + fold, to: firstRow[g + 1], by: folds) }
    }

    init(sq: Int, ratio: Float, groupSize: Int) {
        let gs = min(groupSize, sq)
        // At least 4 groups: a short chunk (chunked prefill, 512 rows) would otherwise sample
        // 2 groups, too few positions to estimate the columns (docs/KERNEL_NOTES.md).
        let target = max(4 * gs, Int((ratio * Float(sq)).rounded(.up)))
        let ng = max(1, (target + gs - 1) / gs)
        var groups: [Range<Int>] = []
        if ng * gs >= sq {
            var s = 0
            while s < sq { groups.append(s..<min(sq, s + gs)); s += gs }
        } else if ng == 1 {
            groups = [(sq - gs)..<sq]
        } else {
            for g in 0..<ng {
                let start = g * (sq - gs) / (ng - 1)
                groups.append(start..<start + gs)
            }
        }
        self.init(groups: groups)
    }
}
