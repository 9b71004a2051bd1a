import XCTest
import CSampleAttn
@testable import SampleAttn

/// The planning stages on small constructed inputs whose answers follow from the construction.
final class StageTests: XCTestCase {
    func testSampleRowsSpreadGroupsAndEndAtTheLastRow() {
        // 5% of 1000 rows is 50, below the 4-group minimum: 4 groups of 16, starts g * 984 / 3.
        let rows = SampleRows(sq: 1000, ratio: 0.05, groupSize: 16)
        XCTAssertEqual(rows.groups, [0..<16, 328..<344, 656..<672, 984..<1000])
        XCTAssertEqual(rows.firstRow, [0, 16, 32, 48, 64])
        XCTAssertEqual(rows.rowIndices(fold: 1, of: 4), [1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61])
        // Short chunks sample every row.
        XCTAssertEqual(SampleRows(sq: 40, ratio: 0.05, groupSize: 16).groups, [0..<16, 16..<32, 32..<40])
    }

    /// Stage 1 on scores that take two values: keys in `marked` score 3 (log2 units), the others
    /// 0, so a row at position p with n marked keys has probabilities 8 / Z and 1 / Z,
    /// Z = 8 n + (p + 1 - n). Candidate windows 8 (stage 1's), 4 and 2: bands at offsets 4...7
    /// and 2...3 from each row.
    func testStage1SumsTheSoftmaxOutsideEachWindow() throws {
        let sk = 48, dim = 8, window = 8, sinks = 2, folds = 2
        let marked: Set<Int> = [1, 9, 17, 30]
        let q = HostTensor(tokens: sk, heads: 1, dim: dim), k = HostTensor(tokens: sk, heads: 1, dim: dim)
        for t in 0..<sk { for c in 0..<dim { q.set(t, 0, c, c == 0 ? 3 : 0); k.set(t, 0, c, c == 0 && marked.contains(t) ? 1 : 0) } }
        var qv = q.view, kv = k.view
        // scale ln 2: the kernels multiply by scale * log2(e), so a dot product of 3 scores 3.
        let pb = try Problem(q: &qv, k: &kv, v: nil, out: nil, lse: nil, scale: Float(M_LN2), needsValues: false)
        let ws = Workspace(limit: 0)
        let keys = try PackedKV.allocate(keys: sk, dim: dim, withValues: false, in: ws, what: "keys")
        let ldS = PackedKV.paddedKeys(sk)
        let rowScratch = try ws.allocate(dim, of: Float.self, what: "row")
        keys.fillParallel(from: pb.k, nil, head: 0, indices: nil, threads: 1, rows: rowScratch)

        let rows = SampleRows(groups: [4..<10, 30..<36])
        let n = rows.count
        let foldMass = try ws.allocate(folds * ldS, of: Float.self, zeroed: true, what: "fold mass")
        let lse2 = try ws.allocate(n, of: Float.self, what: "lse"), inside = try ws.allocate(n, of: Float.self, what: "window")
        let bands = WindowBands(windows: [window, 4, 2], full: 0, parts: 1, ldS: ldS,
                                rowMassStore: try ws.allocate(2 * n, of: Float.self, what: "bands"),
                                columnStore: try ws.allocate(2 * ldS, of: Float.self, zeroed: true, what: "bands"), sampled: n)
        let stats = SampleStats(columnMass: foldMass, rowLse2: lse2, rowWindowMass: inside, bands: bands)
        let entries = SampledEntries(keys: try ws.allocate(n * SampledEntries.capacity, of: Int32.self, what: "e"),
                                     probs: try ws.allocate(n * SampledEntries.capacity, of: Float.self, what: "e"),
                                     counts: try ws.allocate(n, of: Int32.self, what: "e"))
        let qScratch = try ws.allocate(6 * dim, of: Float.self, what: "q")
        let scores = try ws.allocate(6 * ldS, of: Float.self, what: "scores")
        sampleGroups(rows, [0, 1], head: 0, problem: pb, keys: keys, window: window, stats: stats, entries: entries,
                     sinks: sinks, foldMass: foldMass, foldStride: ldS, folds: folds, q: qScratch, scores: scores)

        var expectedFold = [[Double]](repeating: [Double](repeating: 0, count: sk), count: folds)
        var expectedBand = [[Double]](repeating: [Double](repeating: 0, count: sk), count: 2)
        let bandOffsets = [4..<8, 2..<4]
        var index = 0
        for group in rows.groups {
            for (r, p) in group.enumerated() {
                let nMarked = marked.filter { $0 <= p }.count
                let z = Double(8 * nMarked + (p + 1 - nMarked))
                func prob(_ j: Int) -> Double { (marked.contains(j) ? 8 : 1) / z }
                let windowStart = max(0, p - window + 1), textStart = max(windowStart, min(sinks, p + 1))
                XCTAssertEqual(Double(lse2[index]), log2(z), accuracy: 1e-5, "row \(p)")
                XCTAssertEqual(Double(inside[index]), (textStart...p).map(prob).reduce(0, +), accuracy: 1e-6, "row \(p)")
                for j in 0..<textStart { expectedFold[r % folds][j] += prob(j) }
                for (b, offsets) in bandOffsets.enumerated() {
                    let keys = offsets.map { p - $0 }.filter { $0 >= sinks }
                    for j in keys { expectedBand[b][j] += prob(j) }
                    XCTAssertEqual(Double(bands.rowMass(b)[index]), keys.map(prob).reduce(0, +), accuracy: 1e-6, "row \(p) band \(b)")
                }
                XCTAssertEqual(Double(stats.windowMass(ofRow: index, choice: 2)),
                               (max(sinks, p - 1)...p).map(prob).reduce(0, +), accuracy: 1e-6, "row \(p) window 2")
                // Every probability here is >= 1/256: all keys between the sinks and the window are entries.
                let recorded = (0..<Int(entries.counts[index])).map { Int(entries.keys[index * SampledEntries.capacity + $0]) }
                XCTAssertEqual(recorded, Array(min(sinks, windowStart)..<windowStart), "row \(p)")
                for (s, j) in recorded.enumerated() {
                    XCTAssertEqual(Double(entries.probs[index * SampledEntries.capacity + s]), prob(j), accuracy: 1e-6)
                }
                index += 1
            }
        }
        for f in 0..<folds { for j in 0..<sk {
            XCTAssertEqual(Double(foldMass[f * ldS + j]), expectedFold[f][j], accuracy: 1e-6, "fold \(f) key \(j)")
        } }
        for b in 0..<2 { for j in 0..<sk {
            XCTAssertEqual(Double(bands.columns(b)[j]), expectedBand[b][j], accuracy: 1e-6, "band \(b) key \(j)")
        } }
    }

