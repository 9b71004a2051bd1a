import CSampleAttn

/// Stage 1, query-guided attention sampling: which query rows are sampled, and the exact
/// softmax of each sampled row over all its keys, accumulated per key column outside that
/// row's local window.

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
        // 2 groups, too few positions to estimate the columns (engine example, layer 23: chunked
        // CRA 0.926 against one-shot 0.953).
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

/// Stage-1 results of one query head.
struct SampleStats {
    let columnMass: UnsafeMutablePointer<Float>   // [sk]: sum of sampled P_ij with j <= p(i) - w or j < sinks
    let rowLse2: UnsafeMutablePointer<Float>      // [sampled rows]: log2-sum-exp2 of the row's scores
    let rowWindowMass: UnsafeMutablePointer<Float> // [sampled rows]: the row's mass inside its window, sinks excluded

    func windowMass(of rows: [Int]) -> Double {
        var total = 0.0
        for i in rows { total += Double(rowWindowMass[i]) }
        return total
    }
}

/// Scores of one group of adjacent query rows against all their causal keys, turned into
/// 2^(s - rowmax) in place (row r of the group at scores + r * roundUp(sk, 16), keys 0...p).
/// Stores per row the log2-sum-exp2 and calls onRow(r, position, row, 1 / sum) right after the
/// row's exponentials, while the row is still in cache. `scores` holds
/// [roundUp(groupSize, 6) x roundUp(sk, 16)] floats.
func groupExponentials(_ group: Range<Int>, head: Int, problem pb: Problem, keys: PackedKV,
                       q: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                       lse2: UnsafeMutablePointer<Float>,
                       onRow: (Int, Int, UnsafeMutablePointer<Float>, Float) -> Void) {
    let dim = pb.dim, lds = PackedKV.paddedKeys(pb.sk)
    let qmul = pb.scale * Float(1.4426950408889634)   // log2(e): scores in log2 units
    let n = group.count, nPad = KernelTraits.roundUp(n, KernelTraits.rows)
    packQueries(pb.q, head: head, rows: group, scale: qmul, into: q, row: scores)
    let lastKey = pb.position(ofRow: group.upperBound - 1)
    let tiles = KernelTraits.roundUp(lastKey + 1, KernelTraits.keyTile)
    var maxes = (F8(), F8(), F8(), F8(), F8(), F8())
    var rt = 0
    while rt < nPad {
        // Tiles every row of this row tile sees in full fold their max into `maxes`; the rest
        // (the causal edge) is taken exactly.
        let full = min(tiles, (pb.position(ofRow: group.lowerBound + rt) + 1) / KernelTraits.keyTile * KernelTraits.keyTile)
        withUnsafeMutableBytes(of: &maxes) { raw in
            let m = raw.baseAddress!.assumingMemoryBound(to: F8.self)
            m.update(repeating: F8(repeating: -.infinity), count: KernelTraits.rows)
            var t = 0
            while t < tiles {
                scoreTile(q + rt * dim, keys.tile(at: t), dim, scores + rt * lds + t, lds, rowMax: t < full ? m : nil)
                t += KernelTraits.keyTile
            }
            for r in rt..<min(rt + KernelTraits.rows, n) {
                let p = pb.position(ofRow: group.lowerBound + r)
                let row = scores + r * lds
                let rowMaximum = full > p ? rowMax(row, 0, p + 1) : max(hmax(m[r - rt]), rowMax(row, full, p + 1))
                let total = exp2InPlace(row, 0, p + 1, shift: rowMaximum)
                lse2[r] = rowMaximum + log2f(total)
                onRow(r, p, row, 1 / total)
            }
        }
        rt += KernelTraits.rows
    }
}

/// dst[0..<n] += src[0..<n] * scale
@inline(__always)
func addScaled(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int, _ scale: Float) {
    let sv = F8(repeating: scale)
    var j = 0
    while j + 8 <= n { store8(load8(dst + j).addingProduct(load8(src + j), sv), dst + j); j += 8 }
    while j < n { dst[j] += src[j] * scale; j += 1 }
}

/// Stage 1 of the seed algorithm for the groups `groupIndices` of one query head: exact softmax
/// of each sampled row, its mass inside its window past the first `sinks` keys, and its mass per
/// key outside the window and on the sinks, added (in group order, so sums do not depend on
/// threads) into fold r % folds of `foldMass` (fold f at foldMass + f * foldStride) for the row
/// at offset r in its group; with `entries`, also the row's large probabilities outside the
/// window past the sinks.
func sampleGroups(_ rows: SampleRows, _ groupIndices: [Int], head: Int, problem pb: Problem,
                  keys: PackedKV, window w: Int, stats: SampleStats,
                  entries: SampledEntries?, sinks: Int,
                  foldMass: UnsafeMutablePointer<Float>, foldStride: Int, folds: Int,
                  q: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
    for g in groupIndices {
        let sampleIndex = rows.firstRow[g]
        groupExponentials(rows.groups[g], head: head, problem: pb, keys: keys, q: q, scores: scores,
                          lse2: stats.rowLse2 + sampleIndex) { r, p, row, inv in
            let windowStart = max(0, p - w + 1)
            // The sinks' mass goes to their columns wherever they are (the window mass leaves
            // them out): stage 2 applies alpha to the mass outside the sinks.
            let textStart = max(windowStart, min(sinks, p + 1))
            var inside: Float = 0
            for j in textStart..<(p + 1) { inside += row[j] }
            stats.rowWindowMass[sampleIndex + r] = inside * inv
            addScaled(foldMass + (r % folds) * foldStride, row, textStart, inv)   // keys 0 ... p - w, and the sinks
            entries?.record(sampleIndex + r, row: row, from: min(sinks, windowStart), to: windowStart, inv: inv)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
