import CSampleAttn

/// Exact online-softmax attention of one block of query rows over packed key panels
/// (FlashAttention-style): per panel, each row r attends to panel keys [lo[r], hi[r]).
/// Scores are in log2 units (Q was pre-multiplied by scale * log2(e)), so exp is exp2.
/// The kernel takes rows in and never knows which thread runs it. Where the process's kernel
/// table has a C row-tile kernel (AVX-512), it does each row tile's step instead (same results).

/// Per-worker scratch of one query block.
struct BlockScratch {
    let q: UnsafeMutablePointer<Float>      // [queryBlock x dim] packed (see packQueries)
    let s: UnsafeMutablePointer<Float>      // [queryBlock x keyBlock] scores, then probabilities
    let o: UnsafeMutablePointer<Float>      // [queryBlock x dim] unnormalised output
    let m: UnsafeMutablePointer<Float>      // running row max (log2 units)
    let l: UnsafeMutablePointer<Float>      // running row sum of 2^(s - m)
    let lo: UnsafeMutablePointer<Int>       // per-row key range of the current panel
    let hi: UnsafeMutablePointer<Int>
    let keys: UnsafeMutablePointer<Int>     // [keyBlock] key indices of a diagonal pass
    let row: UnsafeMutablePointer<Float>    // [dim] conversion scratch
    let kernels: KernelTable
    // bf16 operand copies (kernels.bf16Operands): the query block's rows, one key block's keys and values
    let qb: UnsafeMutablePointer<UInt16>
    let kb: UnsafeMutablePointer<UInt16>
    let vb: UnsafeMutablePointer<UInt16>

    static func floatsPerWorker(dim: Int, kernels: KernelTable) -> Int {
        let b = KernelTraits.queryBlock
        let bf16 = kernels.bf16Operands ? (b * dim + 2 * KernelTraits.keyBlock * dim) / 2 : 0
        return 2 * b * dim + b * KernelTraits.keyBlock + 2 * b + dim + bf16
    }

    static var intsPerWorker: Int { 2 * KernelTraits.queryBlock + KernelTraits.keyBlock }

    init(floats: UnsafeMutablePointer<Float>, ints: UnsafeMutablePointer<Int>, dim: Int, kernels: KernelTable) {
        let b = KernelTraits.queryBlock
        q = floats
        o = q + b * dim
        s = o + b * dim
        m = s + b * KernelTraits.keyBlock
        l = m + b
        row = l + b
        self.kernels = kernels
        qb = UnsafeMutableRawPointer(row + dim).assumingMemoryBound(to: UInt16.self)
        kb = qb + b * dim
        vb = kb + KernelTraits.keyBlock * dim
        lo = ints
        hi = ints + b
        keys = hi + b
    }

    /// Starts a block: running max -inf, sums and outputs 0.
    func reset(rows: Int, dim: Int) {
        m.update(repeating: -.infinity, count: rows)
        l.update(repeating: 0, count: rows)
        o.update(repeating: 0, count: rows * dim)
    }
}

/// The C view of a row range array (Int is Int64 on every platform the library builds for).
@inline(__always) private func int64(_ p: UnsafeMutablePointer<Int>) -> UnsafePointer<Int64> {
    UnsafeRawPointer(p).assumingMemoryBound(to: Int64.self)
}

/// Key tiles row tile rt needs inside [j0, j1): the union of its rows' ranges, as [ta, tb) in
/// block coordinates; (0, 0) when empty.
private func rowTileKeys(_ w: BlockScratch, _ rt: Int, _ j0: Int, _ j1: Int) -> (ta: Int, tb: Int) {
    let kt = KernelTraits.keyTile
    var ua = Int.max, ub = Int.min
    for r in rt..<rt + KernelTraits.rows where w.lo[r] < w.hi[r] {
        ua = min(ua, max(w.lo[r], j0)); ub = max(ub, min(w.hi[r], j1))
    }
    return ua < ub ? ((ua - j0) / kt * kt, KernelTraits.roundUp(ub - j0, kt)) : (0, 0)
}

