import XCTest
import CSampleAttn
import SampleAttn

/// SampleAttention mode: plan properties, exactness over the plan's mask, equivalences with dense.
final class SampleModeTests: XCTestCase {
    /// Sparse on short inputs: no dense fallback by length or density.
    func sparse(_ edit: (inout sa_params) -> Void = { _ in }) -> sa_params {
        params(SA_MODE_SAMPLE) { p in
            p.min_seq_len = 0
            p.flags = UInt32(SA_FLAG_FORCE_SPARSE)
            p.window_ratio = 0.1
            p.sample_ratio = 0.1
            p.alpha = 0.8
            edit(&p)
        }
    }

    /// Random data with structure: a few keys every query attends to strongly (like real heads).
    func structuredCase(sq: Int, sk: Int, hq: Int, hkv: Int, dim: Int = 64, dtype: Int32 = SA_DTYPE_F32,
                        layout: Layout = .tokenMajor, seed: UInt64 = 11) -> Case {
        let c = Case(sq: sq, sk: sk, hq: hq, hkv: hkv, dim: dim, dtype: dtype, layout: layout, seed: seed, amplitude: 1)
        var rng = SeededRandom(seed &+ 99)
        let heavy = (0..<max(3, sk / 40)).map { _ in Int(rng.next() % UInt64(sk)) }
        for g in 0..<hkv { for j in heavy { for cdim in 0..<dim { c.k.set(j, g, cdim, 3 * Float(c.q.get(0, g, cdim).sign == .minus ? -1 : 1)) } } }
        return c
    }

    /// The windows a head may get (sa_params.min_window): ceil(window_ratio * S_k), its doubling
    /// below S_k, and its halvings (rounded up) down to min_window; only the first with 0.
    func candidateWindows(sk: Int, ratio: Double, minWindow: Int) -> Set<Int> {
        let w = Int((ratio * Double(sk)).rounded(.up))
        guard minWindow > 0 else { return [w] }
        var out: Set<Int> = 2 * w < sk ? [w, 2 * w] : [w]
        var x = w
        while (x + 1) / 2 >= minWindow { x = (x + 1) / 2; out.insert(x) }
        return out
    }

    func testPlanProperties() {
        for (sq, sk, sinks, minWindow) in [(300, 300, 4, 64), (120, 500, 0, 64), (257, 257, 16, 64), (300, 300, 4, 8),
                                           (300, 300, 4, 0)] {
            let c = structuredCase(sq: sq, sk: sk, hq: 4, hkv: 2)
            let plan = PlanHeads(c, sparse { $0.sink_tokens = Int32(sinks); $0.min_window = Int32(minWindow) })
            XCTAssertEqual(plan.heads.count, 4)
            let windows = candidateWindows(sk: sk, ratio: 0.1, minWindow: minWindow)
            for head in plan.heads {
                XCTAssertEqual(head.info.dense, 0)
                XCTAssertTrue(windows.contains(Int(head.info.window)), "window \(head.info.window) of \(windows.sorted())")
                XCTAssertEqual(head.indices, head.indices.sorted(), "sorted")
                XCTAssertEqual(Set(head.indices).count, head.indices.count, "unique")
                XCTAssertTrue(head.indices.allSatisfy { $0 >= 0 && $0 < sk }, "in range")
                XCTAssertTrue((0..<min(sinks, sk)).allSatisfy(head.indices.contains), "sinks kept")
                XCTAssertGreaterThan(head.info.density, 0)
                XCTAssertLessThanOrEqual(head.info.density, 1)
                XCTAssertGreaterThanOrEqual(head.info.cra_mean, Double(0.8) - 1e-4, "sampled rows reach alpha on average")
                XCTAssertLessThanOrEqual(head.info.cra_min, head.info.cra_mean + 1e-12)
            }
            // The mask: causal, own position and window always kept; kept count matches the plan.
            let keep = plan.keep
            for (h, head) in plan.heads.enumerated() {
                var kept = 0
                for p in (sk - sq)..<sk {
                    XCTAssertTrue(keep(h, p, p))
                    XCTAssertFalse(keep(h, p, p + 1))
                    for j in 0...p where keep(h, p, j) { kept += 1 }
                    for j in max(0, p - Int(head.info.window) + 1)...p { XCTAssertTrue(keep(h, p, j)) }
                }
                XCTAssertEqual(Int64(kept), head.info.kept_entries)
            }
        }
    }

