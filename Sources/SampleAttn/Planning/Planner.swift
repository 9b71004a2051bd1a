import CSampleAttn

/// The plan of a call: dense for SA_MODE_DENSE and for short inputs, else the planner of the
/// mode (SeedPlanner: SA_MODE_SAMPLE; SlashPlanner: SA_MODE_SAMPLE_SLASH). `rowMinimum` asks
/// for the exact per-row CRA (plans a caller inspects); sa_attention does without it.
func buildPlan(_ pb: Problem, _ params: Params, threads: Int, ws: Workspace, rowMinimum: Bool) throws -> Plan {
    if params.mode == SA_MODE_DENSE { return densePlan(pb, params, reason: SA_FALLBACK_NONE) }
    if pb.sk < params.minSeqLen && !params.forceSparse { return densePlan(pb, params, reason: SA_FALLBACK_SHORT) }
    if params.mode == SA_MODE_SAMPLE_SLASH {
        return try buildSlashPlan(pb, params, threads: threads, ws: ws, rowMinimum: rowMinimum)
    }
    return try buildSeedPlan(pb, params, threads: threads, ws: ws, rowMinimum: rowMinimum)
}

/// Every head dense, for `reason`.
func densePlan(_ pb: Problem, _ params: Params, reason: Int32) -> Plan {
    Plan(hq: pb.hq, sq: pb.sq, sk: pb.sk, params: params,
         heads: Array(repeating: HeadPlan.dense(sq: pb.sq, sk: pb.sk), count: pb.hq),
         timeSample: 0, timeFilter: 0, fallbackReason: reason)
}
