import CSampleAttn

/// SA_MODE_SAMPLE_SLASH: the sampled rows are a few whole query blocks (the last block of each
/// of chunk_n segments), their exact softmax is summed per key block and per diagonal block
/// offset. The fewest diagonal offsets reaching alpha_slash of that mass are kept, then the
/// fewest column blocks that bring the kept share (diagonals + columns) to alpha_column; key
/// block 0 and offset 0 always. Choosing columns on the mass the diagonals leave avoids paying
/// twice for the local structure. Sampling cost is fixed per head, so it shrinks relative to
/// attention as prompts grow.

/// The sampled query blocks of a chunk of sq rows.
func slashSampleRows(sq: Int, chunks: Int, block: Int) -> SampleRows {
    var groups: [Range<Int>] = []
    for s in 0..<chunks {
        let start = s * sq / chunks, end = (s + 1) * sq / chunks
        let group = max(start, end - block)..<end
        if !group.isEmpty && !groups.contains(group) { groups.append(group) }
    }
    return SampleRows(groups: groups)
}

/// The fewest blocks (the forced one first) whose mass reaches `target`; ascending.
func selectBlocks(mass: [Double], forced: Int, target: Double) -> [Int] {
    var kept = mass[forced]
    var order = Array(mass.indices).filter { $0 != forced && mass[$0] > 0 }
    order.sort { mass[$0] != mass[$1] ? mass[$0] > mass[$1] : $0 < $1 }
    var chosen = [forced]
    for b in order where kept < target {
        chosen.append(b)
        kept += mass[b]
    }
    return chosen.sorted()
}

