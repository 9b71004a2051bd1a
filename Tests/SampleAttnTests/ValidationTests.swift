import XCTest
import CSampleAttn
import SampleAttn

/// Every bad input class returns its own status and a message, and leaves the output untouched.
final class ValidationTests: XCTestCase {
    struct Call {
        var p = params(SA_MODE_SAMPLE)
        var q: sa_tensor, k: sa_tensor, v: sa_tensor, out: sa_tensor
        var useParams = true, nullQ = false, nullK = false, nullV = false, nullOut = false
        var lse: UnsafeMutablePointer<Float>? = nil
        var stats: UnsafeMutablePointer<sa_stats>? = nil
    }

    /// Calls body with a pointer to value, or nil.
    func optional<T>(_ value: T, _ isNil: Bool, _ body: (UnsafePointer<T>?) -> sa_status) -> sa_status {
        if isNil { return body(nil) }
        var v = value
        return withUnsafePointer(to: &v) { body($0) }
    }

    let c = Case(sq: 32, sk: 48, hq: 4, hkv: 2, dim: 64)

    func base() -> Call { Call(q: c.q.view, k: c.k.view, v: c.v.view, out: c.out.view) }

    /// Runs the call and checks status, message and untouched output.
    func expect(_ status: sa_status, _ edit: (inout Call) -> Void, line: UInt = #line) {
        var call = base()
        edit(&call)
        let ctx = sa_context_new_impl(2)
        defer { sa_context_free_impl(ctx) }
        let before = c.out.bytes
        let got = optional(call.p, !call.useParams) { p in optional(call.q, call.nullQ) { q in optional(call.k, call.nullK) { k in
            optional(call.v, call.nullV) { v in optional(call.out, call.nullOut) { o in
                sa_attention_impl(ctx, p, q, k, v, o, call.lse, call.stats) } } } } }
        let message = String(cString: sa_context_last_error_impl(ctx))
        XCTAssertEqual(got, status, "message: \(message)", line: line)
        XCTAssertFalse(message.isEmpty, "a message explains the error", line: line)
        XCTAssertEqual(c.out.bytes, before, "output untouched", line: line)
    }

    func testNullArguments() {
        expect(SA_ERR_NULL_ARGUMENT) { $0.nullQ = true }
        expect(SA_ERR_NULL_ARGUMENT) { $0.nullK = true }
        expect(SA_ERR_NULL_ARGUMENT) { $0.nullV = true }
        expect(SA_ERR_NULL_ARGUMENT) { $0.nullOut = true }
        expect(SA_ERR_NULL_ARGUMENT) { $0.q.data = nil }
        expect(SA_ERR_NULL_ARGUMENT) { $0.v.data = nil }
        var p = sa_params()
        XCTAssertEqual(sa_attention_impl(nil, &p, nil, nil, nil, nil, nil, nil), SA_ERR_NULL_ARGUMENT)
    }

    func testDtypes() {
        expect(SA_ERR_INVALID_DTYPE) { $0.q.dtype = 3 }
        expect(SA_ERR_INVALID_DTYPE) { $0.k.dtype = -1 }
        expect(SA_ERR_INVALID_DTYPE) { $0.out.dtype = 99 }
    }

    func testShapes() {
        expect(SA_ERR_INVALID_SHAPE) { $0.q.n_tokens = 0 }
        expect(SA_ERR_INVALID_SHAPE) { $0.k.n_heads = -2 }
        expect(SA_ERR_INVALID_SHAPE) { $0.v.head_dim = 0 }
        expect(SA_ERR_UNSUPPORTED_HEAD_DIM) { $0.q.head_dim = 60; $0.k.head_dim = 60; $0.v.head_dim = 60; $0.out.head_dim = 60 }
        expect(SA_ERR_UNSUPPORTED_HEAD_DIM) { $0.q.head_dim = 512 }
        expect(SA_ERR_UNSUPPORTED_HEAD_DIM) { $0.k.head_dim = 32 }
        expect(SA_ERR_GQA_MISMATCH) {
            for t in [\Call.k, \Call.v] { $0[keyPath: t].n_heads = 3; $0[keyPath: t].stride_token = 192; $0[keyPath: t].stride_head = 64 }
        }
        expect(SA_ERR_GQA_MISMATCH) { $0.v.n_heads = 1 }
        expect(SA_ERR_SEQ_MISMATCH) { $0.v.n_tokens = 40 }
        expect(SA_ERR_SEQ_MISMATCH) { $0.q.n_tokens = 49; $0.out.n_tokens = 49 }
        expect(SA_ERR_SEQ_MISMATCH) { $0.out.n_tokens = 31 }
        expect(SA_ERR_SEQ_MISMATCH) { $0.out.n_heads = 2 }
    }

