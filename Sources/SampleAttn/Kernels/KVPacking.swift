import CSampleAttn

/// Keys (and optionally values) of one K/V head, or a gathered subset of them, in float32:
/// keys as tiles of 16 (dim-major inside a tile: element (c, jj) of tile t at
/// kt[t*16*dim + c*16 + jj]) for the score kernel, values as rows [keys x dim].
/// Padding keys up to the tile are zero, so whole tiles can always be computed.
struct PackedKV {
    let kt: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>?
    let keys: Int
    let dim: Int
    /// The same keys and values as bf16 operands of the AMX kernel, packed once (nil: packed per key block).
    var bf16: PackedBF16? = nil

    static func paddedKeys(_ keys: Int) -> Int { KernelTraits.roundUp(max(keys, 1), KernelTraits.keyTile) }

    /// Pointer to the tile holding key j (j a multiple of 16).
    @inline(__always) func tile(at j: Int) -> UnsafePointer<Float> { UnsafePointer(kt + j * dim) }

    /// Allocates room for `keys` keys (values too when withValues).
    static func allocate(keys: Int, dim: Int, withValues: Bool, in ws: Workspace, what: String) throws -> PackedKV {
        let n = try checkedProduct(paddedKeys(keys), dim, what: what)
        let kt = try ws.allocate(n, of: Float.self, zeroed: true, what: what + " keys")
        let v = withValues ? try ws.allocate(n, of: Float.self, zeroed: true, what: what + " values") : nil
        return PackedKV(kt: kt, v: v, keys: keys, dim: dim)
    }

    /// A view of keys first ..< first + count of this panel (same storage; first is a multiple of 16).
    func slice(_ first: Int, _ count: Int) -> PackedKV {
        PackedKV(kt: kt + first * dim, v: v.map { $0 + first * dim }, keys: count, dim: dim,
                 bf16: bf16.map { $0.slice(first, dim: dim) })
    }

    /// Converts keys `first..<end` of this panel from head `head` of k (and v), where panel key i
    /// is source token `indices?[i] ?? i`. `row` is a dim-float scratch buffer. roundToBF16:
    /// values rounded to bfloat16 (SA_PRECISION_BF16).
    func fill(from k: TensorView, _ v: TensorView?, head: Int, indices: UnsafePointer<Int>?,
              range: Range<Int>, row: UnsafeMutablePointer<Float>, roundToBF16: Bool = false) {
        for i in range {
            let token = indices?[i] ?? i
            sac_load_f32(k.row(token: token, head: head), k.dtype, row, Int64(dim), 1)
            if roundToBF16 { sac_round_bf16(row, Int64(dim)) }
            let dst = kt + (i / KernelTraits.keyTile) * KernelTraits.keyTile * dim + (i % KernelTraits.keyTile)
            for c in 0..<dim { dst[c * KernelTraits.keyTile] = row[c] }
            if let v, let vdst = self.v {
                sac_load_f32(v.row(token: token, head: head), v.dtype, vdst + i * dim, Int64(dim), 1)
                if roundToBF16 { sac_round_bf16(vdst + i * dim, Int64(dim)) }
            }
        }
    }

    /// fill() over all keys on the context's threads, in chunks of 1024 keys.
    func fillParallel(from k: TensorView, _ v: TensorView?, head: Int, indices: UnsafePointer<Int>?,
                      threads: Int, rows: UnsafeMutablePointer<Float>, roundToBF16: Bool = false) {
        let chunk = 1024
        let tasks = (keys + chunk - 1) / chunk
        let dim = self.dim
        parallelFor(threads: threads, tasks: tasks) { t, worker in
            self.fill(from: k, v, head: head, indices: indices,
                      range: t * chunk..<min(keys, (t + 1) * chunk), row: rows + worker * dim,
                      roundToBF16: roundToBF16)
        }
    }
}

/// A whole panel's keys (and values) in sac_pack_block_bf16's layouts from its first key (keys
/// in pairs of dims per 16-key tile, values in pairs of keys), so the AMX kernels read a key
/// block at an offset instead of packing it for every query block. 32 zero keys follow `keys`:
/// the kernel reads values in 32-key chunks counted from the block's first key, which may lie 16
/// keys past a multiple of 32, so a block ending at `keys` reads up to 16 keys past it.
struct PackedBF16 {
    let kb: UnsafeMutablePointer<UInt16>
    let vb: UnsafeMutablePointer<UInt16>?   // nil: keys only (stage 1)
    let keys: Int   // padded keys from the first one to the end of the packed keys (zero after)