func buildSlashPlan(_ pb: Problem, _ params: Params, threads: Int, ws: Workspace) throws -> Plan {
    let sq = pb.sq, sk = pb.sk, G = pb.groupSize, dim = pb.dim
    let B = params.blockSize, nb = (sk + B - 1) / B
    let causal = HeadPlan.causalEntries(sq: sq, sk: sk)
    let rows = slashSampleRows(sq: sq, chunks: params.chunkN, block: B)
    var firstRow = [0]
    for g in rows.groups { firstRow.append(firstRow.last! + g.count) }
    let positions = rows.groups.flatMap { $0.map { pb.position(ofRow: $0) } }

    let ldS = PackedKV.paddedKeys(sk), rowsPad = KernelTraits.roundUp(B, KernelTraits.rows)
    let keys = try PackedKV.allocate(keys: sk, dim: dim, withValues: false, in: ws, what: "packed keys")
    let perWorker = try checkedProduct(rowsPad, ldS + dim, what: "sampling scratch") + 2 * rowsPad
    let scratch = try ws.allocate(try checkedProduct(threads, perWorker, what: "sampling scratch"),
                                  of: Float.self, what: "sampling scratch")
    // Per head, per sampled row: its softmax mass in each key block.
    let blockMass = try ws.allocate(try checkedProduct(G, rows.count, nb, what: "block mass"), of: Float.self,
                                    zeroed: true, what: "block mass")

    var heads = [HeadPlan](repeating: HeadPlan.dense(sq: sq, sk: sk), count: pb.hq)
    var timeSample = 0.0, timeFilter = 0.0
    var reason = SA_FALLBACK_NONE
    let selected = UnsafeMutablePointer<([Int], [Int])>.allocate(capacity: G)
    selected.initialize(repeating: ([], []), count: G)
    defer { selected.deinitialize(count: G); selected.deallocate() }

    for kvHead in 0..<pb.hkv {
        let t0 = sac_now_seconds()
        keys.fillParallel(from: pb.k, nil, head: kvHead, indices: nil, threads: threads, rows: scratch)
        parallelFor(threads: threads, tasks: G * rows.groups.count) { t, worker in
            let hl = t / rows.groups.count, g = t % rows.groups.count
            let group = rows.groups[g]
            let base = scratch + worker * perWorker
            let totals = base + rowsPad * (ldS + dim), lse2 = totals + rowsPad
            groupExponentials(group, head: kvHead * G + hl, problem: pb, keys: keys, q: base,
                              scores: base + rowsPad * dim, totals: totals, lse2: lse2)
            for (r, i) in group.enumerated() {
                let p = pb.position(ofRow: i), row = base + rowsPad * dim + r * ldS
                let inv = 1 / totals[r]
                let dst = blockMass + (hl * rows.count + firstRow[g] + r) * nb
                for kb in 0...(p / B) {
                    var sum: Float = 0
                    for j in kb * B..<min(kb * B + B, p + 1) { sum += row[j] }
                    dst[kb] = sum * inv
                }
            }
        }
        let t1 = sac_now_seconds()
        timeSample += t1 - t0

        // Diagonal offsets first (the local structure), then the fewest column blocks that bring
        // the sampled rows' kept mass (diagonals + columns) to alpha_column.
        parallelFor(threads: threads, tasks: G) { hl, _ in
            let mass = { (r: Int) in blockMass + (hl * rows.count + r) * nb }
            var slashes = [Double](repeating: 0, count: nb)
            for r in 0..<rows.count {
                let m = mass(r), qb = positions[r] / B
                for kb in 0...qb { slashes[qb - kb] += Double(m[kb]) }
            }
            let n = Double(rows.count)
            let diagonals = selectBlocks(mass: slashes, forced: 0, target: Double(params.alphaSlash) * n)
            var isDiagonal = [Bool](repeating: false, count: nb)
            for d in diagonals { isDiagonal[d] = true }
            var residual = [Double](repeating: 0, count: nb)
            var covered = 0.0
            for r in 0..<rows.count {
                let m = mass(r), qb = positions[r] / B
                for kb in 0...qb {
                    if isDiagonal[qb - kb] { covered += Double(m[kb]) } else { residual[kb] += Double(m[kb]) }
                }
            }
            let columns = selectBlocks(mass: residual, forced: 0, target: Double(params.alphaColumn) * n - covered)
            selected[hl] = (columns, diagonals)
        }
        if params.shareKVGroup {
            let c = Array(Set((0..<G).flatMap { selected[$0].0 })).sorted()
            let s = Array(Set((0..<G).flatMap { selected[$0].1 })).sorted()
            for hl in 0..<G { selected[hl] = (c, s) }
        }
        for hl in 0..<G {
            let (c, s) = selected[hl]
            var head = HeadPlan(dense: false, window: 0, indices: c.flatMap { ($0 * B)..<min(sk, $0 * B + B) },
                                keptEntries: 0, causalEntries: causal, craMean: 0, craMin: 0,
                                blockSize: B, columnBlocks: c, slashBlocks: s)
            head.keptEntries = head.slashKeptEntries(sq: sq, sk: sk)
            // Estimated CRA: each sampled row's mass on the key blocks its query block keeps.
            var sum = 0.0, lowest = Double.infinity
            for r in 0..<rows.count {
                let m = blockMass + (hl * rows.count + r) * nb
                var kept = 0.0
                for run in head.keptBlockRuns(queryBlock: positions[r] / B) { for kb in run { kept += Double(m[kb]) } }
                sum += kept
                lowest = min(lowest, kept)
            }
            head.craMean = min(1, sum / Double(rows.count))
            head.craMin = min(1, lowest)
            if head.density > Double(params.maxDensity) && !params.forceSparse {
                head = HeadPlan.dense(sq: sq, sk: sk)
                reason = SA_FALLBACK_DENSITY
            }
            heads[kvHead * G + hl] = head
        }
        timeFilter += sac_now_seconds() - t1
    }
    if heads.allSatisfy(\.dense) && reason == SA_FALLBACK_NONE { reason = SA_FALLBACK_DENSITY }
    return Plan(hq: pb.hq, sq: sq, sk: sk, params: params, heads: heads,
                timeSample: timeSample, timeFilter: timeFilter, fallbackReason: reason)
}
