import CSampleAttn

/// Builds the plan of a call (stages 1 and 2 of SampleAttention, the dense fallbacks, and the
/// sampled rows' estimated CRA over the final mask), one K/V head at a time.
/// The mean estimated CRA comes free from the column sums; the minimum over sampled rows needs
/// their scores on the selected keys again, so it is computed only when `rowMinimum` is asked
/// (plans a caller inspects), not inside sa_attention.
func buildPlan(_ pb: Problem, _ params: Params, threads: Int, ws: Workspace, rowMinimum: Bool) throws -> Plan {
    let sq = pb.sq, sk = pb.sk, G = pb.groupSize
    func allDense(_ reason: Int32) -> Plan {
        Plan(hq: pb.hq, sq: sq, sk: sk, params: params,
             heads: Array(repeating: HeadPlan.dense(sq: sq, sk: sk), count: pb.hq),
             timeSample: 0, timeFilter: 0, fallbackReason: reason)
    }
    if params.mode == SA_MODE_DENSE { return allDense(SA_FALLBACK_NONE) }
    if sk < params.minSeqLen && !params.forceSparse { return allDense(SA_FALLBACK_SHORT) }
    if params.mode == SA_MODE_SAMPLE_SLASH { return try buildSlashPlan(pb, params, threads: threads, ws: ws, rowMinimum: rowMinimum) }

    // ceil(window_ratio * S_k) in float32, the precision the ratio was given in (0.1 * 300 is 30,
    // not 31 as the float32 0.1 widened to double would give); at least 1: a row keeps itself.
    let window = min(sk, max(1, Int((params.windowRatio * Float(sk)).rounded(.up))))
    let causal = HeadPlan.causalEntries(sq: sq, sk: sk)
    let sinkCount = min(params.sinkTokens, sk)
    let rows = SampleRows(sq: sq, ratio: params.sampleRatio, groupSize: params.sampleGroup)
    // Stage-1 sums are split into `parts` partitions of the groups (group g in partition
    // g % parts; a fixed split, so sums do not depend on threads), each into `folds` by the
    // row's offset in its group: the folds of stage 2's held-out check. Adjacent rows as the
    // held-out ones: whole held-out groups would sit a group spacing further from the rows that
    // chose the stripes than unsampled rows do, and lose the band just outside their window
    // (density 0.51 -> 0.83 at 4K with 5% sampling, for a true CRA that was already 0.956).
    let parts = min(KernelTraits.planPartitions, rows.groups.count)
    let folds = params.alphaCorrection > 0 ? KernelTraits.heldOutFolds : 1
    let partGroups = (0..<parts).map { Array(stride(from: $0, to: rows.groups.count, by: parts)) }
    let foldRows = (0..<folds).map { rows.rowIndices(fold: $0, of: folds) }
    let allRows = Array(0..<rows.count)

    // Workspace, all allocated before any work.
    let dim = pb.dim, ldS = PackedKV.paddedKeys(sk)
    let gsPad = KernelTraits.roundUp(rows.groups.map(\.count).max()!, KernelTraits.rows)
    let keys = try PackedKV.allocate(keys: sk, dim: dim, withValues: false, in: ws, what: "packed keys")
    let perWorker = try checkedProduct(gsPad, ldS + dim, what: "sampling scratch") + dim
    let scratch = try ws.allocate(try checkedProduct(threads, perWorker, what: "sampling scratch"),
                                  of: Float.self, what: "sampling scratch")
    // Per head: the partitions' column sums per fold (partition 0's become the folds' sums),
    // then the total.
    let slots = parts * folds + 1
    let mass = try ws.allocate(try checkedProduct(G, slots, ldS, what: "column mass"), of: Float.self, what: "column mass")
    let rowStats = try ws.allocate(2 * G * rows.count, of: Float.self, what: "sampled row stats")
    var entryStore: [SampledEntries] = []
    if params.maxDiagonals > 0 {
        let slots = try checkedProduct(G, rows.count, SampledEntries.capacity, what: "sampled entries")
        let keys = try ws.allocate(slots, of: Int32.self, what: "sampled entries")
        let probs = try ws.allocate(slots, of: Float.self, what: "sampled entries")
        let counts = try ws.allocate(G * rows.count, of: Int32.self, what: "sampled entries")
        entryStore = (0..<G).map { hl in
            SampledEntries(keys: keys + hl * rows.count * SampledEntries.capacity,
                           probs: probs + hl * rows.count * SampledEntries.capacity, counts: counts + hl * rows.count)
        }
    }
    func entries(_ hl: Int) -> SampledEntries? { entryStore.isEmpty ? nil : entryStore[hl] }
    let positions = rows.groups.flatMap { $0.map { pb.position(ofRow: $0) } }
    let otherRows = foldRows.map { own in
        let set = Set(own)
        return allRows.filter { !set.contains($0) }
    }
    // Per worker: room to gather one head's selected keys (at most sk) for the CRA estimate.
    let panels = try ws.allocate(rowMinimum ? try checkedProduct(threads, ldS, dim, what: "plan panels") : 1,
                                 of: Float.self, zeroed: true, what: "plan panels")

    var heads = [HeadPlan](repeating: HeadPlan.dense(sq: sq, sk: sk), count: pb.hq)
    var timeSample = 0.0, timeFilter = 0.0
    var reason = SA_FALLBACK_NONE
    let chosen = UnsafeMutablePointer<Stripes>.allocate(capacity: G)
    chosen.initialize(repeating: ([], []), count: G)
    defer { chosen.deinitialize(count: G); chosen.deallocate() }

    for kvHead in 0..<pb.hkv {
        let t0 = sac_now_seconds()
        keys.fillParallel(from: pb.k, nil, head: kvHead, indices: nil, threads: threads, rows: scratch)
        mass.update(repeating: 0, count: G * slots * ldS)
        func slot(_ hl: Int, _ s: Int) -> UnsafeMutablePointer<Float> { mass + (hl * slots + s) * ldS }
        func foldMass(_ hl: Int, _ f: Int) -> UnsafeMutablePointer<Float> { slot(hl, f) }
        func stats(_ hl: Int) -> SampleStats {
            SampleStats(columnMass: slot(hl, slots - 1), rowLse2: rowStats + 2 * hl * rows.count,
                        rowWindowMass: rowStats + (2 * hl + 1) * rows.count)
        }
        parallelFor(threads: threads, tasks: G * parts) { t, worker in
            let hl = t / parts, part = t % parts
            let base = scratch + worker * perWorker
            sampleGroups(rows, partGroups[part], head: kvHead * G + hl, problem: pb, keys: keys, window: window,
                         stats: stats(hl), entries: entries(hl), sinks: sinkCount,
                         foldMass: slot(hl, part * folds), foldStride: ldS, folds: folds,
                         q: base, scores: base + gsPad * dim)
        }
        // Reduce in a fixed order: the partitions into each fold, the folds into the total.
        parallelFor(threads: threads, tasks: G) { hl, _ in
            func add(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
                var j = 0
                while j < ldS { store8(load8(dst + j) + load8(src + j), dst + j); j += 8 }
            }
            for f in 0..<folds {
                for part in 1..<parts { add(slot(hl, part * folds + f), into: foldMass(hl, f)) }
                add(foldMass(hl, f), into: stats(hl).columnMass)
            }
        }
        let t1 = sac_now_seconds()
        timeSample += t1 - t0

        // Stage 2 in two parallel steps: the held-out folds of every head (heads x folds tasks),
        // then each head's selection at its corrected alpha; the same picks as one task per head.
        func selection(_ hl: Int) -> HeadSelection {
            HeadSelection(sk: sk, window: window, sinks: sinkCount, positions: positions,
                          entries: entries(hl), stats: stats(hl), params: params)
        }
        let liveFolds = (0..<folds).filter { !foldRows[$0].isEmpty }
        let checked = params.alphaCorrection > 0 && liveFolds.count >= 2 ? liveFolds : []
        let parts = UnsafeMutablePointer<HeldOutPart>.allocate(capacity: max(1, G * checked.count))
        defer { parts.deallocate() }
        parallelFor(threads: threads, tasks: G * checked.count) { t, _ in
            let hl = t / checked.count, f = checked[t % checked.count]
            let fold = SampleFold(columnMass: foldMass(hl, f), rows: foldRows[f], otherRows: otherRows[f])
            (parts + t).initialize(to: selection(hl).heldOutPart(fold))
        }
        parallelFor(threads: threads, tasks: G) { hl, _ in
            let mine = (0..<checked.count).map { parts[hl * checked.count + $0] }
            chosen[hl] = selection(hl).stripes(heldOut: mine, allRows: allRows)
        }
        if params.shareKVGroup {
            let columns = Array(Set((0..<G).flatMap { chosen[$0].columns })).sorted()
            let diagonals = Array(Set((0..<G).flatMap { chosen[$0].diagonals })).sorted()
            for hl in 0..<G { chosen[hl] = (columns, diagonals) }
        }
        for hl in 0..<G {
            let indices = Array(0..<sinkCount) + chosen[hl].columns
            var head = HeadPlan(dense: false, window: window, indices: indices, keptEntries: 0,
                                causalEntries: causal, craMean: 0, craMin: 0, diagonals: chosen[hl].diagonals)
            head.keptEntries = head.seedKeptEntries(sq: sq, sk: sk)
            if head.density > Double(params.maxDensity) && !params.forceSparse {
                head = HeadPlan.dense(sq: sq, sk: sk)
                reason = SA_FALLBACK_DENSITY
            }
            heads[kvHead * G + hl] = head
        }
        // Plans a caller inspects get exact per-row values (mean and min); sa_attention gets the
        // mean from the stage-2 bookkeeping.
        if rowMinimum {
            let headsSnapshot = heads
            let minima = UnsafeMutablePointer<(mean: Double, min: Double)>.allocate(capacity: G)
            defer { minima.deallocate() }
            parallelFor(threads: threads, tasks: G) { hl, worker in
                let head = headsSnapshot[kvHead * G + hl]
                if head.dense { minima[hl] = (1, 1); return }
                let panel = PackedKV(kt: panels + worker * ldS * dim, v: nil, keys: head.indices.count, dim: dim)
                head.indices.withUnsafeBufferPointer { idx in
                    panel.gather(from: keys, indices: idx.baseAddress!, range: 0..<idx.count)
                }
                let base = scratch + worker * perWorker
                minima[hl] = sampledRowCRA(rows, head: kvHead * G + hl, plan: head, sinks: sinkCount, problem: pb,
                                           keys: keys, panel: panel,
                                           stats: stats(hl), q: base, scores: base + gsPad * dim,
                                           qrow: base + gsPad * (ldS + dim))
            }
            for hl in 0..<G where !heads[kvHead * G + hl].dense {
                // Exact per-row values: the mean from stage-2 bookkeeping leaves out diagonal
                // entries below 1/256, so the min could otherwise exceed it.
                heads[kvHead * G + hl].craMean = minima[hl].mean
                heads[kvHead * G + hl].craMin = minima[hl].min
            }
        } else {
            // Estimated CRA over the final mask: the sampled rows' window mass, their mass on the
            // selected keys outside their windows (exactly the column sums), and what the diagonals add.
            for hl in 0..<G where !heads[kvHead * G + hl].dense {
                let st = stats(hl), head = heads[kvHead * G + hl]
                let kept = estimatedKept(indices: head.indices, diagonals: head.diagonals, columnMass: st.columnMass,
                                         windowMass: st.windowMass(of: allRows), rows: allRows, positions: positions,
                                         entries: entries(hl))
                heads[kvHead * G + hl].craMean = min(1, kept / Double(rows.count))
                heads[kvHead * G + hl].craMin = .nan
            }
        }
        timeFilter += sac_now_seconds() - t1
    }
    if heads.allSatisfy(\.dense) && reason == SA_FALLBACK_NONE { reason = SA_FALLBACK_DENSITY }
    return Plan(hq: pb.hq, sq: sq, sk: sk, params: params, heads: heads,
                timeSample: timeSample, timeFilter: timeFilter, fallbackReason: reason)
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
    for group in rows.groups {
        let n = group.count, nPad = KernelTraits.roundUp(n, KernelTraits.rows)
        packQueries(pb.q, head: head, rows: group, scale: qmul, into: q, row: scores)
        let used = max(plan.stripeCount(atPosition: pb.position(ofRow: group.upperBound - 1)), sinks)
        let tiles = KernelTraits.roundUp(used, KernelTraits.keyTile)
        var rt = 0
        while rt < nPad {
            var t = 0
            while t < tiles {
                scoreTile(q + rt * dim, panel.tile(at: t), dim, scores + rt * lds + t, lds)
                t += KernelTraits.keyTile
            }
            rt += KernelTraits.rows
        }
        for (r, i) in group.enumerated() {
            let row = scores + r * lds
            let count = plan.stripeCount(atPosition: pb.position(ofRow: i))
            let lse = stats.rowLse2[index]
            var kept = Double(stats.rowWindowMass[index])
            for e in 0..<count { kept += Double(exp2s(row[e] - lse)) }
            for e in count..<max(count, sinks) where plan.indices[e] <= pb.position(ofRow: i) {
                kept += Double(exp2s(row[e] - lse))     // sinks inside the window
            }
            if !plan.diagonals.isEmpty {
                unpackQuery(q, row: r, dim: dim, into: qrow)
                plan.forEachDiagonalKey(atPosition: pb.position(ofRow: i)) { j in
                    let k = keys.kt + (j / KernelTraits.keyTile) * KernelTraits.keyTile * dim + j % KernelTraits.keyTile
                    var s: Float = 0
                    for c in 0..<dim { s += qrow[c] * k[c * KernelTraits.keyTile] }
                    kept += Double(exp2s(s - lse))
                }
            }
            minimum = min(minimum, kept)
            total += min(1, kept)
            index += 1
        }
    }
    return (total / Double(max(index, 1)), min(1, minimum))
}
