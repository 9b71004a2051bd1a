#if canImport(Glibc)
import Glibc
#endif
import CSampleAttn

/// Stage 1, query-guided attention sampling: the exact softmax of each sampled row over all its
/// keys, accumulated per key column outside that row's local window (which rows are sampled:
/// SampleRows; where the sums go: SeedWorkspace).

/// Scores of one group of adjacent query rows against all their causal keys, turned into
/// 2^(s - rowmax) in place (row r of the group at scores + r * roundUp(sk, 16), keys 0...p).
/// Once every row's scores and max are in place calls ready(); then per row, in order, takes its
/// exponentials, stores its log2-sum-exp2 and calls onRow(r, position, row, 1 / sum) while the row
/// is still in cache. `scores` holds [roundUp(groupSize, 6) x roundUp(sk, 16)] floats.
func groupExponentials(_ group: Range<Int>, head: Int, problem pb: Problem, keys: PackedKV,
                       q: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                       lse2: UnsafeMutablePointer<Float>, ready: () -> Void = {},
                       onRow: (Int, Int, UnsafeMutablePointer<Float>, Float) -> Void) {
    let dim = pb.dim, lds = PackedKV.paddedKeys(pb.sk)
    let qmul = pb.scale * Float(1.4426950408889634)   // log2(e): scores in log2 units
    let n = group.count, first = pb.position(ofRow: group.lowerBound)
    packQueries(pb.q, head: head, rows: group, scale: qmul, into: q, row: scores)
    // The row maxima go to lse2 until each row's sum is known. Keys with a bf16 copy are for
    // the AMX kernel (bf16 precision, KernelTable.stage1OnTiles).
    var args = sac_sample_scores(q: q, kt: keys.kt, s: scores, rowmax: lse2, pos0: Int64(first),
                                 rows: Int32(n), dim: Int32(dim), lds: Int32(lds), kb: keys.bf16?.kb)
    if keys.bf16 != nil, let onTiles = KernelTable.sampleScoresAMX {
        onTiles(&args)
    } else if let groupScores = KernelTable.sampleScores {
        groupScores(&args)
    } else {
        groupScoresSwift(n, first: first, dim: dim, lds: lds, keys: keys, q: q, scores: scores, rowMax: lse2)
    }
    ready()
    for r in 0..<n {
        let row = scores + r * lds, rowMaximum = lse2[r], p = first + r
        let total = KernelTable.exp2Row.map { $0(row, Int64(p + 1), rowMaximum) } ?? exp2InPlace(row, 0, p + 1, shift: rowMaximum)
        lse2[r] = rowMaximum + log2f(total)
        onRow(r, p, row, 1 / total)
    }
}

/// The Swift kernels' group scores (sac_sample_scores' contract): rows of 6 against key tiles,
/// tiles every row of a row tile sees in full folding their max into registers, the causal edge
/// taken exactly.
private func groupScoresSwift(_ n: Int, first: Int, dim: Int, lds: Int, keys: PackedKV, q: UnsafeMutablePointer<Float>,
                              scores: UnsafeMutablePointer<Float>, rowMax rowMaxima: UnsafeMutablePointer<Float>) {
    let tiles = KernelTraits.roundUp(first + n, KernelTraits.keyTile)
    var maxes = (F8(), F8(), F8(), F8(), F8(), F8())
    var rt = 0
    while rt < n {
        let full = min(tiles, (first + rt + 1) / KernelTraits.keyTile * KernelTraits.keyTile)
        withUnsafeMutableBytes(of: &maxes) { raw in
            let m = raw.baseAddress!.assumingMemoryBound(to: F8.self)
            m.update(repeating: F8(repeating: -.infinity), count: KernelTraits.rows)
            var t = 0
            while t < tiles {
                scoreTile(q + rt * dim, keys.tile(at: t), dim, scores + rt * lds + t, lds, rowMax: t < full ? m : nil)
                t += KernelTraits.keyTile
            }
            for r in rt..<min(rt + KernelTraits.rows, n) {
                let p = first + r, row = scores + r * lds
                rowMaxima[r] = full > p ? rowMax(row, 0, p + 1) : max(hmax(m[r - rt]), rowMax(row, full, p + 1))
            }
        }
        rt += KernelTraits.rows
    }
}

