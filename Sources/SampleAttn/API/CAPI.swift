import CSampleAttn

// The exported C API (include/sampleattn.h): validate, translate, map errors. No math here.

@_cdecl("sa_version_string")
public func sa_version_string_impl() -> UnsafePointer<CChar> { sac_version_string() }

@_cdecl("sa_version_number")
public func sa_version_number_impl() -> UInt32 { UInt32(SA_VERSION_MAJOR * 10000 + SA_VERSION_MINOR * 100 + SA_VERSION_PATCH) }

@_cdecl("sa_status_string")
public func sa_status_string_impl(_ s: sa_status) -> UnsafePointer<CChar> { sac_status_message(s) }

@_cdecl("sa_params_init")
public func sa_params_init_impl(_ p: UnsafeMutablePointer<sa_params>?, _ size: Int) -> sa_status {
    guard let p else { return SA_ERR_NULL_ARGUMENT }
    guard size >= paramsSizeV0, size <= 4096 else { return SA_ERR_STRUCT_SIZE }
    var defaults = defaultParams()
    defaults.struct_size = UInt32(size)
    let ours = MemoryLayout<sa_params>.size, raw = UnsafeMutableRawPointer(p)
    withUnsafeBytes(of: &defaults) { raw.copyMemory(from: $0.baseAddress!, byteCount: min(size, ours)) }
    if size > ours { raw.advanced(by: ours).initializeMemory(as: UInt8.self, repeating: 0, count: size - ours) }
    return SA_OK
}

/// Programs built against the 0.1 header call this symbol; it fills their 0.1-sized struct.
@_cdecl("sa_params_default")
public func sa_params_default_impl(_ p: UnsafeMutablePointer<sa_params>?) {
    _ = sa_params_init_impl(p, paramsSizeV01)
}

// MARK: contexts

@_cdecl("sa_context_new")
public func sa_context_new_impl(_ nThreads: Int32) -> OpaquePointer? {
    guard nThreads >= 0, nThreads <= 1024 else { return nil }
    let threads = nThreads == 0 ? max(1, Int(sac_max_threads())) : Int(nThreads)
    return OpaquePointer(Unmanaged.passRetained(Context(threads: threads)).toOpaque())
}

@_cdecl("sa_context_free")
public func sa_context_free_impl(_ ctx: OpaquePointer?) {
    guard let ctx else { return }
    Unmanaged<Context>.fromOpaque(UnsafeRawPointer(ctx)).release()
}

private func context(_ ctx: OpaquePointer?) -> Context? {
    ctx.map { Unmanaged<Context>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

@_cdecl("sa_context_last_error")
public func sa_context_last_error_impl(_ ctx: OpaquePointer?) -> UnsafePointer<CChar> {
    context(ctx)?.lastError ?? sac_status_message(SA_ERR_NULL_ARGUMENT)
}

@_cdecl("sa_context_n_threads")
public func sa_context_n_threads_impl(_ ctx: OpaquePointer?) -> Int32 {
    Int32(context(ctx)?.threads ?? 0)
}

@_cdecl("sa_context_set_memory_limit")
public func sa_context_set_memory_limit_impl(_ ctx: OpaquePointer?, _ bytes: UInt64) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    return c.call { c.memoryLimit = Int(clamping: bytes) }
}

@_cdecl("sa_context_set_workspace_cache")
public func sa_context_set_workspace_cache_impl(_ ctx: OpaquePointer?, _ bytes: UInt64) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    return c.call { c.cache.setLimit(Int(clamping: bytes)) }
}

@_cdecl("sa_context_workspace_cached")
public func sa_context_workspace_cached_impl(_ ctx: OpaquePointer?, _ bytes: UnsafeMutablePointer<UInt64>?) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    return c.call {
        guard let bytes else { throw SAError(SA_ERR_NULL_ARGUMENT, "bytes is NULL") }
        bytes.pointee = UInt64(c.cache.bytes)
    }
}

// MARK: attention