    func testStrides() {
        expect(SA_ERR_INVALID_STRIDE) { $0.q.stride_token = -64 }
        expect(SA_ERR_INVALID_STRIDE) { $0.k.reserved = 1 }
        expect(SA_ERR_OVERLAPPING_VIEW) { $0.q.stride_token = 64; $0.q.stride_head = 64 }
        expect(SA_ERR_OVERLAPPING_VIEW) { $0.out.stride_token = 0; $0.out.stride_head = 64 }
        expect(SA_ERR_OVERLAPPING_VIEW) { $0.k.stride_token = 100; $0.k.stride_head = 32 }
        expect(SA_ERR_OVERFLOW) { $0.q.stride_token = 1 << 40; $0.q.stride_head = 64 }
        expect(SA_ERR_OVERFLOW) { $0.k.stride_token = (1 << 40) - 64; $0.k.stride_head = 64; $0.k.n_tokens = 48; $0.k.dtype = SA_DTYPE_F32 }
        expect(SA_ERR_OVERFLOW) { $0.k.n_tokens = 1 << 41 }
        expect(SA_ERR_OVERFLOW) { $0.v.stride_head = Int64.max }
    }

    func testAliasing() {
        expect(SA_ERR_ALIASING) { $0.out.data = $0.q.data }
        expect(SA_ERR_ALIASING) { $0.out.data = $0.v.data!.advanced(by: 256) }
        let lse = UnsafeMutablePointer<Float>(OpaquePointer(c.q.storage))
        expect(SA_ERR_ALIASING) { $0.lse = lse }
        let lseOut = UnsafeMutablePointer<Float>(OpaquePointer(c.out.storage))
        expect(SA_ERR_ALIASING) { $0.lse = lseOut }
    }

    func testParameters() {
        expect(SA_ERR_INVALID_SCALE) { $0.p.scale = .nan }
        expect(SA_ERR_INVALID_SCALE) { $0.p.scale = .infinity }
        expect(SA_ERR_INVALID_SCALE) { $0.p.scale = -1 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.alpha = 0 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.alpha = 1.5 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.alpha = .nan }
        expect(SA_ERR_INVALID_PARAM) { $0.p.window_ratio = -0.1 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.window_ratio = 2 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.sample_ratio = 0 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.sink_tokens = -1 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.min_seq_len = -5 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.max_density = 0 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.min_stripes = -1 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.min_stripes = 10; $0.p.max_stripes = 5 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.sample_group = 0 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.max_diagonals = -1 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.alpha_correction = -1 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.alpha_correction = 17 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.alpha_correction = .nan }
        expect(SA_ERR_INVALID_PARAM) { $0.p.precision = 2 }
        expect(SA_ERR_INVALID_PARAM) { $0.p.precision = -1 }
        expect(SA_ERR_INVALID_MODE) { $0.p.mode = 7 }
        expect(SA_ERR_INVALID_MODE) { $0.p.mode = -1 }
        expect(SA_ERR_UNKNOWN_FLAG) { $0.p.flags = 1 << 20 }
        expect(SA_ERR_STRUCT_SIZE) { $0.p.struct_size = 0 }
        expect(SA_ERR_STRUCT_SIZE) { $0.p.struct_size = 12 }
    }

    func testStatsStructSize() {
        var stats = sa_stats()
        stats.struct_size = 0
        withUnsafeMutablePointer(to: &stats) { s in expect(SA_ERR_STRUCT_SIZE) { $0.stats = s } }
    }