    func selectColumns(_ mass: [Int: Float], sk: Int = 100, window: Int = 10, windowMass: Double = 1.5, alpha: Float,
                       sinks: Int = 0, minStripes: Int = 0, maxStripes: Int = 0, positions: [Int] = [96, 97, 98, 99],
                       priorRows: Double = 0, credit: [Int: Float] = [:]) -> [Int] {
        var columnMass = [Float](repeating: 0, count: sk), bonus = [Float](repeating: 0, count: sk)
        for (j, m) in mass { columnMass[j] = m }
        for (j, m) in credit { bonus[j] = m }
        return columnMass.withUnsafeBufferPointer { c in
            bonus.withUnsafeBufferPointer { b in
                selectStripes(columnMass: c.baseAddress!, sk: sk, window: window, windowMass: windowMass, rows: [0, 1, 2, 3],
                              positions: positions, entries: nil, alpha: alpha, sinks: sinks,
                              minStripes: minStripes, maxStripes: maxStripes, maxDiagonals: 0,
                              credit: credit.isEmpty ? nil : b.baseAddress!, priorRows: priorRows).stripes.columns
            }
        }
    }

    /// Rows at positions 30, 50, 70, 90 (window 10): key 5 is kept by all four, key 50 by the
    /// rows at 70 and 90. Key 5 holds 0.6, key 50 0.5: by mass key 5 is first; per kept row (plus
    /// a prior of 2 rows) key 50 is (0.5 / 4 > 0.6 / 6), and with a prior of 20 key 5 again.
    func testStage2RanksStripesByMassPerKeptRow() {
        let mass: [Int: Float] = [5: 0.6, 50: 0.5], positions = [30, 50, 70, 90]
        // 4 rows, 3.0 in their windows: alpha 0.85 asks 3.4, one more column.
        XCTAssertEqual(selectColumns(mass, windowMass: 3.0, alpha: 0.85, positions: positions), [5])
        XCTAssertEqual(selectColumns(mass, windowMass: 3.0, alpha: 0.85, positions: positions, priorRows: 2), [50])
        XCTAssertEqual(selectColumns(mass, windowMass: 3.0, alpha: 0.85, positions: positions, priorRows: 20), [5])
    }

