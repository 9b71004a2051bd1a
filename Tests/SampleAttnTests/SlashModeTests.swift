import XCTest
import CSampleAttn
import SampleAttn

/// SA_MODE_SAMPLE_SLASH: block-structured plans, exactness over their mask, equivalence with dense.
final class SlashModeTests: XCTestCase {
    func slash(_ edit: (inout sa_params) -> Void = { _ in }) -> sa_params {
        params(SA_MODE_SAMPLE_SLASH) { p in
            p.min_seq_len = 0
            p.flags = UInt32(SA_FLAG_FORCE_SPARSE)
            p.block_size = 32
            p.alpha_column = 0.7
            p.alpha_slash = 0.5
            edit(&p)
        }
    }

    struct Blocks { let size: Int; let columns: [Int]; let slashes: [Int] }

    /// Reads the diagonal blocks and columns of every head of a plan for the case.
    func blocks(_ c: Case, _ p: sa_params) -> [Blocks] {
        let ctx = sa_context_new_impl(2)
        defer { sa_context_free_impl(ctx) }
        var pp = p, qv = c.q.view, kv = c.k.view
        var plan: OpaquePointer?
        XCTAssertEqual(sa_plan_create_impl(ctx, &pp, &qv, &kv, &plan), SA_OK, String(cString: sa_context_last_error_impl(ctx)))
        defer { sa_plan_free_impl(plan) }
        return (0..<Int64(c.q.heads)).map { h in
            var info = sa_plan_head()
            info.struct_size = UInt32(MemoryLayout<sa_plan_head>.size)
            XCTAssertEqual(sa_plan_head_info_impl(plan, h, &info), SA_OK)
            XCTAssertEqual(info.window, 0)
            var sb = [Int64](repeating: -1, count: Int(info.n_slash_blocks))
            var small = [Int64](repeating: 0, count: 1)
            XCTAssertEqual(sa_plan_head_slashes_impl(plan, h, &small, 0), SA_ERR_BUFFER_TOO_SMALL)
            XCTAssertEqual(sa_plan_head_slashes_impl(plan, h, &sb, Int64(sb.count)), SA_OK)
            var idx = [Int64](repeating: -1, count: Int(info.n_indices))
            XCTAssertEqual(sa_plan_head_indices_impl(plan, h, &idx, info.n_indices), SA_OK)
            return Blocks(size: Int(info.block_size), columns: idx.map(Int.init), slashes: sb.map(Int.init))
        }
    }

    func keep(_ b: [Blocks]) -> (Int, Int, Int) -> Bool {
        let sets = b.map { Set($0.columns) }
        return { h, p, j in
            let s = b[h].size
            return j <= p && (sets[h].contains(j) || b[h].slashes.contains(p / s - j / s))
        }
    }

    func testPlanProperties() {
        let c = Case(sq: 200, sk: 300, hq: 4, hkv: 2, dim: 64, seed: 5)
        for head in blocks(c, slash()) {
            XCTAssertEqual(head.size, 32)
            XCTAssertEqual(Array(head.columns.prefix(32)), Array(0..<32), "first key block kept")
            XCTAssertEqual(head.slashes.first, 0, "the diagonal kept")
            XCTAssertEqual(head.columns, Array(Set(head.columns)).sorted())
            XCTAssertEqual(head.slashes, Array(Set(head.slashes)).sorted())
            XCTAssertTrue(head.columns.allSatisfy { $0 >= 0 && $0 < 300 })
            XCTAssertTrue(head.slashes.allSatisfy { $0 >= 0 && $0 < (300 + 31) / 32 })
        }
    }

    func testExactOverBlockMask() {
        for (dtype, layout, sq, sk, hq, hkv, block) in [(SA_DTYPE_F32, Layout.tokenMajor, 250, 250, 4, 2, Int32(32)),
                                                        (SA_DTYPE_F16, Layout.headMajor, 130, 333, 7, 1, Int32(64)),
                                                        (SA_DTYPE_BF16, Layout.paddedCache, 97, 260, 8, 2, Int32(16))] {
            let c = Case(sq: sq, sk: sk, hq: hq, hkv: hkv, dim: 64, dtype: dtype, layout: layout, seed: 9)
            let p = slash { $0.block_size = block }
            let b = blocks(c, p)
            let lse = c.run(p)
            let ref = c.reference(keep: keep(b))
            let tol = dtype == SA_DTYPE_F32 ? 1e-5 : (dtype == SA_DTYPE_F16 ? 1e-3 : 8e-3)
            XCTAssertLessThan(c.relativeError(ref.out), tol, "dtype \(dtype) block \(block)")
            XCTAssertLessThan(maxAbsDiff(lse, ref.lse), 1e-4)
        }
    }

    func testFullMaskEqualsDense() {
        let c = Case(sq: 150, sk: 300, hq: 4, hkv: 2, dim: 64, seed: 4)
        c.run(slash { $0.alpha_column = 1; $0.alpha_slash = 1 })
        XCTAssertLessThan(c.relativeError(c.reference().out), 1e-5)
    }

    func testThreadCountIndependence() {
        let c = Case(sq: 400, sk: 400, hq: 4, hkv: 2, dim: 64, seed: 8)
        c.run(slash(), threads: 1)
        let one = c.out.bytes
        for t: Int32 in [2, 3] {
            c.run(slash(), threads: t)
            XCTAssertEqual(c.out.bytes, one, "threads \(t)")
        }
    }

    func testParameterRanges() {
        let c = Case(sq: 32, sk: 48, hq: 2, hkv: 1, dim: 64)
        let ctx = sa_context_new_impl(1)
        defer { sa_context_free_impl(ctx) }
        for edit in [{ (p: inout sa_params) in p.block_size = 24 }, { $0.block_size = 128 }, { $0.chunk_n = 0 },
                     { $0.alpha_column = 0 }, { $0.alpha_slash = 1.5 }] {
            var p = slash(edit), qv = c.q.view, kv = c.k.view, vv = c.v.view, ov = c.out.view
            XCTAssertEqual(sa_attention_impl(ctx, &p, &qv, &kv, &vv, &ov, nil, nil), SA_ERR_INVALID_PARAM)
        }
    }
}