    func testExactOverPlanMask() {
        for (dtype, layout, sq, sk, hq, hkv) in [(SA_DTYPE_F32, Layout.tokenMajor, 200, 200, 4, 2),
                                                 (SA_DTYPE_F16, Layout.headMajor, 150, 333, 7, 1),
                                                 (SA_DTYPE_BF16, Layout.paddedCache, 97, 260, 8, 2)] {
            let c = structuredCase(sq: sq, sk: sk, hq: hq, hkv: hkv, dtype: dtype, layout: layout)
            let p = sparse()
            let plan = PlanHeads(c, p)
            let lse = c.run(p)
            let ref = c.reference(keep: plan.keep)
            let tol = dtype == SA_DTYPE_F32 ? 1e-5 : (dtype == SA_DTYPE_F16 ? 1e-3 : 8e-3)
            XCTAssertLessThan(c.relativeError(ref.out), tol, "dtype \(dtype)")
            XCTAssertLessThan(maxAbsDiff(lse, ref.lse), 1e-4)
            XCTAssertTrue(plan.heads.contains { $0.info.density < 0.9 }, "the mask is actually sparse")
        }
    }

    func testPlanApplyEqualsAttention() {
        let c = structuredCase(sq: 180, sk: 240, hq: 4, hkv: 2)
        let p = sparse()
        c.run(p)
        let direct = c.out.bytes
        let ctx = sa_context_new_impl(2)
        defer { sa_context_free_impl(ctx) }
        var pp = p, qv = c.q.view, kv = c.k.view, vv = c.v.view, ov = c.out.view
        var plan: OpaquePointer?
        XCTAssertEqual(sa_plan_create_impl(ctx, &pp, &qv, &kv, &plan), SA_OK)
        defer { sa_plan_free_impl(plan) }
        c.out.storage.initializeMemory(as: UInt8.self, repeating: 0, count: 4 * 180 * 4 * 64)
        XCTAssertEqual(sa_plan_apply_impl(ctx, plan, &qv, &kv, &vv, &ov, nil, nil), SA_OK)
        XCTAssertEqual(c.out.bytes, direct)
    }

    func testFullMaskEqualsDense() {
        let c = structuredCase(sq: 150, sk: 300, hq: 4, hkv: 2)
        c.run(params())
        let ref = c.reference()
        for edit in [{ (p: inout sa_params) in p.alpha = 1 }, { (p: inout sa_params) in p.window_ratio = 1 }] {
            c.run(sparse(edit))
            XCTAssertLessThan(c.relativeError(ref.out), 1e-5)
        }
    }

    func testSharedStripesPerKVGroup() {
        let c = structuredCase(sq: 200, sk: 200, hq: 6, hkv: 2)
        let p = sparse { $0.flags |= UInt32(SA_FLAG_SHARE_KV_GROUP) }
        let plan = PlanHeads(c, p)
        for g in 0..<2 { for h in 1..<3 { XCTAssertEqual(plan.heads[g * 3 + h].indices, plan.heads[g * 3].indices) } }
        let own = PlanHeads(c, sparse())
        for h in 0..<6 { XCTAssertTrue(Set(own.heads[h].indices).isSubset(of: Set(plan.heads[h].indices))) }
        c.run(p)
        XCTAssertLessThan(c.relativeError(c.reference(keep: plan.keep).out), 1e-5)
    }

    func testFallbacks() {
        let c = structuredCase(sq: 100, sk: 100, hq: 2, hkv: 1)
        var stats = sa_stats()
        stats.struct_size = UInt32(MemoryLayout<sa_stats>.size)
        c.run(params(SA_MODE_SAMPLE) { $0.min_seq_len = 1000 }, stats: &stats)
        XCTAssertEqual(stats.fallback_reason, SA_FALLBACK_SHORT)
        XCTAssertEqual(stats.n_dense_heads, 2)
        c.run(params(SA_MODE_SAMPLE) { $0.min_seq_len = 0; $0.max_density = 0.01 }, stats: &stats)
        XCTAssertEqual(stats.fallback_reason, SA_FALLBACK_DENSITY)
        XCTAssertEqual(stats.density, 1)
        XCTAssertLessThan(c.relativeError(c.reference().out), 1e-5)
        c.run(sparse(), stats: &stats)
        XCTAssertEqual(stats.n_dense_heads, 0)
        XCTAssertLessThan(stats.density, 1)
        XCTAssertGreaterThan(stats.time_total_s, 0)
    }

    func testStripeBudget() {
        let c = structuredCase(sq: 200, sk: 200, hq: 2, hkv: 1)
        let few = PlanHeads(c, sparse { $0.max_stripes = 3; $0.sink_tokens = 0; $0.alpha = 1 })
        XCTAssertTrue(few.heads.allSatisfy { $0.indices.count == 3 })
        let many = PlanHeads(c, sparse { $0.min_stripes = 50; $0.sink_tokens = 0; $0.alpha = 0.01 })
        XCTAssertTrue(many.heads.allSatisfy { $0.indices.count == 50 })
    }