    /// A column's credit (its mass in the bands a narrower window gives up) counts towards alpha
    /// once picked, but does not rank it: key 40 (0.3, credit 0.6) is taken after key 20 (0.5),
    /// and then reaches the target that key 20 alone does not.
    func testStage2CreditsBandMassWithoutRankingByIt() {
        let mass: [Int: Float] = [20: 0.5, 40: 0.3, 60: 0.2]
        // 4 rows, 2.0 in their windows: alpha 0.8 asks 3.2, more than all three columns hold.
        XCTAssertEqual(selectColumns(mass, windowMass: 2.0, alpha: 0.8), [20, 40, 60])
        XCTAssertEqual(selectColumns(mass, windowMass: 2.0, alpha: 0.8, credit: [40: 0.6]), [20, 40])
        XCTAssertEqual(selectColumns(mass, windowMass: 2.0, alpha: 0.6, credit: [40: 0.6]), [20])
    }

    /// A selection says whether it reached alpha: one whose candidates run out does not (a
    /// narrower window is then not a candidate mask).
    func testStage2ReportsWhetherAlphaWasReached() {
        var columnMass = [Float](repeating: 0, count: 100)
        columnMass[20] = 0.5
        func reached(_ alpha: Float) -> Bool {
            columnMass.withUnsafeBufferPointer {
                selectStripes(columnMass: $0.baseAddress!, sk: 100, window: 10, windowMass: 2.0, rows: [0, 1, 2, 3],
                              positions: [96, 97, 98, 99], entries: nil, alpha: alpha, sinks: 0, minStripes: 0,
                              maxStripes: 0, maxDiagonals: 0).reachedAlpha
            }
        }
        XCTAssertTrue(reached(0.6))      // 2.5 >= 2.4
        XCTAssertFalse(reached(0.7))     // 2.5 < 2.8 with every candidate taken
    }

    /// Four sampled rows (total mass 4), 1.5 of it in their windows; column masses 1.0, 0.8,
    /// 0.5, 0.1 at keys 5, 20, 30, 40, and 5.0 at key 95, inside every window (not a candidate).
    func testStage2TakesTheHeaviestColumnsUntilAlpha() {
        let mass: [Int: Float] = [5: 1.0, 20: 0.8, 30: 0.5, 40: 0.1, 95: 5.0]
        XCTAssertEqual(selectColumns(mass, alpha: 0.8), [5, 20])          // 1.5 + 1.0 + 0.8 >= 3.2
        XCTAssertEqual(selectColumns(mass, alpha: 0.9), [5, 20, 30])      // 3.3 < 3.6 <= 3.8
        XCTAssertEqual(selectColumns(mass, alpha: 0.9, maxStripes: 1), [5])
        XCTAssertEqual(selectColumns(mass, alpha: 0.5, minStripes: 3), [5, 20, 30])   // the heaviest remaining
        XCTAssertEqual(selectColumns(mass, alpha: 0.5, minStripes: 6), [0, 1, 5, 20, 30, 40])  // then the lowest
        // Two sinks holding 2.5: alpha applies to the other 1.5 (target 1.2 with 0.5 in the windows).
        XCTAssertEqual(selectColumns([0: 2.0, 1: 0.5, 5: 1.0, 20: 0.8], windowMass: 0.5, alpha: 0.8, sinks: 2), [5])
    }