    func testMemoryLimit() {
        let ctx = sa_context_new_impl(2)
        defer { sa_context_free_impl(ctx) }
        XCTAssertEqual(sa_context_set_memory_limit_impl(ctx, 1024), SA_OK)
        var call = base()
        let before = c.out.bytes
        XCTAssertEqual(sa_attention_impl(ctx, &call.p, &call.q, &call.k, &call.v, &call.out, nil, nil), SA_ERR_OUT_OF_MEMORY)
        XCTAssertTrue(String(cString: sa_context_last_error_impl(ctx)).contains("memory limit"))
        XCTAssertEqual(c.out.bytes, before)
        XCTAssertEqual(sa_context_set_memory_limit_impl(ctx, 0), SA_OK)
        XCTAssertEqual(sa_attention_impl(ctx, &call.p, &call.q, &call.k, &call.v, &call.out, nil, nil), SA_OK)
        XCTAssertEqual(String(cString: sa_context_last_error_impl(ctx)), "", "success clears the message")
    }

    func testStatusStrings() {
        var seen = Set<String>()
        for s in SA_OK..<SA_STATUS_COUNT {
            let text = String(cString: sa_status_string_impl(s))
            XCTAssertNotEqual(text, "unknown status")
            seen.insert(text)
        }
        XCTAssertEqual(seen.count, Int(SA_STATUS_COUNT), "each status has its own string")
        XCTAssertEqual(String(cString: sa_status_string_impl(SA_STATUS_COUNT)), "unknown status")
        XCTAssertEqual(String(cString: sa_status_string_impl(-3)), "unknown status")
    }

    func testContextAndPlanHandles() {
        XCTAssertNil(sa_context_new_impl(-1))
        XCTAssertNil(sa_context_new_impl(5000))
        sa_context_free_impl(nil)
        sa_plan_free_impl(nil)
        XCTAssertEqual(sa_context_n_threads_impl(nil), 0)
        let ctx = sa_context_new_impl(0)
        XCTAssertGreaterThanOrEqual(sa_context_n_threads_impl(ctx), 1)
        var p = params(SA_MODE_SAMPLE), qv = c.q.view, kv = c.k.view
        XCTAssertEqual(sa_plan_create_impl(ctx, &p, &qv, &kv, nil), SA_ERR_NULL_ARGUMENT)
        var plan: OpaquePointer?
        XCTAssertEqual(sa_plan_create_impl(ctx, &p, &qv, &kv, &plan), SA_OK)
        var info = sa_plan_head()
        info.struct_size = UInt32(MemoryLayout<sa_plan_head>.size)
        XCTAssertEqual(sa_plan_head_info_impl(plan, 4, &info), SA_ERR_INDEX_OUT_OF_RANGE)
        XCTAssertEqual(sa_plan_head_info_impl(plan, -1, &info), SA_ERR_INDEX_OUT_OF_RANGE)
        XCTAssertEqual(sa_plan_head_info_impl(plan, 0, &info), SA_OK)
        if info.n_indices > 0 {
            var small = [Int64](repeating: 0, count: 1)
            XCTAssertEqual(sa_plan_head_indices_impl(plan, 0, &small, 0), SA_ERR_BUFFER_TOO_SMALL)
        }
        // A plan for other shapes is refused.
        let other = Case(sq: 16, sk: 48, hq: 4, hkv: 2, dim: 64)
        var oq = other.q.view, ok = other.k.view, ov = other.v.view, oo = other.out.view
        XCTAssertEqual(sa_plan_apply_impl(ctx, plan, &oq, &ok, &ov, &oo, nil, nil), SA_ERR_PLAN_MISMATCH)
        sa_plan_free_impl(plan)
        sa_context_free_impl(ctx)
    }

    func testNonFiniteData() {
        // NaN/Inf in the inputs never crash or hang; rows that see them may hold NaN.
        let bad = Case(sq: 64, sk: 64, hq: 2, hkv: 1, dim: 64)
        bad.q.set(3, 0, 5, .nan)
        bad.k.set(10, 0, 1, .infinity)
        bad.v.set(20, 0, 2, -.infinity)
        for mode in [SA_MODE_DENSE, SA_MODE_SAMPLE] {
            bad.run(params(mode) { $0.min_seq_len = 0 })
            // Row 0 of head 1 sees only key 0, which is finite.
            XCTAssertTrue(bad.out.get(0, 1, 0).isFinite)
        }
    }
}