/// Copies `value` into the caller's struct, honouring the caller's struct_size (older, smaller
/// structs get the fields they know). struct_size 0 is an error.
private func writeVersioned<T>(_ value: T, to pointer: UnsafeMutablePointer<T>?, name: String) throws {
    guard let pointer else { return }
    let size = Int(UnsafeRawPointer(pointer).load(as: UInt32.self))
    guard size >= 8 else { throw SAError(SA_ERR_STRUCT_SIZE, "\(name).struct_size is \(size); set it to sizeof(\(name))") }
    var v = value
    withUnsafeBytes(of: &v) { src in
        UnsafeMutableRawPointer(pointer).advanced(by: 4)
            .copyMemory(from: src.baseAddress! + 4, byteCount: min(size, src.count) - 4)
    }
}

private func checkStatsSize(_ stats: UnsafeMutablePointer<sa_stats>?) throws {
    if let stats, stats.pointee.struct_size < 8 {
        throw SAError(SA_ERR_STRUCT_SIZE, "sa_stats.struct_size is \(stats.pointee.struct_size); set it to sizeof(sa_stats)")
    }
}

private func makeStats(_ plan: Plan, _ threads: Int, attention: Double, total: Double) -> sa_stats {
    var s = sa_stats()
    s.struct_size = UInt32(MemoryLayout<sa_stats>.size)
    s.mode = plan.params.mode
    s.n_heads = Int64(plan.hq)
    s.n_dense_heads = Int64(plan.heads.filter(\.dense).count)
    s.kept_entries = Int64(plan.heads.reduce(0) { $0 + $1.keptEntries })
    s.causal_entries = Int64(plan.heads.reduce(0) { $0 + $1.causalEntries })
    s.density = s.causal_entries == 0 ? 1 : Double(s.kept_entries) / Double(s.causal_entries)
    s.cra_estimate = plan.heads.reduce(0.0) { $0 + $1.craMean } / Double(max(plan.hq, 1))
    s.time_sample_s = plan.timeSample
    s.time_filter_s = plan.timeFilter
    s.time_attention_s = attention
    s.time_total_s = total
    s.fallback_reason = plan.allDense ? plan.fallbackReason : SA_FALLBACK_NONE
    s.n_threads = Int32(threads)
    return s
}

@_cdecl("sa_attention")
public func sa_attention_impl(_ ctx: OpaquePointer?, _ p: UnsafePointer<sa_params>?,
                              _ q: UnsafePointer<sa_tensor>?, _ k: UnsafePointer<sa_tensor>?,
                              _ v: UnsafePointer<sa_tensor>?, _ out: UnsafePointer<sa_tensor>?,
                              _ lse: UnsafeMutablePointer<Float>?, _ stats: UnsafeMutablePointer<sa_stats>?) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    return c.call { try attention(c, threads: c.threads, p, q, k, v, out, lse, stats) }
}

/// sa_attention's work on `threads` workers (the context's OpenMP threads, or a host team).
private func attention(_ c: Context, threads: Int, _ p: UnsafePointer<sa_params>?,
                       _ q: UnsafePointer<sa_tensor>?, _ k: UnsafePointer<sa_tensor>?,
                       _ v: UnsafePointer<sa_tensor>?, _ out: UnsafePointer<sa_tensor>?,
                       _ lse: UnsafeMutablePointer<Float>?, _ stats: UnsafeMutablePointer<sa_stats>?) throws {
    try KernelTable.require()
    let start = sac_now_seconds()
    let params = try Params.decode(p)
    let pb = try Problem(q: q, k: k, v: v, out: out, lse: lse, params: params, needsValues: true)
    try checkStatsSize(stats)
    let ws = Workspace(limit: c.memoryLimit, threads: threads, cache: c.cache)
    let plan = try buildPlan(pb, params, threads: threads, ws: ws, rowMinimum: false)
    let t = sac_now_seconds()
    try runAttention(pb, plan, threads: threads, ws: ws)
    let end = sac_now_seconds()
    try writeVersioned(makeStats(plan, threads, attention: end - t, total: end - start), to: stats, name: "sa_stats")
}

// MARK: plans