    /// Room for the bf16 copy of `panel` (filled by fill(from:threads:)), its values too when
    /// withValues.
    static func allocate(for panel: PackedKV, withValues: Bool = true, in ws: Workspace) throws -> PackedBF16 {
        let padded = PackedKV.paddedKeys(panel.keys)
        let n = try checkedProduct(padded + 32, panel.dim, what: "bf16 keys/values")
        return PackedBF16(kb: try ws.allocate(n, of: UInt16.self, zeroed: true, what: "bf16 keys"),
                          vb: withValues ? try ws.allocate(n, of: UInt16.self, zeroed: true, what: "bf16 values") : nil,
                          keys: padded)
    }

    /// Packs `panel` (its keys, and values if this copy has them) into this storage on the
    /// context's threads, in chunks of 1024 keys.
    func fill(from panel: PackedKV, threads: Int) {
        let dim = panel.dim, chunk = 1024
        parallelFor(threads: threads, tasks: (keys + chunk - 1) / chunk) { t, _ in
            let a = t * chunk, b = min(keys, a + chunk)
            if let vb {
                sac_pack_block_bf16(panel.tile(at: a), panel.v! + a * dim, Int32(dim), 0, Int32(b - a), kb + a * dim, vb + a * dim)
            } else {
                sac_pack_keys_bf16(panel.tile(at: a), Int32(dim), 0, Int32(b - a), kb + a * dim)
            }
        }
    }

    func slice(_ first: Int, dim: Int) -> PackedBF16 {
        PackedBF16(kb: kb + first * dim, vb: vb.map { $0 + first * dim }, keys: keys - first)
    }
}

extension PackedKV {
    /// Copies keys `indices[range]` of `source` (already packed) into positions `range` of this
    /// panel: the stripe keys of a head, gathered once so the kernel reads them contiguously.
    func gather(from source: PackedKV, indices: UnsafePointer<Int>, range: Range<Int>) {
        let t = KernelTraits.keyTile
        for i in range {
            let j = indices[i]
            let src = source.kt + (j / t) * t * dim + (j % t)
            let dst = kt + (i / t) * t * dim + (i % t)
            for c in 0..<dim { dst[c * t] = src[c * t] }
            if let v, let sv = source.v { (v + i * dim).update(from: sv + j * dim, count: dim) }
        }
    }

    /// Zeroes the padding keys after `keys` up to the tile, so stale data (perhaps non-finite)
    /// never meets a zero probability.
    func zeroPadding() {
        let t = KernelTraits.keyTile
        for i in keys..<PackedKV.paddedKeys(keys) {
            let dst = kt + (i / t) * t * dim + (i % t)
            for c in 0..<dim { dst[c * t] = 0 }
            v.map { ($0 + i * dim).update(repeating: 0, count: dim) }
        }
    }
}

/// Converts query rows `rows` of `head` into the score kernel's layout, times `scale`: tiles of
/// 6 rows, dim-major inside a tile (row r, dim c of tile t at q[t*6*dim + c*6 + r]); rows past
/// the range up to the tile are 0. `row` is a dim-float scratch buffer. roundToBF16: the scaled
/// values rounded to bfloat16 (SA_PRECISION_BF16).
func packQueries(_ view: TensorView, head: Int, rows: Range<Int>, scale: Float,
                 into q: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>,
                 roundToBF16: Bool = false) {
    let dim = view.dim, tr = KernelTraits.rows
    let padded = KernelTraits.roundUp(rows.count, tr)
    q.update(repeating: 0, count: padded * dim)
    for (r, i) in rows.enumerated() {
        sac_load_f32(view.row(token: i, head: head), view.dtype, row, Int64(dim), scale)
        if roundToBF16 { sac_round_bf16(row, Int64(dim)) }
        let dst = q + (r / tr) * tr * dim + r % tr
        for c in 0..<dim { dst[c * tr] = row[c] }
    }
}

/// Row r of queries packed by packQueries (tiles of 6 rows, dim-major) into `row` ([dim]).
@inline(__always)
func unpackQuery(_ q: UnsafePointer<Float>, row r: Int, dim: Int, into row: UnsafeMutablePointer<Float>) {
    let tr = KernelTraits.rows
    let src = q + (r / tr) * tr * dim + r % tr
    for c in 0..<dim { row[c] = src[c * tr] }
}

extension PackedKV {
    /// Key j's first element in the tile layout; its dims follow keyTile floats apart.
    @inline(__always) func key(at j: Int) -> UnsafePointer<Float> {
        UnsafePointer(kt + (j / KernelTraits.keyTile) * KernelTraits.keyTile * dim + j % KernelTraits.keyTile)
    }

    /// q[0..<dim] . key j, summed in dim order: one score outside a tile (a diagonal key).
    @inline(__always) func dot(_ q: UnsafePointer<Float>, key j: Int) -> Float {
        let k = key(at: j)
        var s: Float = 0
        for c in 0..<dim { s += q[c] * k[c * KernelTraits.keyTile] }
        return s
    }
}
