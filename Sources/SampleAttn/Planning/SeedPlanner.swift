import CSampleAttn

/// SA_MODE_SAMPLE, the seed algorithm, one K/V head at a time: stage 1 samples rows and sums
/// their softmax per key (Stage1Sampling), stage 2 picks each query head's stripes
/// (Stage2Filtering), the shared policy unions them over the group and falls back to dense
/// (PlanPolicy), and the sampled rows' CRA over the final mask is estimated (AccuracyEstimates).
/// Each head's window is one of WindowBands' candidates, the one whose mask keeps the fewest entries.
func buildSeedPlan(_ pb: Problem, _ params: Params, threads: Int, ws: Workspace, rowMinimum: Bool) throws -> Plan {
    let sq = pb.sq, sk = pb.sk, G = pb.groupSize
    // ceil(window_ratio * S_k) in float32, the precision the ratio was given in (0.1 * 300 is 30,
    // not 31 as the float32 0.1 widened to double would give); at least 1: a row keeps itself.
    let window = min(sk, max(1, Int((params.windowRatio * Float(sk)).rounded(.up))))
    let causal = HeadPlan.causalEntries(sq: sq, sk: sk)
    let sinkCount = min(params.sinkTokens, sk)
    let rows = SampleRows(sq: sq, ratio: params.sampleRatio, groupSize: params.sampleGroup)
    let split = SampleSplit(rows: rows, folds: params.alphaCorrection > 0 ? PlanningTraits.heldOutFolds : 1)
    let (windows, fullWindow) = WindowBands.windows(from: window, minWindow: params.minWindow,
                                                      wider: PlanningTraits.widerWindows, sk: sk)
    let onTiles = KernelTable.stage1OnTiles(bf16Products: params.bf16Products, dim: pb.dim)
    let buffers = try SeedWorkspace(pb, rows: rows, split: split, windows: windows, fullWindow: fullWindow, withEntries: params.maxDiagonals > 0,
                                    rowMinimum: rowMinimum, bf16Keys: onTiles, threads: threads, ws: ws)
    let positions = rows.groups.flatMap { $0.map { pb.position(ofRow: $0) } }

    var heads = PlannedHeads(count: pb.hq, sq: sq, sk: sk)
    var timeSample = 0.0, timeFilter = 0.0
    let chosen = UnsafeMutablePointer<Stripes>.allocate(capacity: G)
    chosen.initialize(repeating: ([], []), count: G)
    defer { chosen.deinitialize(count: G); chosen.deallocate() }
    let choices = UnsafeMutablePointer<Int>.allocate(capacity: G)    // each head's window: an index into `windows`
    choices.initialize(repeating: 0, count: G)
    defer { choices.deallocate() }
    let indexes = UnsafeMutablePointer<EntryIndex?>.allocate(capacity: G)
    indexes.initialize(repeating: nil, count: G)
    defer { indexes.deinitialize(count: G); indexes.deallocate() }
    let built = UnsafeMutablePointer<HeadPlan>.allocate(capacity: G)
    built.initialize(repeating: HeadPlan.dense(sq: sq, sk: sk), count: G)
    defer { built.deinitialize(count: G); built.deallocate() }
    // The folds of the held-out check (none without alpha_correction or with fewer than 2).
    let nonEmptyFolds = (0..<split.folds).filter { !split.foldRows[$0].isEmpty }
    let checkedFolds = params.alphaCorrection > 0 && nonEmptyFolds.count >= 2 ? nonEmptyFolds : []
    let heldOut = UnsafeMutablePointer<HeldOutFold>.allocate(capacity: max(1, G * checkedFolds.count))
    heldOut.initialize(repeating: HeldOutFold(), count: max(1, G * checkedFolds.count))
    defer { heldOut.deallocate() }
    let candidates = UnsafeMutablePointer<HeadChoice?>.allocate(capacity: G * windows.count)   // per head, per window
    candidates.initialize(repeating: nil, count: G * windows.count)
    defer { candidates.deinitialize(count: G * windows.count); candidates.deallocate() }
    let fewest = UnsafeMutablePointer<Int64>.allocate(capacity: G)   // per head: its cheapest finished candidate's entries
    defer { fewest.deallocate() }
    let indexed = UnsafeMutablePointer<Int32>.allocate(capacity: G)   // per head: 1 once its entry index is built
    defer { indexed.deallocate() }
    let foldsDone = UnsafeMutablePointer<Int32>.allocate(capacity: G) // per head: its finished held-out folds
    defer { foldsDone.deallocate() }

    for kvHead in 0..<pb.hkv {
        let t0 = sac_now_seconds()
        let bandTasks = windows.count > 1 ? G : 0
        parallelFor(threads: threads, tasks: bandTasks) { hl, _ in
            let bands = buffers.bands(hl)
            bands.columns(part: 0, band: 0).update(repeating: 0, count: split.parts * bands.count * buffers.ldS)
        }
        sampleKVGroup(kvHead, problem: pb, rows: rows, split: split, window: window, sinks: sinkCount,
                      threads: threads, ws: buffers)
        // The bands' column sums: the partitions into partition 0, in partition order.
        parallelFor(threads: threads, tasks: bandTasks * (windows.count - 1)) { t, _ in
            let bands = buffers.bands(t / (windows.count - 1)), b = t % (windows.count - 1)
            let total = bands.columns(part: 0, band: b)
            for part in 1..<split.parts { addInto(total, bands.columns(part: part, band: b), buffers.ldS) }
        }
        let t1 = sac_now_seconds()
        timeSample += t1 - t0

        // Stage 2 as one round of tasks, in this order: each head's entry index, the held-out
        // folds of every head (head by head), then one task per head and candidate window, the
        // wider windows' first (they pick fewer columns, and the entries they keep stop the
        // narrower ones that cannot beat them). A task that needs a head's index or all of its
        // folds waits for them: they were handed out before it (sac_parallel_for goes in task
        // order), so the wait ends, and a head's candidates start while other heads' folds run.
        func selection(_ hl: Int) -> HeadSelection {
            HeadSelection(sq: sq, sk: sk, window: window, sinks: sinkCount, positions: positions, entries: buffers.entries(hl),
                          index: indexes[hl], stats: buffers.stats(hl), params: params)
        }
        fewest.update(repeating: .max, count: G)
        indexed.update(repeating: 0, count: G)
        foldsDone.update(repeating: 0, count: G)
        let F = checkedFolds.count, foldTasks = G * F
        parallelFor(threads: threads, tasks: G + foldTasks + G * windows.count) { t, worker in
            if t < G {
                if params.maxDiagonals > 0 {
                    indexes[t] = buffers.entries(t).map { EntryIndex($0, rows: split.allRows, positions: positions, sk: sk) }
                }
                sac_count_done(indexed + t)
            } else if t < G + foldTasks {
                let hl = (t - G) / F, f = checkedFolds[(t - G) % F]
                sac_wait_turn(indexed + hl, 1)
                let fold = SampleFold(columnMass: buffers.foldMass(hl, f), rows: split.foldRows[f], otherRows: split.otherRows[f])
                heldOut[t - G] = selection(hl).heldOut(fold, others: buffers.selectionScratch(worker))
                sac_count_done(foldsDone + hl)
            } else {
                let hl = (t - G - foldTasks) % G, choice = (t - G - foldTasks) / G
                sac_wait_turn(indexed + hl, 1)
                sac_wait_turn(foldsDone + hl, Int32(F))
                let alpha = selection(hl).correctedAlpha(heldOut: UnsafeBufferPointer(start: heldOut + hl * F, count: F))
                candidates[hl * windows.count + choice] = selection(hl).candidate(choice, alpha: alpha, allRows: split.allRows,
                                                                              fewest: fewest + hl,
                                                                              scratch: buffers.selectionScratch(worker))
            }
        }
        for hl in 0..<G {
            let choice = HeadSelection.cheapest(UnsafeBufferPointer(start: candidates + hl * windows.count, count: windows.count))
            chosen[hl] = choice.stripes
            choices[hl] = choice.choice
        }
        if params.shareKVGroup {
            // A head keeps the group's diagonals outside its own window (one inside it is kept).
            let columns = groupUnion((0..<G).map { chosen[$0].columns })
            let diagonals = groupUnion((0..<G).map { chosen[$0].diagonals })
            for hl in 0..<G { chosen[hl] = (columns, diagonals.filter { $0 >= windows[choices[hl]] }) }
        }
        // Each head's plan, its kept entries and (for sa_attention) its estimated CRA, one task
        // per head; then the serial policy.
        parallelFor(threads: threads, tasks: G) { hl, worker in
            var head = HeadPlan(dense: false, window: windows[choices[hl]], indices: Array(0..<sinkCount) + chosen[hl].columns,
                                keptEntries: 0, causalEntries: causal, craMean: 0, craMin: 0,
                                diagonals: chosen[hl].diagonals)
            head.keptEntries = head.seedKeptEntries(sq: sq, sk: sk)
            if !rowMinimum {
                let columnMass = selection(hl).columnMass(choice: choices[hl], scratch: buffers.selectionScratch(worker))
                head.craMean = estimatedCRA(head, stats: buffers.stats(hl), columnMass: columnMass,
                                            entries: buffers.entries(hl), rows: rows, positions: positions,
                                            allRows: split.allRows, sk: sk)
                head.craMin = .nan
            }
            built[hl] = head
        }
        for hl in 0..<G { heads.store(built[hl], at: kvHead * G + hl, params: params) }
        if rowMinimum {
            measureGroupCRA(kvHead, heads: &heads, problem: pb, rows: rows, sinks: sinkCount, threads: threads, ws: buffers)
        }
        timeFilter += sac_now_seconds() - t1
    }
    return Plan(hq: pb.hq, sq: sq, sk: sk, params: params, heads: heads.heads,
                timeSample: timeSample, timeFilter: timeFilter, fallbackReason: heads.fallbackReason)
}
