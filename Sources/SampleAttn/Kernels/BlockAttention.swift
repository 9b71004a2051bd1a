/// Exact online-softmax attention of one block of query rows over packed key panels
/// (FlashAttention-style): per panel, each row r attends to panel keys [lo[r], hi[r]).
/// Scores are in log2 units (Q was pre-multiplied by scale * log2(e)), so exp is exp2.
/// The kernel takes rows in and never knows which thread runs it.

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

    static func floatsPerWorker(dim: Int) -> Int {
        let b = KernelTraits.queryBlock
        return 2 * b * dim + b * KernelTraits.keyBlock + 2 * b + dim
    }

    static var intsPerWorker: Int { 2 * KernelTraits.queryBlock + KernelTraits.keyBlock }

    init(floats: UnsafeMutablePointer<Float>, ints: UnsafeMutablePointer<Int>, dim: Int) {
        let b = KernelTraits.queryBlock
        q = floats
        o = q + b * dim
        s = o + b * dim
        m = s + b * KernelTraits.keyBlock
        l = m + b
        row = l + b
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
        var rt = 0
        while rt < rows {
            // Key tiles this row tile needs inside [j0, j1): the union of its rows' ranges.
            var ua = Int.max, ub = Int.min
            for r in rt..<rt + tileRows where w.lo[r] < w.hi[r] {
                ua = min(ua, max(w.lo[r], j0)); ub = max(ub, min(w.hi[r], j1))
            }
            let s = w.s + rt * lds
            if ua < ub {
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
