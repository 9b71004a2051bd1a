import CSampleAttn

/// SA_MODE_SAMPLE_SLASH: the sampled rows are a few whole query blocks (the last block of each
/// of chunk_n segments). Their exact softmax is summed per diagonal block offset and the fewest
/// offsets reaching alpha_slash of that mass are kept (offset 0 always); then, on the mass those
/// diagonals leave, the fewest single key columns that bring the kept share to alpha_column
/// (key block 0 always). Columns are chosen on the residual so the local structure is not paid
/// twice, and per key (not per block) so a stripe costs one key, as in the seed mode. Sampling
/// cost is fixed per head, so it shrinks relative to attention as prompts grow.

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

/// The fewest entries (the forced ones first) whose mass reaches `target`; ascending.
func selectFewest(mass: UnsafePointer<Double>, count: Int, forced: Range<Int>, target: Double) -> [Int] {
    var kept = 0.0
    for i in forced { kept += mass[i] }
    var order = (0..<count).filter { !forced.contains($0) && mass[$0] > 0 }
    order.sort { mass[$0] != mass[$1] ? mass[$0] > mass[$1] : $0 < $1 }
    var chosen = Array(forced)
    for i in order where kept < target {
        chosen.append(i)
        kept += mass[i]
    }
    return chosen.sorted()
}

func buildSlashPlan(_ pb: Problem, _ params: Params, threads: Int, ws: Workspace, rowMinimum: Bool) throws -> Plan {
    let sq = pb.sq, sk = pb.sk, G = pb.groupSize, dim = pb.dim
    let B = params.blockSize, nb = (sk + B - 1) / B
    let causal = HeadPlan.causalEntries(sq: sq, sk: sk)
    let rows = slashSampleRows(sq: sq, chunks: params.chunkN, block: B)

    let ldS = PackedKV.paddedKeys(sk), rowsPad = KernelTraits.roundUp(B, KernelTraits.rows)
    let keys = try PackedKV.allocate(keys: sk, dim: dim, withValues: false, in: ws, what: "packed keys")
    let perWorker = try checkedProduct(rowsPad, ldS + dim, what: "sampling scratch") + rowsPad
    let scratch = try ws.allocate(try checkedProduct(threads, perWorker, what: "sampling scratch"),
                                  of: Float.self, what: "sampling scratch")
    // Per worker: mass per diagonal block and per key (float64: sums of many small terms).
    let sums = try ws.allocate(try checkedProduct(threads, nb + ldS, what: "slash sums"), of: Double.self, what: "slash sums")

    var heads = PlannedHeads(count: pb.hq, sq: sq, sk: sk)
    var timeSample = 0.0
    let planned = UnsafeMutablePointer<HeadPlan>.allocate(capacity: G)
    planned.initialize(repeating: HeadPlan.dense(sq: sq, sk: sk), count: G)
    defer { planned.deinitialize(count: G); planned.deallocate() }

    for kvHead in 0..<pb.hkv {
        let t0 = sac_now_seconds()
        keys.fillParallel(from: pb.k, nil, head: kvHead, indices: nil, threads: threads, rows: scratch)
        // One task per query head: two passes over its few sampled blocks (recomputing their
        // scores is cheaper than keeping rows x S_k probabilities per head).
        parallelFor(threads: threads, tasks: G) { hl, worker in
            let h = kvHead * G + hl
            let base = scratch + worker * perWorker
            let q = base, probs = base + rowsPad * dim, lse2 = probs + rowsPad * ldS
            let diagonal = sums + worker * (nb + ldS), column = diagonal + nb
            /// Calls body(p, row of 2^(s - max), 1 / sum) for every sampled row.
            func forEachSampledRow(_ body: (Int, UnsafeMutablePointer<Float>, Float) -> Void) {
                for group in rows.groups {
                    groupExponentials(group, head: h, problem: pb, keys: keys, q: q, scores: probs, lse2: lse2) { _, p, row, inv in
                        body(p, row, inv)
                    }
                }
            }
            diagonal.update(repeating: 0, count: nb)
            forEachSampledRow { p, row, inv in
                let qb = p / B
                for kb in 0...qb {
                    var sum: Float = 0
                    for j in kb * B..<min(kb * B + B, p + 1) { sum += row[j] }
                    diagonal[qb - kb] += Double(sum * inv)
                }
            }
            let n = Double(rows.count)
            var head = HeadPlan(dense: false, window: 0, indices: [], keptEntries: 0, causalEntries: causal,
                                craMean: 0, craMin: .nan, blockSize: B,
                                slashBlocks: selectFewest(mass: diagonal, count: nb, forced: 0..<1,
                                                          target: Double(params.alphaSlash) * n))
            column.update(repeating: 0, count: ldS)
            var covered = 0.0
            forEachSampledRow { p, row, inv in
                for r in head.diagonalRanges(queryBlock: p / B, sk: sk) where r.lowerBound <= p {
                    var sum: Float = 0
                    for j in r.lowerBound..<min(r.upperBound, p + 1) { sum += row[j]; row[j] = 0 }
                    covered += Double(sum * inv)
                }
                for j in 0...p { column[j] += Double(row[j] * inv) }
            }
            head.indices = selectFewest(mass: column, count: sk, forced: 0..<min(B, sk),
                                        target: Double(params.alphaColumn) * n - covered)
            var kept = covered
            for j in head.indices { kept += column[j] }
            head.craMean = min(1, kept / n)
            if rowMinimum {
                var lowest = Double.infinity
                forEachSampledRow { p, row, inv in
                    var rowKept = 0.0
                    let ranges = head.diagonalRanges(queryBlock: p / B, sk: sk)
                    for r in ranges where r.lowerBound <= p {
                        for j in r.lowerBound..<min(r.upperBound, p + 1) { rowKept += Double(row[j] * inv) }
                    }
                    for slice in head.columnSlices(outside: ranges) {
                        for e in slice where head.indices[e] <= p { rowKept += Double(row[head.indices[e]] * inv) }
                    }
                    lowest = min(lowest, rowKept)
                }
                head.craMin = min(1, lowest)
            }
            planned[hl] = head
        }
        timeSample += sac_now_seconds() - t0
        if params.shareKVGroup {
            let columns = groupUnion((0..<G).map { planned[$0].indices })
            let diagonals = groupUnion((0..<G).map { planned[$0].slashBlocks })
            for hl in 0..<G { planned[hl].indices = columns; planned[hl].slashBlocks = diagonals }
        }
        for hl in 0..<G {
            var head = planned[hl]
            head.keptEntries = head.slashKeptEntries(sq: sq, sk: sk)
            heads.store(head, at: kvHead * G + hl, params: params)
        }
    }
    // Stages 1 and 2 run fused per head here; their time is reported as sampling.
    return Plan(hq: pb.hq, sq: sq, sk: sk, params: params, heads: heads.heads,
                timeSample: timeSample, timeFilter: 0, fallbackReason: heads.fallbackReason)
}
