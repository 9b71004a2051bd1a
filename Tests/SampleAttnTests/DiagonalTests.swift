import XCTest
import CSampleAttn
import SampleAttn

/// Seed mode's diagonal stripes: a repeated passage (rows attending to the key `offset` tokens
/// back, as induction heads do when a text quotes itself) is kept along its diagonal, exactly.
final class DiagonalTests: XCTestCase {
    static let offset = 700
    static let span = 1000..<1400     // rows that repeat the passage `offset` tokens earlier

    /// Random Q/K/V shaped like a real head: query rows put ~90% of their attention on key 0 (a
    /// sink: q += 4 k_0), except the rows of `span`, which are 4 x the key `offset` back.
    /// The other 10% is random: no stripes chosen on some rows serve the others there, so the
    /// tests set alpha_correction 0 (the held-out check would make the heads dense).
    func copyCase(sk: Int = 1536, hq: Int = 2, hkv: Int = 1, dtype: Int32 = SA_DTYPE_F32) -> Case {
        let c = Case(sq: sk, sk: sk, hq: hq, hkv: hkv, dim: 64, dtype: dtype, seed: 5)
        for p in 0..<sk { for h in 0..<hq { for d in 0..<64 {
            let g = h / (hq / hkv)
            let x = Self.span.contains(p) ? 4 * c.k.get(p - Self.offset, g, d) : c.q.get(p, h, d) + 4 * c.k.get(0, g, d)
            c.q.set(p, h, d, Float(x))
        } } }
        return c
    }

    /// True CRA of each span row of head h: exp(lse over the mask - dense lse).
    func spanCRA(_ masked: [Double], _ dense: [Double], head h: Int, sq: Int) -> [Double] {
        Self.span.map { Foundation.exp(masked[h * sq + $0] - dense[h * sq + $0]) }
    }

    func testRepeatedPassageIsKeptAlongItsDiagonal() {
        let c = copyCase()
        let dense = c.reference()
        var withDiagonals: [Double] = []
        for (maxDiagonals, expectDiagonal) in [(Int32(64), true), (0, false)] {
            let p = params(SA_MODE_SAMPLE) { $0.max_diagonals = maxDiagonals; $0.alpha_correction = 0 }
            let plan = PlanHeads(c, p)
            let masked = c.reference(keep: plan.keep)
            for (h, head) in plan.heads.enumerated() {
                XCTAssertEqual(head.info.dense, 0)
                XCTAssertEqual(head.offsets.contains(Self.offset), expectDiagonal, "max_diagonals \(maxDiagonals)")
                XCTAssertLessThanOrEqual(head.offsets.count, Int(maxDiagonals))
                XCTAssertEqual(head.info.block_size, head.offsets.isEmpty ? 0 : 1)
                XCTAssertTrue(head.offsets.allSatisfy { $0 >= Int(head.info.window) && $0 < c.k.tokens })
                let cra = spanCRA(masked.lse, dense.lse, head: h, sq: c.q.tokens)
                let mean = cra.reduce(0, +) / Double(cra.count)
                if expectDiagonal {
                    XCTAssertGreaterThan(mean, 0.85, "head \(h): the passage's rows keep their key")
                    withDiagonals.append(mean)
                } else {
                    // The paper's mask: columns picked for the sampled rows only serve those rows.
                    XCTAssertLessThan(mean, withDiagonals[h] - 0.3, "head \(h): without diagonals the passage is lost")
                }
            }
        }
    }

    func testExactOverMaskWithDiagonals() {
        for (dtype, hq, hkv, tol) in [(SA_DTYPE_F32, 4, 2, 1e-5), (SA_DTYPE_F16, 2, 1, 1e-3)] {
            let c = copyCase(hq: hq, hkv: hkv, dtype: dtype)
            let p = params(SA_MODE_SAMPLE) { $0.alpha_correction = 0 }
            let plan = PlanHeads(c, p)
            XCTAssertTrue(plan.heads.allSatisfy { !$0.offsets.isEmpty }, "the case has diagonals")
            let lse = c.run(p)
            let ref = c.reference(keep: plan.keep)
            XCTAssertLessThan(c.relativeError(ref.out), tol, "dtype \(dtype)")
            XCTAssertLessThan(maxAbsDiff(lse, ref.lse), 1e-4)
            // Kept entries as the header's mask rule counts them (diagonal keys that are also
            // selected columns once).
            let keep = plan.keep
            for (h, head) in plan.heads.enumerated() {
                var kept = 0
                for p in 0..<c.k.tokens { for j in 0...p where keep(h, p, j) { kept += 1 } }
                XCTAssertEqual(Int64(kept), head.info.kept_entries, "head \(h)")
            }
        }
    }

    func testThreadCountDoesNotChangeResults() {
        let c = copyCase(hq: 4, hkv: 2)
        let p = params(SA_MODE_SAMPLE)
        c.run(p, threads: 1)
        let one = (0..<c.q.tokens).flatMap { t in (0..<4).flatMap { h in (0..<64).map { c.out.get(t, h, $0) } } }
        c.run(p, threads: 3)
        let three = (0..<c.q.tokens).flatMap { t in (0..<4).flatMap { h in (0..<64).map { c.out.get(t, h, $0) } } }
        XCTAssertEqual(one, three)
    }

    func testBudgetAndSharedGroups() {
        let c = copyCase(hq: 4, hkv: 2)
        let one = PlanHeads(c, params(SA_MODE_SAMPLE) { $0.max_diagonals = 1 })
        XCTAssertTrue(one.heads.allSatisfy { $0.offsets.count <= 1 })
        let shared = PlanHeads(c, params(SA_MODE_SAMPLE) { $0.flags = UInt32(SA_FLAG_SHARE_KV_GROUP) })
        for g in 0..<2 {
            XCTAssertEqual(shared.heads[2 * g].offsets, shared.heads[2 * g + 1].offsets, "group \(g) shares diagonals")
            XCTAssertEqual(shared.heads[2 * g].indices, shared.heads[2 * g + 1].indices)
        }
    }
}
