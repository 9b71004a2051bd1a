/// The seed planner's buffers, all allocated before any work: one K/V head's packed keys,
/// per-worker scratch, and per query head of the group stage 1's sums (per partition and fold,
/// then the total), row statistics, large entries and the narrower windows' bands (WindowBands).
struct SeedWorkspace {
    let keys: PackedKV           // with a bf16 copy when stage 1 scores on AMX tiles
    let ldS: Int                 // padded keys: the stride of every per-key row
    let gsPad: Int               // rows of the largest sampled group, padded to the score tile
    let perWorker: Int           // scratch floats per worker
    let slots: Int               // column-mass rows per head: parts * folds, then the total
    private let dim: Int
    private let scratch: UnsafeMutablePointer<Float>
    private let mass: UnsafeMutablePointer<Float>
    private let rowStats: UnsafeMutablePointer<Float>
    private let entryStore: [SampledEntries]
    private let sampled: Int
    let windows: [Int]
    let fullWindow: Int
    private let bandRows: UnsafeMutablePointer<Float>?
    private let bandColumns: UnsafeMutablePointer<Float>?
    private let parts: Int
    /// Per worker: room to gather one head's selected keys (at most sk) for the exact CRA.
    let panels: UnsafeMutablePointer<Float>
    /// Stage 1's turns, per query head of the group and partition: the next group to add its sums.
    let turns: UnsafeMutablePointer<Int32>

    init(_ pb: Problem, rows: SampleRows, split: SampleSplit, windows: [Int], fullWindow: Int, withEntries: Bool, rowMinimum: Bool,
         bf16Keys: Bool, threads: Int, ws: Workspace) throws {
        let G = pb.groupSize, dim = pb.dim, ldS = PackedKV.paddedKeys(pb.sk)
        self.dim = dim
        self.ldS = ldS
        sampled = rows.count
        gsPad = KernelTraits.roundUp(rows.groups.map(\.count).max()!, KernelTraits.rows)
        var keys = try PackedKV.allocate(keys: pb.sk, dim: dim, withValues: false, in: ws, what: "packed keys")
        if bf16Keys { keys.bf16 = try PackedBF16.allocate(for: keys, withValues: false, in: ws) }
        self.keys = keys
        perWorker = try checkedProduct(gsPad, ldS + dim, what: "sampling scratch") + dim
        scratch = try ws.allocate(try checkedProduct(threads, perWorker, what: "sampling scratch"),
                                  of: Float.self, what: "sampling scratch")
        slots = split.parts * split.folds + 1
        mass = try ws.allocate(try checkedProduct(G, slots, ldS, what: "column mass"), of: Float.self, what: "column mass")
        rowStats = try ws.allocate(2 * G * rows.count, of: Float.self, what: "sampled row stats")
        self.windows = windows
        self.fullWindow = fullWindow
        parts = split.parts
        let bands = windows.count - 1
        bandRows = bands > 0
            ? try ws.allocate(try checkedProduct(G, bands, rows.count, what: "window bands"), of: Float.self, what: "window bands") : nil
        bandColumns = bands > 0
            ? try ws.allocate(try checkedProduct(G, split.parts, bands, ldS, what: "window bands"), of: Float.self,
                              what: "window bands") : nil
        if withEntries {
            let capacity = SampledEntries.capacity, n = rows.count
            let slots = try checkedProduct(G, n, capacity, what: "sampled entries")
            let keys = try ws.allocate(slots, of: Int32.self, what: "sampled entries")
            let probs = try ws.allocate(slots, of: Float.self, what: "sampled entries")
            let counts = try ws.allocate(G * n, of: Int32.self, what: "sampled entries")
            entryStore = (0..<G).map { hl in
                SampledEntries(keys: keys + hl * n * capacity, probs: probs + hl * n * capacity, counts: counts + hl * n)
            }
        } else {
            entryStore = []
        }
        turns = try ws.allocate(G * split.parts, of: Int32.self, what: "stage-1 turns")
        panels = try ws.allocate(rowMinimum ? try checkedProduct(threads, ldS, dim, what: "plan panels") : 1,
                                 of: Float.self, zeroed: true, what: "plan panels")
    }

    /// Column-mass row s of query head hl of the group.
    func slot(_ hl: Int, _ s: Int) -> UnsafeMutablePointer<Float> { mass + (hl * slots + s) * ldS }
    /// Fold f's sums of head hl (after the reduction; partition 0's rows hold them).
    func foldMass(_ hl: Int, _ f: Int) -> UnsafeMutablePointer<Float> { slot(hl, f) }
    func stats(_ hl: Int) -> SampleStats {
        SampleStats(columnMass: slot(hl, slots - 1), rowLse2: rowStats + 2 * hl * sampled,
                    rowWindowMass: rowStats + (2 * hl + 1) * sampled, bands: bands(hl))
    }
    /// Head hl's window bands (none when the window is fixed).
    func bands(_ hl: Int) -> WindowBands {
        let n = windows.count - 1
        return WindowBands(windows: windows, full: fullWindow, parts: parts, ldS: ldS, rowMassStore: bandRows.map { $0 + hl * n * sampled },
                           columnStore: bandColumns.map { $0 + hl * parts * n * ldS }, sampled: sampled)
    }
    /// Head hl's large entries; nil without diagonal stripes.
    func entries(_ hl: Int) -> SampledEntries? { entryStore.isEmpty ? nil : entryStore[hl] }

    /// Worker scratch: packed queries, then scores [gsPad x ldS], then one query row.
    func queries(_ worker: Int) -> UnsafeMutablePointer<Float> { scratch + worker * perWorker }
    func scores(_ worker: Int) -> UnsafeMutablePointer<Float> { queries(worker) + gsPad * dim }
    func queryRow(_ worker: Int) -> UnsafeMutablePointer<Float> { queries(worker) + gsPad * (ldS + dim) }
    /// Worker scratch of stage 2 (after stage 1 is done with it): [ldS] floats.
    func selectionScratch(_ worker: Int) -> UnsafeMutablePointer<Float> { scores(worker) }
}