/// Adds panel keys to the running softmax of `rows` query rows (a multiple of 6; rows with an
/// empty range are skipped).
func attendPanel(_ panel: PackedKV, rows: Int, _ w: BlockScratch) {
    let dim = panel.dim
    let tileRows = KernelTraits.rows, kt = KernelTraits.keyTile, lds = KernelTraits.keyBlock
    var minLo = Int.max, maxHi = 0
    for r in 0..<rows where w.lo[r] < w.hi[r] {
        minLo = min(minLo, w.lo[r])
        maxHi = max(maxHi, w.hi[r])
    }
    if maxHi == 0 { return }
    var j0 = minLo / kt * kt
    while j0 < maxHi {
        let j1 = min(j0 + lds, KernelTraits.roundUp(maxHi, kt))
        if let block = w.kernels.block {
            // The panel's bf16 copy where the block's 32-key value chunks end inside the block or
            // run into the copy's zero tail (a zero probability never meets a key past the
            // block, nor memory past the copy); else this block, packed here.
            var kb = w.kb, vb = w.vb
            if let bf16 = panel.bf16, let values = bf16.vb, (j1 - j0) % 32 == 0 || j1 >= bf16.keys {
                kb = bf16.kb + j0 * dim
                vb = values + j0 * dim
            } else {
                sac_pack_block_bf16(panel.tile(at: j0), panel.v! + j0 * dim, Int32(dim),
                                    Int32((max(minLo, j0) - j0) / kt * kt), Int32(j1 - j0), w.kb, w.vb)
            }
            var step = sac_block(qa: w.qb, kb: kb, vb: vb, lo: int64(w.lo), hi: int64(w.hi), s: w.s,
                                 m: w.m, l: w.l, o: w.o, j0: Int64(j0), j1: Int64(j1), rows: Int32(rows),
                                 dim: Int32(dim), lds: Int32(lds))
            block(&step)
            j0 = j1
            continue
        }
        var rt = 0
        while rt < rows {
            // Key tiles this row tile needs inside [j0, j1): the union of its rows' ranges
            // (rowTileKeys' loop, kept inline: through the helper the Swift path ran slower).
            var ua = Int.max, ub = Int.min
            for r in rt..<rt + tileRows where w.lo[r] < w.hi[r] {
                ua = min(ua, max(w.lo[r], j0)); ub = max(ub, min(w.hi[r], j1))
            }
            let s = w.s + rt * lds
            if ua < ub, let rowTile = w.kernels.rowTile {
                let ta = (ua - j0) / kt * kt, tb = KernelTraits.roundUp(ub - j0, kt)
                var step = sac_rowtile(
                    q: w.q + rt * dim, kt: panel.tile(at: j0), v: panel.v! + j0 * dim,
                    lo: int64(w.lo + rt), hi: int64(w.hi + rt), s: s,
                    m: w.m + rt, l: w.l + rt, o: w.o + rt * dim, j0: Int64(j0), j1: Int64(j1),
                    dim: Int32(dim), lds: Int32(lds), ta: Int32(ta), tb: Int32(tb), round_p: w.kernels.roundP ? 1 : 0)
                // Two row tiles that need the same key tiles share one call (and its loads).
                if rt + 2 * tileRows <= rows, let pair = w.kernels.rowTilePair,
                   rowTileKeys(w, rt + tileRows, j0, j1) == (ta, tb) {
                    pair(&step)
                    rt += 2 * tileRows
                    continue
                }
                rowTile(&step)
            } else if ua < ub {
                let ta = (ua - j0) / kt * kt, tb = KernelTraits.roundUp(ub - j0, kt)
                var t = ta
                while t < tb {
                    scoreTile(w.q + rt * dim, panel.tile(at: j0 + t), dim, s + t, lds)
                    t += kt
                }
                for r in rt..<rt + tileRows {
                    let row = s + (r - rt) * lds
                    let a = max(w.lo[r], j0) - j0, b = min(w.hi[r], j1) - j0
                    if a >= b { zeroRange(row, ta, tb); continue }
                    // Masked keys get -inf, whose exp2 is exactly 0: the softmax then runs on
                    // whole 16-key tiles with no scalar edges.
                    fillRange(row, ta, a, -.infinity)
                    fillRange(row, b, tb, -.infinity)
                    let mNew = max(w.m[r], rowMax(row, ta, tb))
                    let correction = exp2s(w.m[r] - mNew)
                    let sum = exp2InPlace(row, ta, tb, shift: mNew)
                    if w.kernels.roundP { sac_round_bf16(row + ta, Int64(tb - ta)) }
                    w.l[r] = w.l[r] * correction + sum
                    w.m[r] = mNew
                    if correction != 1 {
                        let o = w.o + r * dim
                        let cv = F8(repeating: correction)
                        var c = 0
                        while c < dim { store8(load8(o + c) * cv, o + c); c += 8 }
                    }
                }
                valueRows(s, lds, panel.v! + j0 * dim, dim, ta, tb, w.o + rt * dim)
            }
            rt += tileRows
        }
        j0 = j1
    }
}