    /// A head that parks ~90% of its attention on token 0 (as SmolLM2's late layers do) and most
    /// of the rest on 20 shared keys early in the sequence. alpha = 0.9 of the whole mass is met
    /// by the sink alone; with forced sinks alpha applies to the rest, so most shared keys are
    /// kept. With a wide window many sampled rows have the sink inside their window: its mass
    /// must not count as kept text there either.
    func testAlphaAppliesOutsideForcedSinks() {
        let sk = 1024
        let c = Case(sq: sk, sk: sk, hq: 2, hkv: 1, dim: 64, seed: 21)
        let shared = Array(stride(from: 40, to: 240, by: 10))
        for j in shared { for d in 0..<64 { c.k.set(j, 0, d, Float(0.6 * c.k.get(0, 0, d))) } }
        for p in 0..<sk { for h in 0..<2 { for d in 0..<64 {
            c.q.set(p, h, d, Float(c.q.get(p, h, d) + 5 * c.k.get(0, 0, d)))
        } } }
        let outsideSink: (Int, Int, Int) -> Bool = { _, _, j in j > 0 }
        let denseRest = c.reference(keep: outsideSink).lse
        let rows = (sk / 2)..<sk      // rows that see every shared key outside their window
        func restCRA(_ plan: PlanHeads) -> Double {
            let keep = plan.keep
            let masked = c.reference(keep: { h, p, j in j > 0 && keep(h, p, j) }).lse
            let cra = (0..<2).flatMap { h in rows.map { Foundation.exp(masked[h * sk + $0] - denseRest[h * sk + $0]) } }
            return cra.reduce(0, +) / Double(cra.count)
        }
        for window: Float in [0.05, 0.25] {
            let base = { (sinks: Int32) in self.sparse { $0.alpha = 0.9; $0.sink_tokens = sinks; $0.window_ratio = window } }
            let withSinks = PlanHeads(c, base(1))
            XCTAssertTrue(withSinks.heads.allSatisfy { Set(shared).intersection($0.indices).count >= 15 },
                          "window \(window): shared keys kept")
            XCTAssertGreaterThan(restCRA(withSinks), 0.7, "window \(window)")
            // sink_tokens = 0 is the paper's rule: key 0 is a column like any other and meets alpha.
            let paper = PlanHeads(c, base(0))
            XCTAssertTrue(paper.heads.allSatisfy { $0.indices == [0] }, "window \(window): the sink alone meets alpha")
            XCTAssertLessThan(restCRA(paper), 0.3, "window \(window)")
        }
    }

    /// Rows that each read their own far key (retrieval heads): stripes chosen on the sampled rows
    /// serve only those rows, so the paper's rule keeps far less than alpha of the other rows'
    /// mass. The held-out check (stripes chosen without some rows, measured on them) sees the
    /// shortfall and raises alpha; where all rows share their keys it changes little.
    func testHeldOutCorrectionServesUnsampledRows() {
        let sk = 2048, window = 205     // sparse(): window_ratio 0.1
        let c = Case(sq: sk, sk: sk, hq: 2, hkv: 1, dim: 64, seed: 31)
        var rng = SeededRandom(77)
        for p in (window + 8)..<sk {
            let target = 4 + Int(rng.next() % UInt64(p - window - 4))
            for h in 0..<2 { for d in 0..<64 { c.q.set(p, h, d, Float(c.q.get(p, h, d) + 6 * c.k.get(target, 0, d))) } }
        }
        let dense = c.reference().lse
        func trueCRA(_ plan: PlanHeads) -> Double {
            let masked = c.reference(keep: plan.keep).lse
            let cra = (0..<2).flatMap { h in (sk / 2..<sk).map { Foundation.exp(masked[h * sk + $0] - dense[h * sk + $0]) } }
            return cra.reduce(0, +) / Double(cra.count)
        }
        let paper = trueCRA(PlanHeads(c, sparse { $0.alpha = 0.9; $0.alpha_correction = 0 }))
        let corrected = trueCRA(PlanHeads(c, sparse { $0.alpha = 0.9 }))
        XCTAssertLessThan(paper, 0.8, "the sampled rows' stripes serve other rows")
        XCTAssertGreaterThan(corrected, 0.88)

        let shared = structuredCase(sq: 1024, sk: 1024, hq: 2, hkv: 1)
        func density(_ plan: PlanHeads) -> Double {
            plan.heads.map(\.info.density).reduce(0, +) / 2
        }
        let base = density(PlanHeads(shared, sparse { $0.alpha_correction = 0 }))
        XCTAssertLessThan(density(PlanHeads(shared, sparse())), base * 1.15 + 0.01, "shared keys: little to correct")
    }

    func testThreadCountIndependence() {
        let c = structuredCase(sq: 400, sk: 400, hq: 4, hkv: 2)
        c.run(sparse(), threads: 1)
        let one = c.out.bytes
        for t: Int32 in [2, 3, 8] {
            c.run(sparse(), threads: t)
            XCTAssertEqual(c.out.bytes, one, "threads \(t)")
        }
    }
}
