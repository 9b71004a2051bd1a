#if canImport(Glibc)
import Glibc
#endif
import CSampleAttn

/// The attention pass: exact attention over a plan's mask (dense heads over all causal keys),
/// one K/V head at a time, tasks = (query head of the group, query block), written to `out`.
/// Everything is allocated before the first write, so a failure leaves the output untouched.
func runAttention(_ pb: Problem, _ plan: Plan, threads: Int, ws: Workspace) throws {
    guard let out = pb.out, let vView = pb.v else { throw SAError(SA_ERR_INTERNAL, "attention without v or out") }
    let sq = pb.sq, sk = pb.sk, G = pb.groupSize, dim = pb.dim

    // Stripe panels of one K/V group: heads with equal index lists share one panel.
    func panelOwners(_ kvHead: Int) -> [Int] {
        (0..<G).map { hl in
            let h = kvHead * G + hl
            return (0..<hl).first { plan.heads[kvHead * G + $0].indices == plan.heads[h].indices } ?? hl
        }
    }
    var panelKeys = 0
    for g in 0..<pb.hkv {
        let owners = panelOwners(g)
        let total = (0..<G).filter { owners[$0] == $0 && plan.heads[g * G + $0].usesStripePanel }
            .reduce(0) { $0 + PackedKV.paddedKeys(plan.heads[g * G + $1].indices.count) }
        panelKeys = max(panelKeys, total)
    }
    var packed = try PackedKV.allocate(keys: sk, dim: dim, withValues: true, in: ws, what: "packed keys/values")
    var panelStore = try PackedKV.allocate(keys: panelKeys, dim: dim, withValues: true, in: ws, what: "stripe panels")
    // Keys as plain rows for the per-row dot products of diagonal stripes.
    let withDiagonals = plan.heads.contains { !$0.diagonals.isEmpty && !$0.dense }
    let rowKeys = withDiagonals
        ? try ws.allocate(try checkedProduct(sk, dim, what: "key rows"), of: Float.self, what: "key rows") : nil
    // Per head of a group: which keys are selected indices (a diagonal key among them is skipped).
    let selected = try ws.allocate(withDiagonals ? try checkedProduct(G, sk, what: "index maps") : 1,
                                   of: UInt8.self, what: "index maps")
    let kernels = KernelTable(bf16Products: plan.params.bf16Products, dim: dim)
    // The AMX kernel's bf16 copy of each K/V head, packed once instead of once per query block.
    if kernels.bf16Operands {
        packed.bf16 = try PackedBF16.allocate(for: packed, in: ws)
        panelStore.bf16 = try PackedBF16.allocate(for: panelStore, in: ws)
    }
    let bf16 = plan.params.bf16Products
    let floatsPerWorker = BlockScratch.floatsPerWorker(dim: dim, kernels: kernels)
    let floats = try ws.allocate(try checkedProduct(threads, floatsPerWorker, what: "kernel scratch"), of: Float.self, what: "kernel scratch")
    let ints = try ws.allocate(threads * BlockScratch.intsPerWorker, of: Int.self, what: "kernel scratch")
    let qmul = pb.scale * Float(1.4426950408889634)   // log2(e): the kernel works in exp2
    let ln2 = Float(0.6931471805599453)

    for kvHead in 0..<pb.hkv {
        packed.fillParallel(from: pb.k, vView, head: kvHead, indices: nil, threads: threads,
                            rows: floats, roundToBF16: bf16)
        packed.bf16?.fill(from: packed, threads: threads)
        if let rowKeys {
            parallelFor(threads: threads, tasks: (sk + 1023) / 1024) { t, _ in
                for j in t * 1024..<min(sk, (t + 1) * 1024) {
                    sac_load_f32(pb.k.row(token: j, head: kvHead), pb.k.dtype, rowKeys + j * dim, Int64(dim), 1)
                    if bf16 { sac_round_bf16(rowKeys + j * dim, Int64(dim)) }
                }
            }
            for hl in 0..<G where !plan.heads[kvHead * G + hl].diagonals.isEmpty {
                let map = selected + hl * sk
                map.update(repeating: 0, count: sk)
                for j in plan.heads[kvHead * G + hl].indices { map[j] = 1 }
            }
        }
        // Lay out this group's panels and gather them.
        let owners = panelOwners(kvHead)
        var offsets = [Int](repeating: 0, count: G)
        var next = 0
        for hl in 0..<G where owners[hl] == hl && plan.heads[kvHead * G + hl].usesStripePanel {
            offsets[hl] = next
            next += PackedKV.paddedKeys(plan.heads[kvHead * G + hl].indices.count)
        }
        let panels: [PackedKV] = (0..<G).map { hl in
            let start = offsets[owners[hl]]
            return PackedKV(kt: panelStore.kt + start * dim, v: panelStore.v! + start * dim,
                            keys: plan.heads[kvHead * G + hl].indices.count, dim: dim,
                            bf16: panelStore.bf16?.slice(start, dim: dim))
        }
        // Gathered in chunks of keys (a multiple of the key tile, so no two tasks share a
        // tile's cache lines): a head's panel is up to S_k keys, more than one task's share.
        let gatherKeys = 1024
        var gathers: [(hl: Int, keys: Range<Int>)] = []
        for hl in 0..<G where owners[hl] == hl && plan.heads[kvHead * G + hl].usesStripePanel {
            let count = plan.heads[kvHead * G + hl].indices.count
            for a in stride(from: 0, to: max(count, 1), by: gatherKeys) { gathers.append((hl, a..<min(count, a + gatherKeys))) }
        }
        parallelFor(threads: threads, tasks: gathers.count) { t, _ in
            let (hl, keys) = gathers[t]
            let head = plan.heads[kvHead * G + hl]
            if !keys.isEmpty {
                head.indices.withUnsafeBufferPointer { idx in
                    panels[hl].gather(from: packed, indices: idx.baseAddress!, range: keys)
                }
            }
            if keys.upperBound == head.indices.count { panels[hl].zeroPadding() }
        }
        if next > 0 { panelStore.bf16?.fill(from: panelStore, threads: threads) }

        // Tasks: (query head of the group, block of query rows); slash heads use blocks aligned
        // to their block size, so every row of a block keeps the same key blocks. Blocks with
        // the last rows (the most keys) go first, for balance under dynamic scheduling.
        var tasks: [(hl: Int, rows: Range<Int>)] = []
        for hl in 0..<G {
            let head = plan.heads[kvHead * G + hl]
            for rows in queryBlocks(sq: sq, sk: sk, alignedTo: head.isSlash ? head.blockSize : 0) {
                tasks.append((hl, rows))
            }
        }
        tasks.sort { $0.rows.lowerBound != $1.rows.lowerBound ? $0.rows.lowerBound > $1.rows.lowerBound : $0.hl < $1.hl }
        parallelFor(threads: threads, tasks: tasks.count) { t, worker in
            let hl = tasks[t].hl, r0 = tasks[t].rows.lowerBound, n = tasks[t].rows.count
            let h = kvHead * G + hl
            let head = plan.heads[h]
            let w = BlockScratch(floats: floats + worker * floatsPerWorker, ints: ints + worker * BlockScratch.intsPerWorker, dim: dim,
                             kernels: kernels)
            let rows = KernelTraits.roundUp(n, KernelTraits.rows)
            packQueries(pb.q, head: h, rows: r0..<r0 + n, scale: qmul, into: w.q, row: w.row, roundToBF16: bf16)
            if kernels.bf16Operands { sac_pack_query_rows_bf16(w.q, Int32(rows), Int32(dim), w.qb) }
            w.reset(rows: rows, dim: dim)
            for r in n..<rows { w.lo[r] = 0; w.hi[r] = 0 }
            if head.dense {
                for r in 0..<n { w.lo[r] = 0; w.hi[r] = pb.position(ofRow: r0 + r) + 1 }
                attendPanel(packed, rows: rows, w)
            } else if head.isSlash {
                // The kept diagonal blocks are slices of the packed keys; the selected columns
                // outside them are slices of the head's panel. All causal at the end.
                let ranges = head.diagonalRanges(queryBlock: pb.position(ofRow: r0) / head.blockSize, sk: sk)
                for range in ranges {
                    for r in 0..<n { w.lo[r] = 0; w.hi[r] = min(range.count, pb.position(ofRow: r0 + r) + 1 - range.lowerBound) }
                    attendPanel(packed.slice(range.lowerBound, range.count), rows: rows, w)
                }
                for slice in head.columnSlices(outside: ranges) {
                    for r in 0..<n {
                        w.lo[r] = slice.lowerBound
                        w.hi[r] = min(slice.upperBound, head.indicesBelow(pb.position(ofRow: r0 + r) + 1))
                    }
                    attendPanel(panels[hl], rows: rows, w)
                }
            } else {
                for r in 0..<n { w.lo[r] = 0; w.hi[r] = head.stripeCount(atPosition: pb.position(ofRow: r0 + r)) }
                attendPanel(panels[hl], rows: rows, w)
                for r in 0..<n {
                    let p = pb.position(ofRow: r0 + r)
                    w.lo[r] = max(0, p - head.window + 1); w.hi[r] = p + 1
                }
                attendPanel(packed, rows: rows, w)
                if let rowKeys, !head.diagonals.isEmpty {
                    for r in 0..<n {
                        attendDiagonals(head.diagonals, row: r, position: pb.position(ofRow: r0 + r), keys: rowKeys,
                                        values: packed.v!, selected: selected + hl * sk, dim: dim, w)
                    }
                }
            }
            for r in 0..<n {
                let o = w.o + r * dim
                let inv = F8(repeating: 1 / w.l[r])
                var c = 0
                while c < dim { store8(load8(o + c) * inv, o + c); c += 8 }
                sac_store_f32(o, out.row(token: r0 + r, head: h), out.dtype, Int64(dim))
                if let lse = pb.lse { lse[h * sq + r0 + r] = (w.m[r] + log2f(w.l[r])) * ln2 }
            }
        }
    }
}

/// Row ranges of the query blocks: queryBlock rows each, or (alignedTo > 0) blocks whose
/// absolute positions share position / alignedTo.
func queryBlocks(sq: Int, sk: Int, alignedTo b: Int) -> [Range<Int>] {
    var blocks: [Range<Int>] = []
    var r = 0
    while r < sq {
        let p = sk - sq + r
        let end = b > 0 ? min(sq, r + (b - p % b)) : min(sq, r + KernelTraits.queryBlock)
        blocks.append(r..<end)
        r = end
    }
    return blocks
}
