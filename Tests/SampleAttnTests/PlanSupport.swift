import XCTest
import CSampleAttn
import SampleAttn

/// A plan read back through the C plan API.
struct PlanHeads {
    struct Head { let info: sa_plan_head; let indices: [Int]; let offsets: [Int] }
    let heads: [Head]
    let sq: Int, sk: Int

    /// Creates a plan for the case's q/k with `params`, reads every head, and frees it.
    init(_ c: Case, _ params: sa_params, threads: Int32 = 2, file: StaticString = #filePath, line: UInt = #line) {
        let ctx = sa_context_new_impl(threads)
        defer { sa_context_free_impl(ctx) }
        var p = params, qv = c.q.view, kv = c.k.view
        var plan: OpaquePointer?
        let st = sa_plan_create_impl(ctx, &p, &qv, &kv, &plan)
        XCTAssertEqual(st, SA_OK, String(cString: sa_context_last_error_impl(ctx)), file: file, line: line)
        defer { sa_plan_free_impl(plan) }
        var nh: Int64 = 0, sq: Int64 = 0, sk: Int64 = 0
        XCTAssertEqual(sa_plan_shape_impl(plan, &nh, &sq, &sk), SA_OK)
        self.sq = Int(sq); self.sk = Int(sk)
        heads = (0..<nh).map { h in
            var info = sa_plan_head()
            info.struct_size = UInt32(MemoryLayout<sa_plan_head>.size)
            XCTAssertEqual(sa_plan_head_info_impl(plan, h, &info), SA_OK)
            var idx = [Int64](repeating: -1, count: Int(info.n_indices))
            XCTAssertEqual(idx.withUnsafeMutableBufferPointer { sa_plan_head_indices_impl(plan, h, $0.baseAddress, info.n_indices) }, SA_OK)
            var offs = [Int64](repeating: -1, count: Int(info.n_slash_blocks))
            XCTAssertEqual(offs.withUnsafeMutableBufferPointer { sa_plan_head_slashes_impl(plan, h, $0.baseAddress, info.n_slash_blocks) }, SA_OK)
            return Head(info: info, indices: idx.map(Int.init), offsets: offs.map(Int.init))
        }
    }

    /// The mask the plan describes (the header's rule): head h's row at position p keeps key j.
    var keep: (Int, Int, Int) -> Bool {
        let sets = heads.map { Set($0.indices) }, offsets = heads.map { Set($0.offsets) }
        let heads = self.heads
        return { h, p, j in
            let head = heads[h]
            if head.info.dense != 0 { return j <= p }
            let b = Int(head.info.block_size)
            return j <= p && (j > p - Int(head.info.window) || sets[h].contains(j)
                              || (b > 0 && offsets[h].contains(p / b - j / b)))
        }
    }
}
