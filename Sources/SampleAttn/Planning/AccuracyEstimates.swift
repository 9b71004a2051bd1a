/// The accuracy estimates of seed plans: the kept share of the sampled rows' attention mass
/// (estimated CRA) over a head's final mask, from stage 1's sums or, for plans a caller
/// inspects, exactly per row.

/// The kept mass of sampled `rows` over a final mask (window + `indices` outside the window +
/// `diagonals`): their window mass, their column sums of the indices, and the recorded entries
/// the diagonals add (keys not already among the indices).
func estimatedKept(indices: [Int], diagonals: [Int], columnMass: UnsafePointer<Float>, windowMass: Double,
                   rows: [Int], positions: [Int], entries: SampledEntries?, sk: Int) -> Double {
    var kept = windowMass
    for j in indices { kept += Double(columnMass[j]) }
    guard !diagonals.isEmpty, let e = entries else { return kept }
    // Flags per key and per offset (both below S_k): cheaper than hashing every entry.
    var onDiagonal = [Bool](repeating: false, count: sk), selected = [Bool](repeating: false, count: sk)
    for d in diagonals { onDiagonal[d] = true }
    for j in indices { selected[j] = true }
    for i in rows {
        let p = positions[i]
        for s in 0..<Int(e.counts[i]) {
            let id = i * SampledEntries.capacity + s, j = Int(e.keys[id])
            if onDiagonal[p - j] && !selected[j] { kept += Double(e.probs[id]) }
        }
    }
    return kept
}

/// sa_attention's estimate for a sparse head: the mean over the sampled rows of their mass inside
/// the head's window, their mass on the selected keys outside it (exactly the column sums outside
/// that window, `columnMass`) and what the diagonals add.
func estimatedCRA(_ head: HeadPlan, stats: SampleStats, columnMass: UnsafePointer<Float>, entries: SampledEntries?,
                  rows: SampleRows, positions: [Int], allRows: [Int], sk: Int) -> Double {
    let choice = stats.bands.choice(ofWindow: head.window)
    let kept = estimatedKept(indices: head.indices, diagonals: head.diagonals, columnMass: columnMass,
                             windowMass: stats.windowMass(of: allRows, choice: choice), rows: allRows,
                             positions: positions, entries: entries, sk: sk)
    return min(1, kept / Double(rows.count))
}

/// Plans a caller inspects: exact per-row mean and min for the sparse heads of K/V head kvHead
/// (the stage-1 estimate leaves out diagonal entries below 1/256, so its mean could sit below
/// the minimum).
func measureGroupCRA(_ kvHead: Int, heads: inout PlannedHeads, problem pb: Problem, rows: SampleRows,
                     sinks: Int, threads: Int, ws: SeedWorkspace) {
    let G = pb.groupSize, dim = pb.dim, ldS = ws.ldS
    let snapshot = heads
    let minima = UnsafeMutablePointer<(mean: Double, min: Double)>.allocate(capacity: G)
    defer { minima.deallocate() }
    parallelFor(threads: threads, tasks: G) { hl, worker in
        let head = snapshot[kvHead * G + hl]
        if head.dense { minima[hl] = (1, 1); return }
        let panel = PackedKV(kt: ws.panels + worker * ldS * dim, v: nil, keys: head.indices.count, dim: dim)
        head.indices.withUnsafeBufferPointer { idx in
            panel.gather(from: ws.keys, indices: idx.baseAddress!, range: 0..<idx.count)
        }
        minima[hl] = sampledRowCRA(rows, head: kvHead * G + hl, plan: head, sinks: sinks, problem: pb,
                                   keys: ws.keys, panel: panel, stats: ws.stats(hl), q: ws.queries(worker),
                                   scores: ws.scores(worker), qrow: ws.queryRow(worker))
    }
    for hl in 0..<G where !heads[kvHead * G + hl].dense {
        heads[kvHead * G + hl].craMean = minima[hl].mean
        heads[kvHead * G + hl].craMin = minima[hl].min
    }
}

/// Mean and min over the sampled rows of (window mass outside the sinks + mass on the sinks and
/// on the head's other indices outside the window + mass on its diagonal keys), using the rows'
/// exact normalisers from stage 1. The first `sinks` indices are the sinks.
func sampledRowCRA(_ rows: SampleRows, head: Int, plan: HeadPlan, sinks: Int, problem pb: Problem, keys: PackedKV,
                   panel: PackedKV, stats: SampleStats, q: UnsafeMutablePointer<Float>,
                   scores: UnsafeMutablePointer<Float>, qrow: UnsafeMutablePointer<Float>) -> (mean: Double, min: Double) {
    let dim = pb.dim, lds = PackedKV.paddedKeys(pb.sk)
    let qmul = pb.scale * Float(1.4426950408889634)
    var minimum = Double.infinity, total = 0.0
    var index = 0
    let choice = stats.bands.choice(ofWindow: plan.window)
    for group in rows.groups {
        let n = group.count, nPad = KernelTraits.roundUp(n, KernelTraits.rows)
        packQueries(pb.q, head: head, rows: group, scale: qmul, into: q, row: scores)
        let used = max(plan.stripeCount(atPosition: pb.position(ofRow: group.upperBound - 1)), sinks)
        scorePanel(q, rows: nPad, panel, keys: used, scores, lds)
        for (r, i) in group.enumerated() {
            let row = scores + r * lds
            let count = plan.stripeCount(atPosition: pb.position(ofRow: i))
            let lse = stats.rowLse2[index]
            var kept = Double(stats.windowMass(ofRow: index, choice: choice))
            for e in 0..<count { kept += Double(exp2s(row[e] - lse)) }
            for e in count..<max(count, sinks) where plan.indices[e] <= pb.position(ofRow: i) {
                kept += Double(exp2s(row[e] - lse))     // sinks inside the window
            }
            if !plan.diagonals.isEmpty {
                unpackQuery(q, row: r, dim: dim, into: qrow)
                plan.forEachDiagonalKey(atPosition: pb.position(ofRow: i)) { j in
                    kept += Double(exp2s(keys.dot(qrow, key: j) - lse))
                }
            }
            minimum = min(minimum, kept)
            total += min(1, kept)
            index += 1
        }
    }
    return (total / Double(max(index, 1)), min(1, minimum))
}