private func plan(_ p: OpaquePointer?) -> Plan? {
    p.map { Unmanaged<Plan>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

@_cdecl("sa_plan_create")
public func sa_plan_create_impl(_ ctx: OpaquePointer?, _ p: UnsafePointer<sa_params>?,
                                _ q: UnsafePointer<sa_tensor>?, _ k: UnsafePointer<sa_tensor>?,
                                _ planOut: UnsafeMutablePointer<OpaquePointer?>?) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    return c.call {
        try KernelTable.require()
        guard let planOut else { throw SAError(SA_ERR_NULL_ARGUMENT, "plan_out is NULL") }
        let params = try Params.decode(p)
        let pb = try Problem(q: q, k: k, v: nil, out: nil, lse: nil, params: params, needsValues: false)
        let plan = try buildPlan(pb, params, threads: c.threads, ws: Workspace(limit: c.memoryLimit, threads: c.threads, cache: c.cache), rowMinimum: true)
        planOut.pointee = OpaquePointer(Unmanaged.passRetained(plan).toOpaque())
    }
}

@_cdecl("sa_plan_apply")
public func sa_plan_apply_impl(_ ctx: OpaquePointer?, _ planHandle: OpaquePointer?,
                               _ q: UnsafePointer<sa_tensor>?, _ k: UnsafePointer<sa_tensor>?,
                               _ v: UnsafePointer<sa_tensor>?, _ out: UnsafePointer<sa_tensor>?,
                               _ lse: UnsafeMutablePointer<Float>?, _ stats: UnsafeMutablePointer<sa_stats>?) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    return c.call {
        try KernelTable.require()
        let start = sac_now_seconds()
        guard let plan = plan(planHandle) else { throw SAError(SA_ERR_NULL_ARGUMENT, "plan is NULL") }
        let pb = try Problem(q: q, k: k, v: v, out: out, lse: lse, params: plan.params, needsValues: true)
        guard pb.hq == plan.hq, pb.sq == plan.sq, pb.sk == plan.sk else {
            throw SAError(SA_ERR_PLAN_MISMATCH, "plan is for H_q \(plan.hq), S_q \(plan.sq), S_k \(plan.sk); got H_q \(pb.hq), S_q \(pb.sq), S_k \(pb.sk)")
        }
        try checkStatsSize(stats)
        try runAttention(pb, plan, threads: c.threads, ws: Workspace(limit: c.memoryLimit, threads: c.threads, cache: c.cache))
        let end = sac_now_seconds()
        try writeVersioned(makeStats(plan, c.threads, attention: end - start, total: end - start), to: stats, name: "sa_stats")
    }
}

@_cdecl("sa_plan_free")
public func sa_plan_free_impl(_ p: OpaquePointer?) {
    guard let p else { return }
    Unmanaged<Plan>.fromOpaque(UnsafeRawPointer(p)).release()
}

@_cdecl("sa_plan_shape")
public func sa_plan_shape_impl(_ p: OpaquePointer?, _ nHeads: UnsafeMutablePointer<Int64>?,
                               _ sq: UnsafeMutablePointer<Int64>?, _ sk: UnsafeMutablePointer<Int64>?) -> sa_status {
    guard let plan = plan(p) else { return SA_ERR_NULL_ARGUMENT }
    nHeads?.pointee = Int64(plan.hq)
    sq?.pointee = Int64(plan.sq)
    sk?.pointee = Int64(plan.sk)
    return SA_OK
}

private func head(_ p: OpaquePointer?, _ h: Int64) -> (HeadPlan?, sa_status) {
    guard let plan = plan(p) else { return (nil, SA_ERR_NULL_ARGUMENT) }
    guard h >= 0, h < plan.hq else { return (nil, SA_ERR_INDEX_OUT_OF_RANGE) }
    return (plan.heads[Int(h)], SA_OK)
}

@_cdecl("sa_plan_head_info")
public func sa_plan_head_info_impl(_ p: OpaquePointer?, _ h: Int64, _ info: UnsafeMutablePointer<sa_plan_head>?) -> sa_status {
    let (hp, status) = head(p, h)
    guard let hp else { return status }
    guard let info else { return SA_ERR_NULL_ARGUMENT }
    guard info.pointee.struct_size >= 8 else { return SA_ERR_STRUCT_SIZE }
    var r = sa_plan_head()
    r.dense = hp.dense ? 1 : 0
    r.window = Int64(hp.window)
    r.n_indices = Int64(hp.indices.count)
    r.kept_entries = Int64(hp.keptEntries)
    r.density = hp.density
    r.cra_mean = hp.craMean
    r.cra_min = hp.craMin
    let offsets = hp.diagonalOffsets
    r.block_size = offsets.isEmpty ? 0 : Int64(hp.isSlash ? hp.blockSize : 1)
    r.n_slash_blocks = Int64(offsets.count)
    r.reserved1 = 0
    do { try writeVersioned(r, to: info, name: "sa_plan_head") } catch { return SA_ERR_STRUCT_SIZE }
    return SA_OK
}

