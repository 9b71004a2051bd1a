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
    let parts = min(KernelTraits.planPartitions, rows.groups.count)
    var firstRow = [0]
    for g in rows.groups { firstRow.append(firstRow.last! + g.count) }

    // Workspace, all allocated before any work.
    let dim = pb.dim, ldS = PackedKV.paddedKeys(sk)
    let gsPad = KernelTraits.roundUp(rows.groups.map(\.count).max()!, KernelTraits.rows)
    let keys = try PackedKV.allocate(keys: sk, dim: dim, withValues: false, in: ws, what: "packed keys")
    let perWorker = try checkedProduct(gsPad, ldS + dim, what: "sampling scratch") + dim
    let scratch = try ws.allocate(try checkedProduct(threads, perWorker, what: "sampling scratch"),
                                  of: Float.self, what: "sampling scratch")
    let mass = try ws.allocate(try checkedProduct(G, parts, ldS, what: "column mass"), of: Float.self, what: "column mass")
    let rowStats = try ws.allocate(2 * G * rows.count, of: Float.self, what: "sampled row stats")
    // Per worker: room to gather one head's selected keys (at most sk) for the CRA estimate.
    let panels = try ws.allocate(rowMinimum ? try checkedProduct(threads, ldS, dim, what: "plan panels") : 1,
                                 of: Float.self, zeroed: true, what: "plan panels")

    var heads = [HeadPlan](repeating: HeadPlan.dense(sq: sq, sk: sk), count: pb.hq)
    var timeSample = 0.0, timeFilter = 0.0
    var reason = SA_FALLBACK_NONE
    let chosen = UnsafeMutablePointer<[Int]>.allocate(capacity: G)
    chosen.initialize(repeating: [], count: G)
    defer { chosen.deinitialize(count: G); chosen.deallocate() }

    for kvHead in 0..<pb.hkv {
        let t0 = sac_now_seconds()
        keys.fillParallel(from: pb.k, nil, head: kvHead, indices: nil, threads: threads, rows: scratch)
        mass.update(repeating: 0, count: G * parts * ldS)
        func stats(_ hl: Int) -> SampleStats {
            SampleStats(columnMass: mass + hl * parts * ldS, rowLse2: rowStats + 2 * hl * rows.count,
                        rowWindowMass: rowStats + (2 * hl + 1) * rows.count)
        }
        parallelFor(threads: threads, tasks: G * parts) { t, worker in
            let hl = t / parts, part = t % parts
            let range = part * rows.groups.count / parts..<(part + 1) * rows.groups.count / parts
            let base = scratch + worker * perWorker
            sampleGroups(rows, range, head: kvHead * G + hl, problem: pb, keys: keys, window: window,
                         firstRowIndex: firstRow[range.lowerBound], stats: stats(hl),
                         columnMass: mass + (hl * parts + part) * ldS, q: base, scores: base + gsPad * dim)
        }
        // Reduce the partitions in a fixed order.
        parallelFor(threads: threads, tasks: G) { hl, _ in
            let dst = mass + hl * parts * ldS
            for part in 1..<max(parts, 1) {
                let src = dst + part * ldS
                var j = 0
                while j < ldS { store8(load8(dst + j) + load8(src + j), dst + j); j += 8 }
            }
        }
        let t1 = sac_now_seconds()
        timeSample += t1 - t0

        parallelFor(threads: threads, tasks: G) { hl, _ in
            let st = stats(hl)
            var windowMass = 0.0
            for i in 0..<rows.count { windowMass += Double(st.rowWindowMass[i]) }
            chosen[hl] = selectColumns(columnMass: st.columnMass, sk: sk, window: window, windowMass: windowMass,
                                       rows: rows.count, alpha: params.alpha, sinks: sinkCount,
                                       minStripes: params.minStripes, maxStripes: params.maxStripes)
        }
        if params.shareKVGroup {
            let union = Array(Set((0..<G).flatMap { chosen[$0] })).sorted()
            for hl in 0..<G { chosen[hl] = union }
        }
        for hl in 0..<G {
            let indices = Array(0..<sinkCount) + chosen[hl]
            let kept = HeadPlan.keptEntries(window: window, indices: indices, sq: sq, sk: sk)
            var head = HeadPlan(dense: false, window: window, indices: indices, keptEntries: kept,
                                causalEntries: causal, craMean: 0, craMin: 0)
            if head.density > Double(params.maxDensity) && !params.forceSparse {
                head = HeadPlan.dense(sq: sq, sk: sk)
                reason = SA_FALLBACK_DENSITY
            }
            heads[kvHead * G + hl] = head
        }
        // Estimated CRA over the final mask: the sampled rows' window mass plus their mass on the
        // selected keys outside their windows, which is exactly what the column sums hold.
        for hl in 0..<G where !heads[kvHead * G + hl].dense {
            let st = stats(hl)
            var kept = 0.0
            for i in 0..<rows.count { kept += Double(st.rowWindowMass[i]) }
            for j in heads[kvHead * G + hl].indices { kept += Double(st.columnMass[j]) }
            heads[kvHead * G + hl].craMean = min(1, kept / Double(rows.count))
            heads[kvHead * G + hl].craMin = .nan
        }
        if rowMinimum {
            let headsSnapshot = heads
            let minima = UnsafeMutablePointer<Double>.allocate(capacity: G)
            defer { minima.deallocate() }
            parallelFor(threads: threads, tasks: G) { hl, worker in
                let head = headsSnapshot[kvHead * G + hl]
                if head.dense { minima[hl] = 1; return }
                let panel = PackedKV(kt: panels + worker * ldS * dim, v: nil, keys: head.indices.count, dim: dim)
                head.indices.withUnsafeBufferPointer { idx in
                    panel.gather(from: keys, indices: idx.baseAddress!, range: 0..<idx.count)
                }
                let base = scratch + worker * perWorker
                minima[hl] = minimumRowCRA(rows, head: kvHead * G + hl, plan: head, problem: pb, panel: panel,
                                           stats: stats(hl), q: base, scores: base + gsPad * dim)
            }
            for hl in 0..<G where !heads[kvHead * G + hl].dense {
                heads[kvHead * G + hl].craMin = minima[hl]
            }
        }
        timeFilter += sac_now_seconds() - t1
    }
    if heads.allSatisfy(\.dense) && reason == SA_FALLBACK_NONE { reason = SA_FALLBACK_DENSITY }
    return Plan(hq: pb.hq, sq: sq, sk: sk, params: params, heads: heads,
                timeSample: timeSample, timeFilter: timeFilter, fallbackReason: reason)
}

/// Min over the sampled rows of (window mass + mass on the head's indices outside the window),
/// using the rows' exact normalisers from stage 1.
func minimumRowCRA(_ rows: SampleRows, head: Int, plan: HeadPlan, problem pb: Problem, panel: PackedKV,
                   stats: SampleStats, q: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) -> Double {
    let dim = pb.dim, lds = PackedKV.paddedKeys(pb.sk)
    let qmul = pb.scale * Float(1.4426950408889634)
    var minimum = Double.infinity
    var index = 0
    for group in rows.groups {
        let n = group.count, nPad = KernelTraits.roundUp(n, KernelTraits.rows)
        packQueries(pb.q, head: head, rows: group, scale: qmul, into: q, row: scores)
        let used = plan.stripeCount(atPosition: pb.position(ofRow: group.upperBound - 1))
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
            minimum = min(minimum, kept)
            index += 1
        }
    }
    return min(1, minimum)
}