    /// Four rows at positions 40...43, each with 0.5 on the key 20 back and 0.15 on key 3, and
    /// 1.0 in their windows: diagonal 20 holds 2.0, column 3 0.6, columns 20...23 0.5 each (the
    /// diagonal's own entries), diagonals 37...40 0.15 each.
    func testStage2PicksDiagonalsAndTakesTheirEntriesOutOfTheColumns() throws {
        let sk = 64, positions = [40, 41, 42, 43], cap = SampledEntries.capacity
        let ws = Workspace(limit: 0)
        let entries = SampledEntries(keys: try ws.allocate(4 * cap, of: Int32.self, what: "e"),
                                     probs: try ws.allocate(4 * cap, of: Float.self, what: "e"),
                                     counts: try ws.allocate(4, of: Int32.self, what: "e"))
        var columnMass = [Float](repeating: 0, count: sk)
        for (i, p) in positions.enumerated() {
            entries.keys[i * cap] = 3; entries.probs[i * cap] = 0.15
            entries.keys[i * cap + 1] = Int32(p - 20); entries.probs[i * cap + 1] = 0.5
            entries.counts[i] = 2
            columnMass[3] += 0.15
            columnMass[p - 20] += 0.5
        }
        func select(_ alpha: Float, maxDiagonals: Int) -> Stripes {
            columnMass.withUnsafeBufferPointer {
                selectStripes(columnMass: $0.baseAddress!, sk: sk, window: 4, windowMass: 1.0, rows: [0, 1, 2, 3],
                              positions: positions, entries: entries, alpha: alpha, sinks: 0,
                              minStripes: 0, maxStripes: 0, maxDiagonals: maxDiagonals).stripes
            }
        }
        var s = select(0.7, maxDiagonals: 64)                 // 1.0 + 2.0 >= 2.8
        XCTAssertEqual(s.columns, []); XCTAssertEqual(s.diagonals, [20])
        s = select(0.85, maxDiagonals: 64)                    // then column 3: 3.6 >= 3.4; 20...23 add nothing now
        XCTAssertEqual(s.columns, [3]); XCTAssertEqual(s.diagonals, [20])
        s = select(0.7, maxDiagonals: 0)                      // columns only: 3, then 20, 21, 22 (ties to the lower key)
        XCTAssertEqual(s.columns, [3, 20, 21, 22]); XCTAssertEqual(s.diagonals, [])
        // The estimate over that first mask counts each kept entry once.
        XCTAssertEqual(columnMass.withUnsafeBufferPointer {
            estimatedKept(indices: [3], diagonals: [20], columnMass: $0.baseAddress!, windowMass: 1.0,
                          rows: [0, 1, 2, 3], positions: positions, entries: entries, sk: sk)
        }, 1.0 + 0.6 + 2.0, accuracy: 1e-6)
    }

    func testPolicyUnionsAGroupAndFallsBackOverMaxDensity() throws {
        XCTAssertEqual(groupUnion([[5, 1], [3, 5], []]), [1, 3, 5])
        var p = sa_params()
        _ = sa_params_init_impl(&p, MemoryLayout<sa_params>.size)
        p.max_density = 0.5
        let params = try Params(validating: p)
        // 10 rows over 10 keys: 55 causal entries. A window of 2 keeps 19 (density 0.35); of 8, 52.
        func head(window: Int) -> HeadPlan {
            var h = HeadPlan(dense: false, window: window, indices: [], keptEntries: 0, causalEntries: 55, craMean: 1, craMin: 1)
            h.keptEntries = h.seedKeptEntries(sq: 10, sk: 10)
            return h
        }
        XCTAssertEqual(head(window: 2).keptEntries, 19)
        var heads = PlannedHeads(count: 2, sq: 10, sk: 10)
        heads.store(head(window: 2), at: 0, params: params)
        XCTAssertEqual(heads.fallbackReason, SA_FALLBACK_NONE)
        heads.store(head(window: 8), at: 1, params: params)
        XCTAssertFalse(heads[0].dense)
        XCTAssertTrue(heads[1].dense)
        XCTAssertEqual(heads.fallbackReason, SA_FALLBACK_DENSITY)
    }
}