/// Stage 1 of the seed algorithm for the groups `groupIndices` of one query head: exact softmax
/// of each sampled row, its mass inside its window past the first `sinks` keys, and its mass per
/// key outside the window and on the sinks, added (in group order, so sums do not depend on
/// threads) into fold r % folds of `foldMass` (fold f at foldMass + f * foldStride) for the row
/// at offset r in its group; with `entries`, also the row's large probabilities outside the
/// window past the sinks. beforeSums(g) runs before group g's rows are added.
func sampleGroups(_ rows: SampleRows, _ groupIndices: [Int], head: Int, problem pb: Problem,
                  keys: PackedKV, window w: Int, stats: SampleStats,
                  entries: SampledEntries?, sinks: Int,
                  foldMass: UnsafeMutablePointer<Float>, foldStride: Int, folds: Int,
                  q: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                  beforeSums: (Int) -> Void = { _ in }) {
    for g in groupIndices {
        let sampleIndex = rows.firstRow[g]
        groupExponentials(rows.groups[g], head: head, problem: pb, keys: keys, q: q, scores: scores,
                          lse2: stats.rowLse2 + sampleIndex, ready: { beforeSums(g) }) { r, p, row, inv in
            let windowStart = max(0, p - w + 1)
            // The sinks' mass goes to their columns wherever they are (the window mass leaves
            // them out): stage 2 applies alpha to the mass outside the sinks.
            let textStart = max(windowStart, min(sinks, p + 1))
            stats.rowWindowMass[sampleIndex + r] = rangeSum(row, textStart, p + 1) * inv
            // Narrower candidate windows: the row's mass per band and the band's column sums, in
            // the group's partition (group g is in partition g % parts, SampleSplit).
            if stats.bands.count > 0 {
                stats.bands.record(sampleIndex + r, part: g % stats.bands.parts, position: p, row: row, inv: inv, sinks: sinks)
            }
            addScaled(foldMass + (r % folds) * foldStride, row, textStart, inv)   // keys 0 ... p - w, and the sinks
            entries?.record(sampleIndex + r, row: row, from: min(sinks, windowStart), to: windowStart, inv: inv)
        }
    }
}

/// Stage 1 for the query heads of K/V head `kvHead` into `ws`: packs its keys, samples every
/// group of every head (tasks: group x head, in group order), then reduces in a fixed order, the
/// partitions into each fold and the folds into the total (tasks: head x key range). A group's
/// exponentials run in parallel; its sums go into its partition's slots after the partition's
/// previous group's (a turn per head and partition), the order of one task per partition, so the
/// sums do not depend on threads.
func sampleKVGroup(_ kvHead: Int, problem pb: Problem, rows: SampleRows, split: SampleSplit, window: Int,
                   sinks: Int, threads: Int, ws: SeedWorkspace) {
    let G = pb.groupSize, parts = split.parts, folds = split.folds, ldS = ws.ldS
    ws.keys.fillParallel(from: pb.k, nil, head: kvHead, indices: nil, threads: threads, rows: ws.queries(0))
    ws.keys.bf16?.fill(from: ws.keys, threads: threads)
    ws.turns.update(repeating: 0, count: G * parts)
    parallelFor(threads: threads, tasks: rows.groups.count * G) { t, worker in
        let g = t / G, hl = t % G, part = g % parts, k = Int32(g / parts)   // the k-th group of its partition
        let turn = ws.turns + hl * parts + part
        sampleGroups(rows, [g], head: kvHead * G + hl, problem: pb, keys: ws.keys, window: window,
                     stats: ws.stats(hl), entries: ws.entries(hl), sinks: sinks,
                     foldMass: ws.slot(hl, part * folds), foldStride: ldS, folds: folds,
                     q: ws.queries(worker), scores: ws.scores(worker)) { _ in
            sac_wait_turn(turn, k)
            if k == 0 { ws.slot(hl, part * folds).update(repeating: 0, count: folds * ldS) }
        }
        sac_pass_turn(turn, k + 1)
    }
    let chunk = PlanningTraits.reductionKeys, chunks = (ldS + chunk - 1) / chunk
    parallelFor(threads: threads, tasks: G * chunks) { t, _ in
        let hl = t / chunks, keys = (t % chunks) * chunk..<min(ldS, (t % chunks + 1) * chunk)
        func add(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
            addInto(dst + keys.lowerBound, src + keys.lowerBound, keys.count)
        }
        let total = ws.stats(hl).columnMass
        (total + keys.lowerBound).update(repeating: 0, count: keys.count)
        for f in 0..<folds {
            for part in 1..<parts { add(ws.slot(hl, part * folds + f), into: ws.foldMass(hl, f)) }
            add(ws.foldMass(hl, f), into: total)
        }
    }
}