@_cdecl("sa_plan_head_indices")
public func sa_plan_head_indices_impl(_ p: OpaquePointer?, _ h: Int64, _ indices: UnsafeMutablePointer<Int64>?,
                                      _ capacity: Int64) -> sa_status {
    let (hp, status) = head(p, h)
    guard let hp else { return status }
    guard capacity >= hp.indices.count, capacity >= 0 else { return SA_ERR_BUFFER_TOO_SMALL }
    if hp.indices.isEmpty { return SA_OK }
    guard let indices else { return SA_ERR_NULL_ARGUMENT }
    for (i, j) in hp.indices.enumerated() { indices[i] = Int64(j) }
    return SA_OK
}

@_cdecl("sa_plan_head_slashes")
public func sa_plan_head_slashes_impl(_ p: OpaquePointer?, _ h: Int64, _ slashes: UnsafeMutablePointer<Int64>?,
                                      _ capacity: Int64) -> sa_status {
    let (hp, status) = head(p, h)
    guard let hp else { return status }
    let s = hp.diagonalOffsets
    guard capacity >= s.count, capacity >= 0 else { return SA_ERR_BUFFER_TOO_SMALL }
    if s.isEmpty { return SA_OK }
    guard let slashes else { return SA_ERR_NULL_ARGUMENT }
    for (i, b) in s.enumerated() { slashes[i] = Int64(b) }
    return SA_OK
}

// MARK: features

@_cdecl("sa_get_features")
public func sa_get_features_impl(_ f: UnsafeMutablePointer<sa_features>?) -> sa_status {
    guard let f else { return SA_ERR_NULL_ARGUMENT }
    guard f.pointee.struct_size >= 8 else { return SA_ERR_STRUCT_SIZE }
    var r = sa_features()
    r.simd_level = sac_cpu_has_avx2_fma() == 1 ? 1 : 0
    r.openmp = sac_has_openmp()
    r.max_threads = sac_max_threads()
    r.max_head_dim = Int32(ShapeLimits.maxHeadDim)
    r.head_dim_multiple = Int32(ShapeLimits.headDimMultiple)
    r.isa = KernelTable.isa
    r.cpu_isa_mask = KernelTable.cpuMask
    do { try writeVersioned(r, to: f, name: "sa_features") } catch { return SA_ERR_STRUCT_SIZE }
    return SA_OK
}

// MARK: host thread teams

/// Every thread of the host's team calls this with the same arguments; thread 0 runs the call
/// (team.c routes its parallel regions to the others) and all return its status.
@_cdecl("sa_attention_team")
public func sa_attention_team_impl(_ ctx: OpaquePointer?, _ p: UnsafePointer<sa_params>?,
                                   _ q: UnsafePointer<sa_tensor>?, _ k: UnsafePointer<sa_tensor>?,
                                   _ v: UnsafePointer<sa_tensor>?, _ out: UnsafePointer<sa_tensor>?,
                                   _ lse: UnsafeMutablePointer<Float>?, _ stats: UnsafeMutablePointer<sa_stats>?,
                                   _ ith: Int32, _ nth: Int32) -> sa_status {
    guard let c = context(ctx) else { return SA_ERR_NULL_ARGUMENT }
    guard let team = c.team else { return SA_ERR_OUT_OF_MEMORY }
    if ith != 0 { return sac_team_serve(team, ith, nth) }
    let opened = sac_team_open(team, nth)
    guard opened == SA_OK else { return opened }
    let status = c.call {
        if sac_team_mismatch(team) != 0 {
            throw SAError(SA_ERR_INVALID_PARAM, "the threads of one sa_attention_team call must pass the same nth and each ith in [0, nth) once")
        }
        try attention(c, threads: Int(nth), p, q, k, v, out, lse, stats)
    }
    return sac_team_close(team, status)
}
